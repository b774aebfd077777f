"""Instances: searching by a data field, and the way an instance went (``/path``)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.app.builders import INCIDENT_AT_START, assert_error, order

ROUTED = {
    "format": 1,
    "name": "Routed",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "stage": "Received"},
        {
            "id": "lane",
            "type": "decision",
            "name": "Pick a lane",
            "inputs": ["total"],
            "rules": [
                {"when": ["> 500"], "then": {"speed": "express"}},
                {"when": ["-"], "then": {"speed": "normal"}},
            ],
            "output": "route",
        },
        {"id": "gate", "type": "exclusive", "name": "Large?"},
        {
            "id": "review",
            "type": "user_task",
            "name": "Review",
            "assignee": {"role": "sales"},
            "stage": "In review",
        },
        {"id": "wait", "type": "timer", "name": "Cool off", "duration": "PT2H"},
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "e0", "from": "start", "to": "lane"},
        {"id": "e1", "from": "lane", "to": "gate"},
        {
            "id": "big",
            "from": "gate",
            "to": "review",
            "condition": "total >= 1000",
            "label": "Large",
        },
        {"id": "small", "from": "gate", "to": "wait", "default": True, "label": "Small"},
        {"id": "e4", "from": "review", "to": "end"},
        {"id": "e5", "from": "wait", "to": "end"},
    ],
}


def publish(admin: TestClient, key: str, draft: dict[str, Any]) -> None:
    assert admin.post("/api/workflows", json={"key": key, "draft": draft}).status_code == 201
    published = admin.post(f"/api/workflows/{key}/publish")
    assert published.status_code == 201, published.text


def found(client: TestClient, **params: Any) -> set[str]:
    response = client.get("/api/instances", params=params)
    assert response.status_code == 200, response.text
    return {i["business_key"] for i in response.json()["items"]}


def test_instances_are_found_by_a_data_field_as_text_number_or_yes_no(login):
    admin = login("admin")
    publish(admin, "plain", {**ROUTED, "nodes": ROUTED["nodes"], "name": "Plain"})
    for data in (
        {**order("1001"), "gift": True},
        {**order("F-2", total=1001), "gift": False},
        {**order("F-3"), "customer": {"name": "Bo", "email": "bo@example.com"}},
    ):
        started = admin.post("/api/workflows/order-management/instances", json={"data": data})
        assert started.status_code == 201, started.text

    assert found(admin, field="order_id", value="1001") == {"1001"}  # the text "1001"
    assert found(admin, field="total", value="1001") == {"F-2"}  # the number 1001
    assert found(admin, field="total", value="1001.0") == {"F-2"}
    assert found(admin, field="gift", value="true") == {"1001"}
    assert found(admin, field="gift", value="false") == {"F-2"}
    assert found(admin, field="customer.email", value="bo@example.com") == {"F-3"}
    assert found(admin, field="items.0.sku", value="MUG-01") == {"1001", "F-2", "F-3"}
    assert found(admin, field="items.1.sku", value="MUG-01") == set()
    assert found(admin, field="payment.method", value="card", workflow="order-management") == {
        "1001",
        "F-2",
        "F-3",
    }
    assert found(admin, field="order_id=F-2") == {"F-2"}  # the older name=value form
    for params in (
        {"field": "customer..email", "value": "x"},
        {"field": "customer.e'mail", "value": "x"},
        {"field": "a.b.c.d.e.f.g.h.i.j.k", "value": "x"},
        {"value": "x"},
        {"field": "order_id"},
    ):
        assert_error(admin.get("/api/instances", params=params), 422, "invalid_request")


def test_the_path_shows_the_way_taken_the_decisions_and_where_it_waits(login):
    admin, sam = login("admin"), login("sam")
    publish(admin, "routed", ROUTED)
    large = sam.post("/api/workflows/routed/instances", json={"data": {"total": 1500}}).json()
    small = sam.post("/api/workflows/routed/instances", json={"data": {"total": 20}}).json()

    path = sam.get(f"/api/instances/{large['id']}/path")
    assert path.status_code == 200, path.text
    way = path.json()
    assert [s["node"] for s in way["steps"]] == ["start", "lane", "gate", "review"]
    assert [s["name"] for s in way["steps"]] == ["Start", "Pick a lane", "Large?", "Review"]
    assert [s["edge"] for s in way["steps"]] == [None, "e0", "e1", "big"]
    assert [(e["id"], e["from"], e["to"], e["label"]) for e in way["edges"]] == [
        ("e0", "start", "lane", None),
        ("e1", "lane", "gate", None),
        ("big", "gate", "review", "Large"),
    ]
    (waiting,) = way["waiting"]
    assert (waiting["node"], waiting["kind"], waiting["since"]) == (
        "review",
        "task",
        way["steps"][-1]["at"],
    )
    assert [t["name"] for t in waiting["tasks"]] == ["Review"]
    lane, gate = way["decisions"]
    assert (lane["kind"], lane["inputs"], lane["output"]) == (
        "decision",
        {"total": 1500},
        {"speed": "express"},
    )
    assert lane["reason"] == "rule 1 matched: {'speed': 'express'}"
    assert (gate["node"], gate["inputs"], gate["chosen"]) == ("gate", {"total": 1500}, ["big"])
    assert gate["evaluated"] == [{"edge": "big", "condition": "total >= 1000", "result": True}]
    assert gate["reason"] == "total >= 1000 held, so “Large”"
    assert way["stage"] == "In review"

    other = sam.get(f"/api/instances/{small['id']}/path").json()
    (waiting,) = other["waiting"]
    assert (waiting["node"], waiting["kind"], waiting["tasks"]) == ("wait", "timer", [])
    assert waiting["until"] is not None
    lane, gate = other["decisions"]
    assert lane["reason"] == "rule 2 matched: {'speed': 'normal'}"
    assert gate["reason"] == "none of total >= 1000 held, so the default: “Small”"

    assert_error(login("walt").get(f"/api/instances/{large['id']}/path"), 404, "not_found")
    assert admin.get(f"/api/instances/{large['id']}/path").status_code == 200


def test_the_incident_list_shows_open_incidents_across_instances_newest_first(login):
    admin = login("admin")
    draft = {**INCIDENT_AT_START}
    publish(admin, "stuck-a", {**draft, "key": "stuck-a"})
    publish(admin, "stuck-b", {**draft, "key": "stuck-b"})
    started = [
        admin.post(f"/api/workflows/{key}/instances", json={"data": {}}).json()["id"]
        for key in ("stuck-a", "stuck-a", "stuck-b")
    ]

    page = admin.get("/api/incidents").json()
    assert page["total"] == 3
    assert [x["instance"]["id"] for x in page["items"]] == started[::-1]
    assert {x["code"] for x in page["items"]} == {"missing_data"}
    only_b = admin.get("/api/incidents", params={"workflow": "stuck-b"}).json()
    assert [x["instance"]["id"] for x in only_b["items"]] == [started[2]]
    assert admin.get("/api/incidents", params={"code": "other"}).json()["total"] == 0

    cancelled = admin.post(f"/api/instances/{started[0]}/cancel", json={"reason": "test"})
    assert cancelled.status_code == 200, cancelled.text
    assert admin.get("/api/incidents").json()["total"] == 2
    closed = admin.get("/api/incidents", params={"status": "closed"}).json()
    assert [x["instance"]["id"] for x in closed["items"]] == [started[0]]
    assert admin.get("/api/incidents", params={"status": "all", "limit": 1}).json()["total"] == 3
    assert_error(admin.get("/api/incidents", params={"status": "lost"}), 422)
