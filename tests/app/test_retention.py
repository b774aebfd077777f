"""Retention: finished instances older than a workflow's retention go, in batches, while live
work goes on between the batches."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from app import clock
from app.db.models import AuditEvent, Instance, Task, Workflow
from app.services import retention
from tests.app.builders import PDF, upload

ORDER = {
    "order_id": "R-1",
    "customer": {"name": "Ada", "email": "ada@example.com"},
    "items": [{"sku": "MUG-01", "quantity": 1}],
    "total": 20,
    "payment": {"method": "invoice"},
}


def _finished_instances(app: Any, count: int, *, days_ago: int, with_tasks: int = 0) -> None:
    """``count`` finished order instances, written in bulk as the engine would have left them."""
    finished = clock.now() - timedelta(days=days_ago)
    state = {"status": "completed", "data": {"order_id": "old"}, "tokens": {}}
    with app.state.sessionmaker() as session:
        for start in range(0, count, 5000):
            rows = [
                {
                    "id": uuid.uuid4().hex,
                    "workflow_key": "order-management",
                    "workflow_version": 1,
                    "status": "completed",
                    "suspended": False,
                    "stage": "Delivered",
                    "state": state,
                    "version": 1,
                    "tracking_token": uuid.uuid4().hex,
                    "started_at": finished - timedelta(days=2),
                    "updated_at": finished,
                    "finished_at": finished,
                    "open_incidents": 0,
                }
                for _ in range(min(5000, count - start))
            ]
            session.execute(insert(Instance), rows)
            if start == 0 and with_tasks:
                session.execute(
                    insert(Task),
                    [
                        {
                            "id": uuid.uuid4().hex,
                            "engine_id": "t1",
                            "instance_id": row["id"],
                            "workflow_key": "order-management",
                            "node": "pick",
                            "name": "Pick the items",
                            "status": "completed",
                            "created_at": finished - timedelta(days=1),
                            "completed_at": finished,
                        }
                        for row in rows[:with_tasks]
                    ],
                )
                session.execute(
                    insert(AuditEvent),
                    [
                        {"at": finished, "action": "instance.completed", "instance_id": row["id"]}
                        for row in rows[:with_tasks]
                    ],
                )
            session.commit()


def _count(app: Any, *where: Any) -> int:
    with app.state.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(Instance).where(*where)) or 0)


def test_a_workflow_keeps_everything_until_an_admin_sets_a_retention(app, login, tmp_path):
    _finished_instances(app, 10, days_ago=400)
    swept = retention.sweep(app.state.sessionmaker, now=clock.now(), archive_dir=tmp_path)
    assert swept.total == 0
    assert _count(app) == 10


def test_purging_100000_finished_instances_in_batches_lets_live_work_in_between(
    app, login, tmp_path
):
    admin = login("admin")
    sam = login("sam")
    _finished_instances(app, 100_000, days_ago=120, with_tasks=1000)
    _finished_instances(app, 50, days_ago=10)  # younger than the retention: kept
    live = sam.post("/api/workflows/order-management/instances", json={"data": ORDER})
    assert live.status_code == 201
    answer = admin.put(
        "/api/admin/retention/order-management", json={"days": 90, "action": "purge"}
    )
    assert answer.status_code == 200, answer.text

    started_between_batches: list[int] = []

    def live_work(batch: int) -> None:
        if batch % 50 == 1:  # a person starts an order while the sweep is under way
            response = sam.post("/api/workflows/order-management/instances", json={"data": ORDER})
            started_between_batches.append(response.status_code)

    swept = retention.sweep(
        app.state.sessionmaker,
        now=clock.now(),
        archive_dir=tmp_path,
        batch=1000,
        after_batch=live_work,
    )

    assert swept.removed == {"order-management": 100_000}
    assert started_between_batches == [201, 201]
    assert _count(app) == 50 + 1 + 2
    assert _count(app, Instance.status == "running") == 3
    with app.state.sessionmaker() as session:
        assert (
            session.scalar(select(func.count()).select_from(Task).where(Task.node == "pick")) == 0
        )
        orphans = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "instance.completed")
        )
        assert orphans == 0
        purged = session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "instance.purged")
        ).all()
        assert sum(d["count"] for d in purged) == 100_000


def test_archiving_writes_each_instance_with_its_tasks_before_removing_it(app, login, tmp_path):
    admin = login("admin")
    _finished_instances(app, 30, days_ago=40, with_tasks=30)
    assert (
        admin.put(
            "/api/admin/retention/order-management", json={"days": 30, "action": "archive"}
        ).status_code
        == 200
    )
    answer = admin.post("/api/admin/retention/sweep")
    assert answer.status_code == 200, answer.text
    assert answer.json()["removed"] == {"order-management": 30}
    (path,) = answer.json()["archived_to"]
    with open(path, encoding="utf-8") as archive:
        lines = [json.loads(line) for line in archive]
    assert len(lines) == 30
    assert all(
        len(line["tasks"]) == 1 and line["instance"]["stage"] == "Delivered" for line in lines
    )
    assert _count(app) == 0


def test_retention_is_for_admins_and_refuses_nonsense(app, login):
    walt = login("walt")
    assert walt.put("/api/admin/retention/order-management", json={"days": 30}).status_code == 403
    admin = login("admin")
    bad = admin.put("/api/admin/retention/order-management", json={"days": 0})
    assert bad.status_code == 422
    assert bad.json()["error"]
    assert admin.put("/api/admin/retention/nope", json={"days": 5}).status_code == 404
    listed = {r["workflow"]: r for r in admin.get("/api/admin/retention").json()}
    assert listed["order-management"] == {
        "workflow": "order-management",
        "days": None,
        "action": "archive",
    }
    with app.state.sessionmaker() as session:
        assert session.get(Workflow, "order-management").retention_days is None


def test_archiving_keeps_document_contents_in_the_archive_and_frees_unshared_files(
    app, login, settings
):
    admin, sam = login("admin"), login("sam")
    old, other = (
        sam.post("/api/workflows/order-management/instances", json={"data": ORDER}).json()["id"]
        for _ in range(2)
    )
    shared, own = PDF, PDF + b"% only the old order's\n"
    for instance_id, content in ((old, shared), (other, shared), (old, own)):
        assert upload(sam, instance_id, content).status_code == 201
    store = settings.data_dir / "documents"
    digest = {c: hashlib.sha256(c).hexdigest() for c in (shared, own)}
    assert all((store / d[:2] / d).is_file() for d in digest.values())
    assert admin.post(f"/api/instances/{old}/cancel", json={"reason": "test"}).status_code == 200
    with app.state.sessionmaker() as session:
        session.execute(
            update(Instance)
            .where(Instance.id == old)
            .values(finished_at=clock.now() - timedelta(days=100))
        )
        session.commit()
    admin.put("/api/admin/retention/order-management", json={"days": 30, "action": "archive"})

    answer = admin.post("/api/admin/retention/sweep")
    assert answer.json()["removed"] == {"order-management": 1}

    (path,) = answer.json()["archived_to"]
    with open(path, encoding="utf-8") as archive:
        (line,) = [json.loads(text) for text in archive]
    assert sorted(d["sha256"] for d in line["documents"]) == sorted(digest.values())
    kept = Path(path).parent / "documents"
    assert (kept / digest[own]).read_bytes() == own
    assert not (store / digest[own][:2] / digest[own]).exists()  # nobody else had it
    assert (store / digest[shared][:2] / digest[shared]).is_file()  # the other order has it
    (left,) = sam.get(f"/api/instances/{other}/documents").json()
    assert sam.get(f"/api/documents/{left['id']}").content == shared
