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
from tests.app.builders import INCIDENT_AT_START, away, count_then_check, counted, publish
from tests.app.test_channels import linear

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


def test_an_sla_reassignment_to_someone_away_goes_to_their_cover(app: Any, login: Login) -> None:
    admin, walt = login("admin"), login("walt")
    at = datetime.now(UTC)
    away(admin, "wendy", "mia", at)
    escalation = {"after": "PT2H", "action": "reassign", "to": {"user": "wendy"}}
    sla = {"due": "PT1H", "calendar": "24x7", "escalate": [escalation]}
    publish(admin, count_then_check("covered-count", sla=sla))
    instance_id, _ = counted(admin, walt, "covered-count")
    tick(app.state.worker, now=at + timedelta(hours=3))
    (check,) = admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]
    assert check["assignee"] == "mia"
    audit = admin.get("/api/admin/audit", params={"instance_id": instance_id}).json()["items"]
    (escalated,) = [e for e in audit if e["action"] == "sla.escalate"]
    assert "out of office" in escalated["details"]["instead"]


@pytest.mark.parametrize(("to", "holder"), [("walt", None), ("wendy", "wendy")])
def test_an_sla_reassignment_respects_the_four_eyes_rule(
    app: Any, login: Login, to: str, holder: str | None
) -> None:
    admin, walt = login("admin"), login("walt")
    escalation = {"after": "PT2H", "action": "reassign", "to": {"user": to}}
    sla = {"due": "PT1H", "calendar": "24x7", "escalate": [escalation]}
    publish(admin, count_then_check("checked-count", sla=sla))
    instance_id, _ = counted(admin, walt, "checked-count")
    tick(app.state.worker, now=datetime.now(UTC) + timedelta(hours=3))
    (check,) = admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]
    assert check["assignee"] == holder
    audit = admin.get("/api/admin/audit", params={"instance_id": instance_id}).json()["items"]
    (escalated,) = [e for e in audit if e["action"] == "sla.escalate"]
    refused = escalated["details"]["refused"]
    assert (refused is not None) == (holder is None)


def test_admins_hear_of_incidents_once_an_hour_per_workflow_step_and_problem(
    app: Any, login: Login
) -> None:
    admin = login("admin")
    publish(admin, {**INCIDENT_AT_START, "key": "stuck-often"})
    for _ in range(3):
        started = admin.post("/api/workflows/stuck-often/instances", json={"data": {}})
        assert started.json()["open_incidents"] == 1
    tick(app.state.worker, now=datetime.now(UTC))
    titles = [n["title"] for n in admin.get("/api/notifications").json()["items"]]
    told = [t for t in titles if t.startswith("Incident in stuck-often")]
    assert len(told) == 1, titles
    assert "missing_data" in told[0]


def _named(key: str, business_key: str) -> dict[str, Any]:
    """start → a task for sam → end, its requests named by ``business_key``."""
    return {**linear(key), "business_key": business_key}


def test_a_workflow_names_its_requests_by_its_business_key_template(login: Login) -> None:
    admin = login("admin")
    publish(admin, _named("named", "{{ item }} from  {{ supplier }}"))
    started = admin.post(
        "/api/workflows/named/instances",
        json={"data": {"item": "Laptop", "supplier": "Dell", "reference": "R-9"}},
    )
    assert started.status_code == 201, started.text
    shown = admin.get(f"/api/instances/{started.json()['id']}").json()
    assert shown["business_key"] == "Laptop from Dell"
    found = admin.get("/api/instances", params={"business_key": "Laptop from Dell"}).json()
    assert [i["id"] for i in found["items"]] == [started.json()["id"]]
    inbox = login("sam").get("/api/inbox").json()["items"]
    assert [t["business_key"] for t in inbox] == ["Laptop from Dell"]


def test_a_business_key_that_renders_nothing_or_fails_falls_back_and_the_start_goes_on(
    login: Login,
) -> None:
    admin = login("admin")
    publish(admin, _named("unnamed", "{{ missing }}"))
    publish(admin, _named("failing", "{{ item.size.width }}"))
    blank = admin.post("/api/workflows/unnamed/instances", json={"data": {"reference": "R-1"}})
    assert blank.status_code == 201, blank.text
    assert admin.get(f"/api/instances/{blank.json()['id']}").json()["business_key"] == "R-1"
    publish(admin, _named("half-named", "{{ item }} from {{ supplier }}"))
    half = admin.post(
        "/api/workflows/half-named/instances", json={"data": {"item": "Pen", "reference": "R-2"}}
    )
    assert half.status_code == 201, half.text
    # not "Pen from": a name is made only when every field it reads has a value
    assert admin.get(f"/api/instances/{half.json()['id']}").json()["business_key"] == "R-2"
    failed = admin.post("/api/workflows/failing/instances", json={"data": {"item": "Pen"}})
    assert failed.status_code == 201, failed.text
    assert admin.get(f"/api/instances/{failed.json()['id']}").json()["business_key"] is None


def test_a_business_key_template_that_does_not_parse_is_a_problem_before_publishing(
    login: Login,
) -> None:
    admin = login("admin")
    draft = _named("badly-named", "{{ item ")
    assert (
        admin.post("/api/workflows", json={"key": "badly-named", "draft": draft}).status_code == 201
    )
    refused = admin.post("/api/workflows/badly-named/publish")
    assert refused.status_code == 422, refused.text
    problems = [(p["code"], p["field"], p["node"]) for p in refused.json()["error"]["details"]]
    assert ("bad_template", "business_key", None) in problems
