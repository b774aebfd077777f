"""Persisting steps (``app/services/runner.py``): a chain of table steps in one command is
bounded, and what exceeds it is refused without being carried out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

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
