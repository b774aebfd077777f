"""An order from start to "Delivered" through the HTTP API alone, on both databases.

The payment gateway and the carrier are small local HTTP servers; the workers
run by explicit ticks, with no sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services.outbox import tick
from tests.app.fakes import FakeEdge, fake_edge

ORDER = {
    "order_id": "A-2001",
    "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+4915100000"},
    "items": [{"sku": "MUG-01", "quantity": 3, "price": 400}],
    "total": 1200,
    "payment": {"method": "card", "reference": "pi_123"},
}


@pytest.fixture
def edge() -> Iterator[FakeEdge]:
    with fake_edge() as running:
        yield running


@pytest.fixture
def app(settings, edge):  # overrides conftest's app: the workflow's systems point at the fakes
    application = create_app(
        replace(settings, extra={"payment_url": edge.url, "carrier_url": edge.url})
    )
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def only_task(client: TestClient, **params: Any) -> dict[str, Any]:
    page = client.get("/api/tasks", params=params).json()
    assert page["total"] == 1, page
    task: dict[str, Any] = page["items"][0]
    return task


def test_an_order_runs_to_delivered_through_the_api(app, login, edge):
    worker = app.state.worker
    sam, mia, walt, wendy, shay, admin = (
        login(u) for u in ("sam", "mia", "walt", "wendy", "shay", "admin")
    )

    started = sam.post("/api/workflows/order-management/instances", json={"data": ORDER})
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]

    review = only_task(sam)
    assert review["node"] == "review"
    assert walt.get("/api/tasks").json()["total"] == 0
    r = sam.post(f"/api/tasks/{review['id']}/complete", json={"outcome": "approve"})
    assert r.status_code == 200, r.text

    tick(worker, now=datetime.now(UTC))  # payment capture goes out and its answer comes back
    assert [x["path"] for x in edge.requests] == ["/captures"]
    assert edge.requests[0]["body"]["order_id"] == "A-2001"

    pick = only_task(mia)  # least loaded warehouse member; equals by name: mia, walt, wendy
    assert (pick["node"], pick["assignee"]) == ("pick", "mia")
    assert (
        walt.post(f"/api/tasks/{pick['id']}/complete", json={"data": {"picked": True}}).status_code
        == 404
    )
    detail = mia.get(f"/api/tasks/{pick['id']}").json()
    assert detail["form"]["required"] == ["picked"]
    bad = mia.post(f"/api/tasks/{pick['id']}/complete", json={"data": {"picked": "yes"}})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_form"
    assert (
        mia.post(f"/api/tasks/{pick['id']}/complete", json={"data": {"picked": True}}).status_code
        == 200
    )

    pack = only_task(wendy)  # four eyes: offered to the warehouse pool, but not to mia
    assert pack["node"] == "pack"
    assert only_task(walt)["id"] == pack["id"]
    assert mia.get("/api/tasks").json()["total"] == 0
    assert mia.post(f"/api/tasks/{pack['id']}/claim").status_code == 404
    assert wendy.post(f"/api/tasks/{pack['id']}/claim").status_code == 200
    r = wendy.post(
        f"/api/tasks/{pack['id']}/complete",
        json={"data": {"items_checked": True, "weight_kg": 1.4}},
    )
    assert r.status_code == 200, r.text

    tick(worker, now=datetime.now(UTC))  # the carrier's label
    hand_over = only_task(shay)
    assert sam.get(f"/api/instances/{instance_id}").json()["stage"] == "Ready for shipment"
    assert (
        shay.post(
            f"/api/tasks/{hand_over['id']}/complete", json={"data": {"handed_over": True}}
        ).status_code
        == 200
    )

    instance = admin.get(f"/api/instances/{instance_id}").json()
    assert instance["stage"] == "Shipped"
    tracking = instance["data"]["shipment"]["tracking_number"]
    delivered = admin.post(
        "/api/messages", json={"message": "delivered", "correlation": tracking, "data": {}}
    )
    assert delivered.status_code == 200, delivered.text

    final = sam.get(f"/api/instances/{instance_id}").json()
    assert final["status"] == "completed"
    assert [s["stage"] for s in final["stages"]] == [
        "Received",
        "Paid",
        "Being prepared",
        "Ready for shipment",
        "Shipped",
        "Delivered",
    ]
    story = [
        (e["action"], e["actor"]) for e in sam.get(f"/api/instances/{instance_id}/history").json()
    ]
    assert ("instance.started", "sam") in story
    assert ("task.completed", "mia") in story
    assert ("task.completed", "wendy") in story
    assert ("instance.finished", "admin") in story
    stock = admin.get("/api/tables/inventory/rows", params={"q": "MUG-01"}).json()
    assert stock["items"][0]["values"]["on_hand"] == 117  # 120 seeded, 3 reserved


def test_two_people_completing_the_same_task_one_wins(login):
    sam = login("sam")
    sam2 = login("sam")
    sam.post("/api/workflows/order-management/instances", json={"data": ORDER})
    review = only_task(sam)
    first = sam.post(f"/api/tasks/{review['id']}/complete", json={"outcome": "approve"})
    second = sam2.post(f"/api/tasks/{review['id']}/complete", json={"outcome": "reject"})
    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "task_not_open"


def test_message_nobody_waits_for_is_404(login):
    admin = login("admin")
    r = admin.post("/api/messages", json={"message": "delivered", "correlation": "nope"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "no_waiting_instance"


def test_an_answer_arriving_while_suspended_is_kept_and_delivered_on_resume(app, login, edge):
    from datetime import timedelta

    worker = app.state.worker
    admin = login("admin")
    small = {**ORDER, "order_id": "A-2002", "total": 50}
    instance_id = admin.post(
        "/api/workflows/order-management/instances", json={"data": small}
    ).json()["id"]
    assert (
        admin.post(f"/api/instances/{instance_id}/suspend", json={"reason": "check"}).status_code
        == 200
    )
    tick(worker, now=datetime.now(UTC))  # the capture is called once; its answer waits
    assert [x["path"] for x in edge.requests] == ["/captures"]
    assert admin.get(f"/api/instances/{instance_id}").json()["stage"] == "Received"
    assert (
        admin.post(f"/api/instances/{instance_id}/resume", json={"reason": "ok"}).status_code == 200
    )
    tick(worker, now=datetime.now(UTC) + timedelta(minutes=2))
    assert len(edge.requests) == 1  # not called again
    assert admin.get(f"/api/instances/{instance_id}").json()["stage"] == "Being prepared"
