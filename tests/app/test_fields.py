"""An instance's data fields kept as text beside its state, for reports to group on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import insert, select, text
from starlette.testclient import TestClient

from app.db.engine import make_engine
from app.db.migrate import alembic_config, upgrade
from app.db.models import Instance, InstanceField
from app.services.fields import report_fields
from tests.app.builders import order, start_order


def stored(app: Any, instance_id: str) -> dict[str, str]:
    with app.state.engine.connect() as connection:
        rows = connection.execute(
            select(InstanceField.name, InstanceField.value).where(
                InstanceField.instance_id == instance_id
            )
        )
        return {row.name: row.value for row in rows}


def test_fields_are_top_level_text_numbers_and_yes_no_as_text():
    data = {
        "warehouse": "Leipzig",
        "total": 30,
        "rate": 12.5,
        "express": True,
        "gift": False,
        "note": "x" * 500,
        "customer": {"tier": "gold"},
        "items": [1, 2],
        "missing": None,
        "nan": float("nan"),
        "has space": "no",
        "tracking_url": "/track/abc",
    }
    assert report_fields(data) == {
        "warehouse": "Leipzig",
        "total": "30",
        "rate": "12.5",
        "express": "true",
        "gift": "false",
        "note": "x" * 200,
    }
    assert report_fields(None) == {}


def test_a_started_instance_has_its_fields_and_a_correction_changes_them(
    app: Any, login: Callable[[str], TestClient]
):
    admin = login("admin")
    instance = start_order(admin, {**order("F-1", total=30), "warehouse": "Berlin"})
    assert stored(app, instance["id"]) == {"order_id": "F-1", "total": "30", "warehouse": "Berlin"}

    response = admin.post(
        f"/api/instances/{instance['id']}/data",
        json={
            "data": {"warehouse": "Leipzig", "total": {"net": 25}, "express": True},
            "reason": "moved to another warehouse",
        },
    )
    assert response.status_code == 200, response.text
    assert stored(app, instance["id"]) == {
        "order_id": "F-1",
        "warehouse": "Leipzig",  # changed
        "express": "true",  # new
    }  # and total, now an object, is gone


def test_removing_an_instance_removes_its_fields(app: Any, login: Callable[[str], TestClient]):
    admin = login("admin")
    instance = start_order(admin, order("F-2"))
    assert stored(app, instance["id"])
    with app.state.engine.begin() as connection:
        connection.execute(text("DELETE FROM tasks WHERE instance_id = :i"), {"i": instance["id"]})
        connection.execute(
            text("DELETE FROM audit_events WHERE instance_id = :i"), {"i": instance["id"]}
        )
        connection.execute(text("DELETE FROM instances WHERE id = :i"), {"i": instance["id"]})
    assert stored(app, instance["id"]) == {}


def test_the_migration_fills_in_the_fields_of_instances_already_there(database):
    engine = make_engine(database.url)
    config = alembic_config()
    try:
        with engine.begin() as connection:  # back to before the fields were kept
            config.attributes["connection"] = connection
            command.downgrade(config, "0011")
        with engine.begin() as connection:
            version = connection.scalar(
                text("SELECT published_version FROM workflows WHERE key = 'order-management'")
            )
            connection.execute(
                insert(Instance.__table__),
                [
                    {
                        "id": f"old{n}",
                        "workflow_key": "order-management",
                        "workflow_version": version,
                        "status": "completed",
                        "suspended": False,
                        "state": {"data": {"warehouse": w, "total": 10 * n, "lines": [1]}},
                        "version": 1,
                        "tracking_token": f"token{n}",
                        "started_at": datetime(2026, 1, 1, tzinfo=UTC),
                        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
                        "open_incidents": 0,
                    }
                    for n, w in enumerate(["Berlin", "Leipzig", "Berlin"])
                ],
            )
        upgrade(engine)
        with engine.connect() as connection:
            found = connection.execute(
                select(InstanceField.instance_id, InstanceField.name, InstanceField.value)
                .where(InstanceField.instance_id.like("old%"))
                .order_by(InstanceField.instance_id, InstanceField.name)
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in found] == [
        ("old0", "total", "0"),
        ("old0", "warehouse", "Berlin"),
        ("old1", "total", "10"),
        ("old1", "warehouse", "Leipzig"),
        ("old2", "total", "20"),
        ("old2", "warehouse", "Berlin"),
    ]
