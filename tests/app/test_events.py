"""Outgoing event webhooks (Standard Webhooks): endpoints kept by admins, events written with
the change that caused them, signed deliveries (checked here by recomputing the HMAC), retries
with exponential backoff, 410 disabling the endpoint, two signatures while a secret rotates.
The receiver is a small HTTP server on 127.0.0.1; the outbox runs by explicit ticks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from app.db.models import EventEndpoint, Outbox
from app.services import events, runner
from app.services.outbox import fire_due_timers, tick
from tests.app.test_channels import Recorded, Recorder, recording_server

ALL_TYPES = list(events.EVENT_TYPES)
FLOW = {
    "format": 1,
    "key": "evented",
    "name": "Evented",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "stage": "Received"},
        {
            "id": "check",
            "type": "user_task",
            "name": "Check",
            "stage": "Checking",
            "assignee": {"user": "sam"},
            "sla": {"due": "PT1H", "calendar": "24x7"},
        },
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "check"},
        {"id": "e2", "from": "check", "to": "end"},
    ],
}


@pytest.fixture
def receiver() -> Iterator[Recorder]:
    with recording_server() as running:
        yield running


def register(admin: Any, url: str, types: list[str] | None = None) -> dict[str, Any]:
    made = admin.post(
        "/api/admin/event-endpoints",
        json={"url": url, "event_types": types or ALL_TYPES, "description": "ERP"},
    )
    assert made.status_code == 201, made.text
    endpoint: dict[str, Any] = made.json()
    return endpoint


def publish_flow(admin: Any) -> None:
    assert admin.post("/api/workflows", json={"key": "evented", "draft": FLOW}).status_code == 201
    assert admin.post("/api/workflows/evented/publish").status_code == 201


def start(client: Any) -> str:
    started = client.post("/api/workflows/evented/instances", json={"data": {"n": 1}})
    assert started.status_code == 201, started.text
    instance_id: str = started.json()["id"]
    return instance_id


def verify(request: Recorded, secret: str) -> bool:
    """The Standard Webhooks check, written out: one of the signatures is ours."""
    msg_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = request.headers["webhook-signature"].split(" ")
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (s.partition(",") for s in given)
    )


def event_rows(app: Any) -> list[Outbox]:
    with app.state.sessionmaker() as session:
        return list(
            session.scalars(
                select(Outbox).where(Outbox.kind == "deliver_event").order_by(Outbox.id)
            )
        )


def test_an_endpoint_gets_each_event_signed_the_standard_webhooks_way(app, login, receiver):
    admin, sam = login("admin"), login("sam")
    publish_flow(admin)
    endpoint = register(admin, f"{receiver.url}/erp")
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32

    instance_id = start(sam)
    task = sam.get("/api/tasks").json()["items"][0]
    assert sam.post(f"/api/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    now = datetime.now(UTC)
    tick(app.state.worker, now=now)

    bodies = [json.loads(r.body) for r in receiver.requests]
    assert [b["type"] for b in bodies] == [
        "instance.started",
        "instance.stage_changed",
        "instance.stage_changed",
        "task.created",
        "instance.completed",
    ]
    started, received, checking, created, completed = bodies
    assert started["data"]["instance"]["id"] == instance_id
    assert started["data"]["instance"]["workflow"] == "evented"
    assert started["data"]["instance"]["started_by"] == "sam"
    assert (received["data"]["instance"]["stage"], received["data"]["node"]) == (
        "Received",
        "start",
    )
    assert created["data"]["task"]["id"] == task["id"]
    assert created["data"]["task"]["assignee"] == "sam"
    assert checking["data"]["instance"]["stage"] == "Checking"
    assert completed["data"]["instance"]["status"] == "completed"
    for request in receiver.requests:
        assert request.path == "/erp"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["webhook-timestamp"] == str(int(now.timestamp()))
        assert verify(request, secret)
        assert not verify(request, events.new_secret())
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 5
    assert all(row.status == "done" for row in event_rows(app))
    listed = admin.get("/api/admin/event-endpoints").json()
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    assert listed[0]["secret_prefix"] == secret[:12]
    assert "secret" not in admin.get(f"/api/admin/event-endpoints/{endpoint['id']}").json()


def test_events_are_written_in_the_transaction_of_their_change(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    register(admin, receiver.url, ["instance.started", "task.created"])
    with app.state.sessionmaker() as session:  # a step that rolls back takes its events along
        runner.start_instance(
            session,
            cache=app.state.definitions,
            workflow_key="evented",
            data={"n": 1},
            actor="admin",
            now=datetime.now(UTC),
        )
        queued = select(func.count()).select_from(Outbox).where(Outbox.kind == "deliver_event")
        assert session.scalar(queued) == 2
        session.rollback()
    assert event_rows(app) == []
    instance_id = start(admin)
    rows = event_rows(app)  # committed with the start, before any worker ran
    assert [r.payload["type"] for r in rows] == ["instance.started", "task.created"]
    assert {r.instance_id for r in rows} == {instance_id}
    assert receiver.requests == []


def test_an_endpoint_gets_only_the_types_it_asked_for(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    register(admin, receiver.url, ["instance.completed"])
    start(admin)
    tick(app.state.worker, now=datetime.now(UTC))
    assert receiver.requests == []
    assert event_rows(app) == []


def test_a_cancelled_instance_is_an_event_of_its_own(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    register(admin, receiver.url, ["instance.cancelled"])
    instance_id = start(admin)
    cancelled = admin.post(f"/api/instances/{instance_id}/cancel", json={"reason": "duplicate"})
    assert cancelled.status_code == 200, cancelled.text
    tick(app.state.worker, now=datetime.now(UTC))
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "instance.cancelled"
    assert body["data"]["instance"]["id"] == instance_id
    assert body["data"]["instance"]["status"] == "cancelled"


def test_an_overdue_task_is_an_event(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    register(admin, receiver.url, ["task.overdue"])
    start(admin)
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    assert fire_due_timers(app.state.worker, now=later) == 1
    tick(app.state.worker, now=later)
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "task.overdue"
    assert body["data"]["task"]["node"] == "check"


def test_a_failed_delivery_is_retried_with_exponential_backoff_under_the_same_id(
    app, login, receiver
):
    admin = login("admin")
    publish_flow(admin)
    endpoint = register(admin, receiver.url, ["instance.started"])
    receiver.statuses = [500, 503, 204]
    start(admin)
    t0 = datetime.now(UTC)
    tick(app.state.worker, now=t0)
    (row,) = event_rows(app)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    assert row.next_attempt_at == t0 + timedelta(seconds=30)
    tick(app.state.worker, now=t0 + timedelta(seconds=29))
    assert len(receiver.requests) == 1
    t1 = t0 + timedelta(seconds=30)
    tick(app.state.worker, now=t1)
    (row,) = event_rows(app)
    assert row.next_attempt_at == t1 + timedelta(seconds=60)
    t2 = t1 + timedelta(seconds=60)
    tick(app.state.worker, now=t2)
    (row,) = event_rows(app)
    assert (row.status, row.attempts) == ("done", 3)
    first, second, third = receiver.requests
    assert first.body == second.body == third.body
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert [r.headers["webhook-timestamp"] for r in receiver.requests] == [
        str(int(t.timestamp())) for t in (t0, t1, t2)
    ]
    assert all(verify(r, endpoint["secret"]) for r in receiver.requests)
    assert events.backoff(20) == timedelta(hours=6)


def test_an_endpoint_that_answers_410_is_disabled(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    endpoint = register(admin, receiver.url, ["instance.started", "task.created"])
    receiver.statuses = [410]
    start(admin)
    tick(app.state.worker, now=datetime.now(UTC) + timedelta(hours=1))
    assert len(receiver.requests) == 1  # the second event is skipped, not sent
    assert [(r.status, r.attempts) for r in event_rows(app)] == [("failed", 1), ("skipped", 1)]
    shown = admin.get(f"/api/admin/event-endpoints/{endpoint['id']}").json()
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    start(admin)
    assert len(event_rows(app)) == 2  # nothing queued for a disabled endpoint
    on = admin.patch(f"/api/admin/event-endpoints/{endpoint['id']}", json={"enabled": True})
    assert on.status_code == 200, on.text
    assert (on.json()["enabled"], on.json()["disabled_reason"]) == (True, None)
    start(admin)
    assert len(event_rows(app)) == 4


def test_while_a_secret_rotates_deliveries_carry_two_signatures(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    endpoint = register(admin, receiver.url, ["instance.started"])
    old = endpoint["secret"]
    rotated = admin.post(
        f"/api/admin/event-endpoints/{endpoint['id']}/rotate", json={"keep_previous_for": "PT2H"}
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    assert rotated.json()["previous_secret_expires_at"] is not None
    start(admin)
    now = datetime.now(UTC)
    tick(app.state.worker, now=now)
    (during,) = receiver.requests
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(during, old)
    assert verify(during, new)

    start(admin)
    tick(app.state.worker, now=now + timedelta(hours=2, minutes=1))
    after = receiver.requests[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verify(after, new)
    assert not verify(after, old)

    at_once = admin.post(
        f"/api/admin/event-endpoints/{endpoint['id']}/rotate", json={"keep_previous_for": None}
    )
    assert at_once.json()["previous_secret_expires_at"] is None
    start(admin)
    tick(app.state.worker, now=now + timedelta(hours=3))
    assert verify(receiver.requests[2], at_once.json()["secret"])
    assert not verify(receiver.requests[2], new)


def test_a_deleted_endpoint_gets_nothing_more(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    endpoint = register(admin, receiver.url, ["instance.started"])
    start(admin)
    deleted = admin.delete(f"/api/admin/event-endpoints/{endpoint['id']}")
    assert deleted.status_code == 204
    tick(app.state.worker, now=datetime.now(UTC))
    assert receiver.requests == []
    assert [r.status for r in event_rows(app)] == ["skipped"]
    assert admin.get(f"/api/admin/event-endpoints/{endpoint['id']}").status_code == 404


def test_the_subscriber_list_is_read_once_a_second_not_in_every_transaction(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    register(admin, receiver.url, ["instance.started"])
    reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM event_endpoints" in statement:
            reads.append(statement)

    sa_event.listen(app.state.engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            start(admin)
    finally:
        sa_event.remove(app.state.engine, "before_cursor_execute", count)
    assert len(reads) <= 1
    assert len(event_rows(app)) == 3


def test_a_change_to_an_endpoint_counts_at_once_on_the_node_that_made_it(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    start(admin)  # no endpoint yet: the process now holds an empty list
    assert event_rows(app) == []
    endpoint = register(admin, receiver.url, ["instance.started"])
    start(admin)
    assert len(event_rows(app)) == 1
    changed = admin.patch(f"/api/admin/event-endpoints/{endpoint['id']}", json={"enabled": False})
    assert changed.status_code == 200
    start(admin)
    assert len(event_rows(app)) == 1


def test_a_rolled_back_endpoint_is_not_subscribed(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    with app.state.sessionmaker() as session:
        now = datetime.now(UTC)
        session.add(
            EventEndpoint(
                url=receiver.url,
                event_types=["instance.started"],
                secret=events.new_secret(),
                enabled=True,
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        assert [types for _, types in events._subscribers(session)] == [
            frozenset({"instance.started"})
        ]
        session.rollback()
    start(admin)
    assert event_rows(app) == []


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x", "event_types": ["task.created"]},
        {"url": "https://example.com/x", "event_types": ["task.deleted"]},
        {"url": "https://example.com/x", "event_types": []},
        {"url": "https://example.com/x", "event_types": ["task.created"], "secret": "mine"},
        {"url": "https:// spaced", "event_types": ["task.created"]},
    ],
)
def test_bad_endpoints_are_refused_with_a_json_error(login, body):
    admin = login("admin")
    refused = admin.post("/api/admin/event-endpoints", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("keep", ["P2M", "P31D", "soon", "-PT1H"])
def test_a_bad_rotation_grace_is_refused(app, login, keep):
    admin = login("admin")
    endpoint = register(admin, "https://example.com/hook")
    refused = admin.post(
        f"/api/admin/event-endpoints/{endpoint['id']}/rotate", json={"keep_previous_for": keep}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_request"
    with app.state.sessionmaker() as session:
        stored = session.scalar(select(EventEndpoint.secret))
        assert stored == endpoint["secret"]  # unchanged
        assert session.scalar(select(func.count()).select_from(EventEndpoint)) == 1


# --- the delivery log -----------------------------------------------------------------------


def deliveries(admin: Any, endpoint_id: str, **params: Any) -> dict[str, Any]:
    listed = admin.get(f"/api/admin/event-endpoints/{endpoint_id}/deliveries", params=params)
    assert listed.status_code == 200, listed.text
    page: dict[str, Any] = listed.json()
    return page


def retry(admin: Any, endpoint_id: str, delivery_id: int) -> Any:
    return admin.post(
        f"/api/admin/event-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry", json={}
    )


def test_the_delivery_log_lists_an_endpoints_deliveries_newest_first(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    endpoint = register(admin, f"{receiver.url}/erp", ["instance.started", "task.created"])
    other = register(admin, f"{receiver.url}/crm", ["instance.started"])
    assert deliveries(admin, endpoint["id"]) == {"items": [], "total": 0, "offset": 0, "limit": 50}
    receiver.statuses = [500]  # the first request (erp's instance.started) fails once
    instance_id = start(admin)
    t0 = datetime.now(UTC)
    tick(app.state.worker, now=t0)

    page = deliveries(admin, endpoint["id"])
    assert page["total"] == 2
    task_created, started = page["items"]
    assert (task_created["event_type"], task_created["status"]) == ("task.created", "delivered")
    assert (task_created["attempts"], task_created["last_error"]) == (1, None)
    assert datetime.fromisoformat(task_created["delivered_at"]) == t0
    assert task_created["next_attempt_at"] is None
    assert (started["event_type"], started["status"]) == ("instance.started", "pending")
    assert (started["attempts"], started["last_error"]) == (1, "HTTP 500")
    assert started["delivered_at"] is None
    assert datetime.fromisoformat(started["next_attempt_at"]) == t0 + timedelta(seconds=30)
    assert {d["instance_id"] for d in page["items"]} == {instance_id}
    sent = {r.path: r.headers["webhook-id"] for r in receiver.requests}
    assert task_created["event_id"] == sent["/erp"]  # the last one sent to /erp
    assert [d["event_type"] for d in deliveries(admin, other["id"])["items"]] == [
        "instance.started"
    ]

    tick(app.state.worker, now=t0 + timedelta(seconds=30))
    started = deliveries(admin, endpoint["id"])["items"][1]
    assert (started["status"], started["attempts"], started["last_error"]) == (
        "delivered",
        2,
        None,
    )


def test_the_delivery_log_filters_by_status_and_pages(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    endpoint = register(admin, receiver.url, ["instance.started"])
    receiver.statuses = [200, 500]
    for _ in range(3):
        start(admin)
    tick(app.state.worker, now=datetime.now(UTC))  # the first delivered, the second not yet

    def statuses(status: str) -> list[str]:
        return [d["status"] for d in deliveries(admin, endpoint["id"], status=status)["items"]]

    assert statuses("all") == ["delivered", "pending", "delivered"]
    assert statuses("pending") == ["pending"]
    assert statuses("delivered") == statuses("done") == ["delivered", "delivered"]
    assert statuses("failed") == []
    everything = deliveries(admin, endpoint["id"])["items"]
    second = deliveries(admin, endpoint["id"], limit=1, offset=1)
    assert (second["total"], second["limit"], second["offset"]) == (3, 1, 1)
    assert [d["id"] for d in second["items"]] == [everything[1]["id"]]


def test_a_delivery_that_failed_for_good_can_be_sent_again(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    endpoint = register(admin, receiver.url, ["instance.started"])
    receiver.statuses = [500] * events.MAX_ATTEMPTS
    start(admin)
    t0 = datetime.now(UTC)
    for attempt in range(events.MAX_ATTEMPTS):  # 6 h is the longest wait between attempts
        tick(app.state.worker, now=t0 + attempt * timedelta(hours=7))
    (failed,) = deliveries(admin, endpoint["id"], status="failed")["items"]
    assert failed["attempts"] == events.MAX_ATTEMPTS
    assert failed["last_error"] == f"gave up after {events.MAX_ATTEMPTS} attempts: HTTP 500"
    assert failed["next_attempt_at"] is None

    retried = retry(admin, endpoint["id"], failed["id"])
    assert retried.status_code == 200, retried.text
    shown = retried.json()
    assert (shown["status"], shown["attempts"], shown["last_error"]) == ("pending", 0, None)
    assert datetime.fromisoformat(shown["next_attempt_at"]) <= datetime.now(UTC)
    later = t0 + events.MAX_ATTEMPTS * timedelta(hours=7)
    tick(app.state.worker, now=later)
    (delivered,) = deliveries(admin, endpoint["id"])["items"]
    assert (delivered["status"], delivered["attempts"]) == ("delivered", 1)
    assert datetime.fromisoformat(delivered["delivered_at"]) == later
    assert len(receiver.requests) == events.MAX_ATTEMPTS + 1
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # the same event
    assert all(verify(r, endpoint["secret"]) for r in receiver.requests)

    again = retry(admin, endpoint["id"], failed["id"])
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "not_retryable"
    audited = admin.get("/api/admin/audit", params={"action": "event_delivery.retried"}).json()
    (entry,) = audited["items"]
    assert entry["actor"] == "admin"
    assert entry["details"]["delivery"] == failed["id"]
    assert entry["details"]["was"] == "failed"
    assert entry["details"]["last_error"] == failed["last_error"]


def test_deliveries_held_back_by_a_disabled_endpoint_are_sent_once_it_is_on(app, login, receiver):
    admin = login("admin")
    publish_flow(admin)
    endpoint = register(admin, receiver.url, ["instance.started", "task.created"])
    receiver.statuses = [410]
    start(admin)
    tick(app.state.worker, now=datetime.now(UTC))
    skipped, gone = deliveries(admin, endpoint["id"])["items"]
    assert (skipped["status"], skipped["last_error"]) == ("skipped", "the endpoint is disabled")
    assert (gone["status"], gone["last_error"]) == (
        "failed",
        "HTTP 410: the endpoint is gone; disabled",
    )
    refused = retry(admin, endpoint["id"], gone["id"])
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "endpoint_disabled"

    admin.patch(f"/api/admin/event-endpoints/{endpoint['id']}", json={"enabled": True})
    for delivery in (gone, skipped):
        assert retry(admin, endpoint["id"], delivery["id"]).status_code == 200
    tick(app.state.worker, now=datetime.now(UTC) + timedelta(seconds=1))
    assert [d["status"] for d in deliveries(admin, endpoint["id"])["items"]] == [
        "delivered",
        "delivered",
    ]
    assert len(receiver.requests) == 3


def test_the_delivery_log_is_for_admins_and_known_endpoints_only(app, login, receiver):
    admin, sam = login("admin"), login("sam")
    publish_flow(admin)
    endpoint = register(admin, receiver.url, ["instance.started"])
    other = register(admin, receiver.url, ["task.created"])
    start(admin)
    (delivery,) = deliveries(admin, endpoint["id"])["items"]
    base = f"/api/admin/event-endpoints/{endpoint['id']}/deliveries"

    assert sam.get(base).status_code == 403
    assert sam.post(f"{base}/{delivery['id']}/retry", json={}).status_code == 403
    for missing in (
        admin.get("/api/admin/event-endpoints/nope/deliveries"),
        retry(admin, "nope", delivery["id"]),
        retry(admin, endpoint["id"], delivery["id"] + 1000),
        retry(admin, other["id"], delivery["id"]),  # not this endpoint's
    ):
        assert missing.status_code == 404, missing.text
        assert missing.json()["error"]["code"] == "not_found"
    pending = retry(admin, endpoint["id"], delivery["id"])
    assert pending.status_code == 409
    assert pending.json()["error"]["code"] == "not_retryable"
    for params in ({"status": "sent"}, {"limit": 0}, {"limit": 201}, {"offset": -1}):
        refused = admin.get(base, params=params)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_request"
