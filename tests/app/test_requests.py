"""New requests (``GET /api/startable``) and my requests (``GET /api/requests``)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.app.builders import assert_error, order


def one_step(
    name: str, trigger: dict[str, Any], form: dict[str, Any] | None = None
) -> dict[str, Any]:
    start: dict[str, Any] = {"id": "start", "type": "start", "name": "Start", "trigger": trigger}
    if form is not None:
        start["form"] = form
    return {
        "format": 1,
        "name": name,
        "description": f"{name}, for the tests",
        "nodes": [start, {"id": "end", "type": "end", "name": "Done"}],
        "edges": [{"id": "e0", "from": "start", "to": "end"}],
    }


def publish(admin: TestClient, key: str, draft: dict[str, Any]) -> None:
    assert admin.post("/api/workflows", json={"key": key, "draft": draft}).status_code == 201
    published = admin.post(f"/api/workflows/{key}/publish")
    assert published.status_code == 201, published.text


def startable(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/api/startable")
    assert response.status_code == 200, response.text
    return {w["key"]: w for w in response.json()}


def test_startable_workflows_respect_start_roles_and_leave_out_scheduled_ones(login):
    admin = login("admin")
    form = {"type": "object", "properties": {"amount": {"type": "number", "title": "Amount"}}}
    publish(admin, "expenses", one_step("Expense claim", {"type": "manual"}, form))
    publish(admin, "budget", one_step("Budget change", {"type": "manual", "roles": ["finance"]}))
    publish(admin, "nightly", one_step("Nightly", {"type": "schedule", "cron": "0 2 * * *"}))
    made = admin.post("/api/workflows", json={"key": "draft-only", "draft": one_step("D", {})})
    assert made.status_code == 201

    sam = startable(login("sam"))
    assert {"expenses", "vacation-request", "order-management"} <= set(sam)
    assert {"budget", "nightly", "draft-only"} & set(sam) == set()
    expenses = sam["expenses"]
    assert (expenses["name"], expenses["description"], expenses["trigger"]) == (
        "Expense claim",
        "Expense claim, for the tests",
        "manual",
    )
    assert expenses["form"] == form
    assert expenses["version"] == 1
    assert sam["order-management"]["data_schema"]["required"][0] == "order_id"
    assert sam["order-management"]["trigger"] == "webhook"
    assert (sam["order-management"]["category"], expenses["category"]) == ("Sales and orders", "")
    # manual ones first, then by name
    keys = list(sam)
    manual = [k for k in keys if sam[k]["trigger"] == "manual"]
    assert keys[: len(manual)] == manual
    assert [sam[k]["name"].lower() for k in manual] == sorted(
        sam[k]["name"].lower() for k in manual
    )

    assert "budget" in startable(login("fiona"))
    assert "budget" in startable(admin)  # admins may start anything


def test_my_requests_are_the_instances_i_started_newest_first(login):
    sam, admin = login("sam"), login("admin")
    first = sam.post("/api/workflows/order-management/instances", json={"data": order("R-1")})
    second = sam.post("/api/workflows/order-management/instances", json={"data": order("R-2")})
    others = admin.post("/api/workflows/order-management/instances", json={"data": order("R-3")})
    assert {first.status_code, second.status_code, others.status_code} == {201}
    cancelled = sam.post(f"/api/instances/{first.json()['id']}/cancel", json={"reason": "oops"})
    assert cancelled.status_code == 200, cancelled.text

    mine = sam.get("/api/requests").json()
    assert mine["total"] == 2
    assert [r["business_key"] for r in mine["items"]] == ["R-2", "R-1"]
    newest = mine["items"][0]
    assert newest["workflow_name"] == "Order management"
    assert (newest["status"], newest["stage"]) == ("running", "Received")
    assert newest["started_at"] <= newest["updated_at"]
    assert mine["items"][1]["status"] == "cancelled"
    assert mine["items"][1]["finished_at"] is not None

    running = sam.get("/api/requests", params={"status": "running"}).json()
    assert [r["business_key"] for r in running["items"]] == ["R-2"]
    paged = sam.get("/api/requests", params={"offset": 1, "limit": 1}).json()
    assert (paged["total"], [r["business_key"] for r in paged["items"]]) == (2, ["R-1"])
    assert sam.get("/api/requests", params={"workflow": "vacation-request"}).json()["total"] == 0
    assert login("walt").get("/api/requests").json()["total"] == 0
    assert_error(sam.get("/api/requests", params={"limit": 0}), 422, "invalid_request")
