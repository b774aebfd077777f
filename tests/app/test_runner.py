"""Persisting steps (``app/services/runner.py``): a chain of table steps in one command is
bounded, and what exceeds it is refused without being carried out; an SLA reassignment
keeps to the four-eyes rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.services.outbox import tick
from app.services.runner import MAX_CHAINED_STEPS

Login = Callable[[str], TestClient]


def looping(*, error_edge: bool) -> dict[str, Any]:
    """start → bump (adds 1 to the mug's stock) → again (back to bump while the last one went through) …"""
    edges: list[dict[str, Any]] = [
        {"id": "e1", "from": "start", "to": "bump"},
        {"id": "e2", "from": "bump", "to": "again"},
        {"id": "e3", "from": "again", "to": "bump", "condition": "ok"},
        {"id": "e4", "from": "again", "to": "end", "default": True},
    ]
    if error_edge:
        edges.append({"id": "e5", "from": "bump", "to": "again", "on": "error"})
    return {
        "format": 1,
        "key": "stock-loop",
        "name": "Stock loop",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {
                "id": "bump",
                "type": "table",
                "name": "Bump",
                "table": "inventory",
                "op": "increment",
                "key": {"sku": "'MUG-01'"},
                "values": {"on_hand": "1"},
            },
            {"id": "again", "type": "exclusive", "name": "Again?"},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": edges,
    }


def publish(admin: TestClient, definition: dict[str, Any]) -> None:
    made = admin.post("/api/workflows", json={"key": "stock-loop", "draft": definition})
    assert made.status_code == 201, made.text
    published = admin.post("/api/workflows/stock-loop/publish")
    assert published.status_code == 201, published.text


def mugs(admin: TestClient) -> int:
    rows = admin.get("/api/tables/inventory/rows", params={"limit": 500}).json()["items"]
    on_hand: int = next(r["values"]["on_hand"] for r in rows if r["values"]["sku"] == "MUG-01")
    return on_hand


def test_table_steps_past_the_chain_limit_are_not_carried_out_and_stop_with_an_incident(
    login: Login,
) -> None:
    admin = login("admin")
    publish(admin, looping(error_edge=False))
    before = mugs(admin)
    started = admin.post("/api/workflows/stock-loop/instances", json={"data": {}})
    assert started.status_code == 201, started.text
    instance = started.json()
    assert instance["status"] == "running"
    assert [(i["node"], i["code"]) for i in instance["incidents"]] == [("bump", "table_failed")]
    assert "not carried out" in instance["incidents"][0]["message"]
    assert mugs(admin) == before + MAX_CHAINED_STEPS


def test_refused_table_steps_that_loop_on_their_error_path_change_nothing(login: Login) -> None:
    admin = login("admin")
    publish(admin, looping(error_edge=True))
    before = mugs(admin)
    started = admin.post("/api/workflows/stock-loop/instances", json={"data": {}})
    assert started.status_code == 409, started.text
    assert started.json()["error"]["code"] == "endless_loop"
    assert mugs(admin) == before
    listed = admin.get("/api/instances", params={"workflow": "stock-loop"}).json()
    assert listed["total"] == 0


def escalating_check(to: str) -> dict[str, Any]:
    """walt counts; someone else in the warehouse checks, escalated to ``to`` after 2 h."""
    return {
        "format": 1,
        "key": "checked-count",
        "name": "Checked count",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "count", "type": "user_task", "name": "Count", "assignee": {"user": "walt"}},
            {
                "id": "check",
                "type": "user_task",
                "name": "Check the count",
                "assignee": {"role": "warehouse", "not_same_as": "count"},
                "sla": {
                    "due": "PT1H",
                    "calendar": "24x7",
                    "escalate": [{"after": "PT2H", "action": "reassign", "to": {"user": to}}],
                },
            },
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "count"},
            {"id": "e2", "from": "count", "to": "check"},
            {"id": "e3", "from": "check", "to": "end"},
        ],
    }


@pytest.mark.parametrize(("to", "holder"), [("walt", None), ("wendy", "wendy")])
def test_an_sla_reassignment_respects_the_four_eyes_rule(
    app: Any, login: Login, to: str, holder: str | None
) -> None:
    admin, walt = login("admin"), login("walt")
    flow = escalating_check(to)
    assert admin.post("/api/workflows", json={"key": flow["key"], "draft": flow}).status_code == 201
    assert admin.post(f"/api/workflows/{flow['key']}/publish").status_code == 201
    started = admin.post(f"/api/workflows/{flow['key']}/instances", json={"data": {}}).json()
    (count,) = started["open_tasks"]
    assert walt.post(f"/api/tasks/{count['id']}/complete", json={"data": {}}).status_code == 200
    tick(app.state.worker, now=datetime.now(UTC) + timedelta(hours=3))
    (check,) = admin.get(f"/api/instances/{started['id']}").json()["open_tasks"]
    assert check["assignee"] == holder
    audit = admin.get("/api/admin/audit", params={"instance_id": started["id"]}).json()["items"]
    (escalated,) = [e for e in audit if e["action"] == "sla.escalate"]
    refused = escalated["details"]["refused"]
    assert (refused is not None) == (holder is None)
