"""The outbox's outbound calls, against a small local payment gateway whose answers the test
scripts: retries with one idempotency key, Retry-After, incidents an admin retries, and
internal addresses refused before any call. Workers run by explicit ticks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from app.db.models import Outbox
from app.main import create_app
from app.services.outbox import LEASE, tick
from engine.model import MAX_HTTP_TIMEOUT_S
from tests.app.builders import publish

ORDER = {
    "order_id": "B-7",
    "customer": {"name": "Ada", "email": "ada@example.com"},
    "items": [{"sku": "MUG-01", "quantity": 1, "price": 20}],
    "total": 20,
    "payment": {"method": "card", "reference": "pi_9"},
}


@dataclass
class Gateway:
    """Answers POSTs with the scripted statuses in turn, then 200 for ever."""

    url: str = ""
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            gw.keys.append(self.headers.get("idempotency-key", ""))
            gw.authorizations.append(self.headers.get("authorization", ""))
            status, headers = gw.script.pop(0) if gw.script else (200, {})
            payload = json.dumps(
                {"id": "cap_1", "status": "captured", "tracking_number": "TRK1"}
            ).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield gw
    server.shutdown()
    server.server_close()


@pytest.fixture
def payment_url(gateway: Gateway) -> str:
    return gateway.url


@pytest.fixture
def app(settings, gateway, payment_url):  # conftest's app, its systems pointed at the gateway
    application = create_app(
        replace(settings, extra={"payment_url": payment_url, "carrier_url": gateway.url})
    )
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def _start(client: Any) -> str:
    started = client.post("/api/workflows/order-management/instances", json={"data": ORDER})
    assert started.status_code == 201, started.text
    return str(started.json()["id"])


def test_a_gateway_answering_503_twice_then_200_is_called_three_times_with_one_key(
    app, login, gateway
):
    gateway.script = [(503, {}), (503, {})]
    sam = login("sam")
    instance_id = _start(sam)
    t0 = datetime.now(UTC)
    tick(app.state.worker, now=t0)
    tick(app.state.worker, now=t0 + timedelta(seconds=40))  # the template's backoff: 30 s + jitter
    assert sam.get(f"/api/instances/{instance_id}").json()["stage"] == "Received"
    tick(app.state.worker, now=t0 + timedelta(seconds=120))  # then 60 s + jitter
    assert len(gateway.keys) == 3
    assert len(set(gateway.keys)) == 1
    assert gateway.keys[0]
    stages = [s["stage"] for s in sam.get(f"/api/instances/{instance_id}").json()["stages"]]
    assert stages[:3] == ["Received", "Paid", "Being prepared"]


def test_retry_after_from_the_gateway_is_honoured(app, login, gateway):
    gateway.script = [(429, {"Retry-After": "120"})]
    _start(login("sam"))
    t0 = datetime.now(UTC)
    tick(app.state.worker, now=t0)
    with app.state.sessionmaker() as session:
        row = session.scalars(select(Outbox).where(Outbox.kind == "call_http")).one()
        assert row.next_attempt_at >= t0 + timedelta(seconds=120)
    tick(app.state.worker, now=t0 + timedelta(seconds=60))  # earlier than asked: no call
    assert len(gateway.keys) == 1
    tick(app.state.worker, now=t0 + timedelta(seconds=121))
    assert len(gateway.keys) == 2


@pytest.mark.parametrize(
    "payment_url",
    ["http://169.254.169.254", "http://10.0.0.1", "http://0x0a000001", "http://[::ffff:10.0.0.1]"],
)
def test_an_http_step_aimed_inside_is_refused_without_a_call(app, login, gateway, payment_url):
    sam = login("sam")
    instance_id = _start(sam)
    tick(app.state.worker, now=datetime.now(UTC))
    instance = sam.get(f"/api/instances/{instance_id}").json()
    assert gateway.keys == []
    assert "Paid" not in [s["stage"] for s in instance["stages"]]
    assert "internal address" in json.dumps(instance)


FRAGILE = {
    "format": 1,
    "key": "fragile",
    "name": "Fragile call",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {
            "id": "call",
            "type": "http",
            "name": "Call the gateway",
            "request": {"url": "{{ settings.payment_url }}/captures", "body": {"n": 1}},
            "retry": {"attempts": 2, "backoff": "PT1S"},
            "result": "answer",
        },
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "call"},
        {"id": "e2", "from": "call", "to": "end"},
    ],
}


def test_a_gateway_failing_for_ever_raises_an_incident_an_admin_retries_once_it_recovers(
    app, login, gateway
):
    admin = login("admin")
    assert (
        admin.post("/api/workflows", json={"key": "fragile", "draft": FRAGILE}).status_code == 201
    )
    assert admin.post("/api/workflows/fragile/publish").status_code == 201
    started = admin.post("/api/workflows/fragile/instances", json={"data": {}})
    instance_id = started.json()["id"]
    gateway.script = [(500, {})] * 2
    t0 = datetime.now(UTC)
    tick(app.state.worker, now=t0)
    tick(app.state.worker, now=t0 + timedelta(seconds=5))
    instance = admin.get(f"/api/instances/{instance_id}").json()
    assert instance["status"] == "running"
    (incident,) = [x for x in instance["incidents"] if x["status"] == "open"]
    assert "500" in incident["message"]

    retried = admin.post(f"/api/instances/{instance_id}/incidents/{incident['id']}/retry")
    assert retried.status_code == 200, retried.text
    tick(app.state.worker, now=t0 + timedelta(seconds=10))
    final = admin.get(f"/api/instances/{instance_id}").json()
    assert final["status"] == "completed"
    assert final["data"]["answer"]["status"] == "captured"
    assert len(gateway.keys) == 3


def test_the_secret_a_step_names_is_sent_from_the_server_store_and_never_stored(
    settings, gateway, login, database
):
    definition = {
        **FRAGILE,
        "key": "keyed",
        "nodes": [
            {**node, "secret": "gateway_key"} if node["id"] == "call" else node
            for node in FRAGILE["nodes"]
        ],
    }
    application = create_app(
        replace(
            settings,
            extra={"payment_url": gateway.url},
            secrets={"gateway_key": "sk_live_abc"},
        )
    )
    try:
        from fastapi.testclient import TestClient

        from tests.app.conftest import ADMIN_PASSWORD

        with TestClient(application) as admin:
            token = admin.post(
                "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            ).json()["csrf_token"]
            admin.headers["X-CSRF-Token"] = token
            assert (
                admin.post("/api/workflows", json={"key": "keyed", "draft": definition}).status_code
                == 201
            )
            assert admin.post("/api/workflows/keyed/publish").status_code == 201
            instance_id = admin.post("/api/workflows/keyed/instances", json={"data": {}}).json()[
                "id"
            ]
            tick(application.state.worker, now=datetime.now(UTC))
            instance = admin.get(f"/api/instances/{instance_id}").json()
        assert gateway.authorizations == ["Bearer sk_live_abc"]
        assert instance["status"] == "completed"
        assert "sk_live_abc" not in json.dumps(instance)
    finally:
        application.state.worker.client.close()
        application.state.engine.dispose()


def test_an_admin_skips_an_incident_the_instance_goes_on_without_the_answer(app, login, gateway):
    admin = login("admin")
    assert (
        admin.post("/api/workflows", json={"key": "fragile", "draft": FRAGILE}).status_code == 201
    )
    assert admin.post("/api/workflows/fragile/publish").status_code == 201
    instance_id = admin.post("/api/workflows/fragile/instances", json={"data": {}}).json()["id"]
    gateway.script = [(500, {})] * 2
    t0 = datetime.now(UTC)
    tick(app.state.worker, now=t0)
    tick(app.state.worker, now=t0 + timedelta(seconds=5))
    (incident,) = admin.get(f"/api/instances/{instance_id}").json()["incidents"]
    assert login("walt").post(
        f"/api/instances/{instance_id}/incidents/{incident['id']}/skip"
    ).status_code in (403, 404)

    skipped = admin.post(f"/api/instances/{instance_id}/incidents/{incident['id']}/skip")
    assert skipped.status_code == 200, skipped.text
    final = skipped.json()
    assert final["status"] == "completed"
    assert "answer" not in final["data"]
    assert [x["status"] for x in final["incidents"]] == ["skipped"]
    assert len(gateway.keys) == 2
    again = admin.post(f"/api/instances/{instance_id}/incidents/{incident['id']}/retry")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "incident_closed"


def test_the_services_own_notifications_show_what_people_typed_not_run_it(app, login):
    """A task name or an out-of-office note quoted in a notification is text: ``{{ 7*7 }}``
    stays as typed, and a broken ``{%`` loses nothing."""
    from app.services.records import notify

    now = datetime.now(UTC)
    typed = "Check {{ 7*7 }} and {% if"
    with app.state.sessionmaker() as session:
        notify(session, "user:walt", f"Completed {typed}", f"Note: {typed}", now=now, key="n-1")
        session.commit()
    tick(app.state.worker, now=now)
    page = login("walt").get("/api/notifications").json()
    found = [n for n in page["items"] if n["title"].startswith("Completed")]
    assert [(n["title"], n["body"]) for n in found] == [(f"Completed {typed}", f"Note: {typed}")]


# --- child workflows ------------------------------------------------------------------------


def child_flow(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """start → double (n * 2) → end; ``schema``: its data schema."""
    flow: dict[str, Any] = {
        "format": 1,
        "key": "child",
        "name": "Child",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "double", "type": "set", "name": "Double", "assign": {"doubled": "n * 2"}},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "c1", "from": "start", "to": "double"},
            {"id": "c2", "from": "double", "to": "end"},
        ],
    }
    if schema is not None:
        flow["data"] = schema
    return flow


PARENT = {
    "format": 1,
    "key": "parent",
    "name": "Parent",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {
            "id": "sub",
            "type": "subworkflow",
            "name": "Ask the child",
            "workflow": "child",
            "input": {"n": "n"},
            "output": {"doubled": "doubled"},
        },
        {"id": "review", "type": "user_task", "name": "Review", "assignee": {"user": "admin"}},
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "p1", "from": "start", "to": "sub"},
        {"id": "p2", "from": "sub", "to": "review"},
        {"id": "p3", "from": "review", "to": "end"},
    ],
}


def test_a_child_workflow_runs_and_its_output_comes_back_to_the_parent(app, login):
    admin = login("admin")
    publish(admin, child_flow())
    publish(admin, PARENT)
    parent = admin.post("/api/workflows/parent/instances", json={"data": {"n": 21}}).json()
    t0 = datetime.now(UTC)
    tick(app.state.worker, now=t0)  # starts the child, which runs to its end
    tick(app.state.worker, now=t0 + timedelta(seconds=1))  # its end answers the parent
    after = admin.get(f"/api/instances/{parent['id']}").json()
    assert after["data"]["doubled"] == 42
    assert [t["node"] for t in after["open_tasks"]] == ["review"]
    children = admin.get("/api/instances", params={"parent": parent["id"]}).json()["items"]
    assert [(c["workflow_key"], c["status"]) for c in children] == [("child", "completed")]


def test_a_child_that_cannot_start_fails_the_parents_step_at_once_with_the_reason(app, login):
    admin = login("admin")
    needs_a_name = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
    }
    publish(admin, child_flow(needs_a_name))
    publish(admin, PARENT)
    parent = admin.post("/api/workflows/parent/instances", json={"data": {"n": 21}}).json()
    tick(app.state.worker, now=datetime.now(UTC))
    after = admin.get(f"/api/instances/{parent['id']}").json()
    assert after["status"] == "running"
    assert [(i["node"], i["code"]) for i in after["incidents"]] == [("sub", "subworkflow_failed")]
    with app.state.sessionmaker() as session:
        (row,) = session.scalars(select(Outbox).where(Outbox.kind == "start_subworkflow"))
        assert (row.status, row.attempts) == ("done", 1)
        assert "invalid_data" in (row.last_error or "")
    audit = admin.get("/api/admin/audit", params={"instance_id": parent["id"]}).json()["items"]
    (not_started,) = [e for e in audit if e["action"] == "subworkflow.not_started"]
    assert "invalid_data" in not_started["details"]["reason"]
    assert admin.get("/api/instances", params={"parent": parent["id"]}).json()["total"] == 0


def test_a_row_that_keeps_failing_for_another_reason_fails_the_step_after_five_tries(
    app, login, gateway
):
    admin = login("admin")
    publish(admin, FRAGILE)
    started = admin.post("/api/workflows/fragile/instances", json={"data": {}}).json()
    with app.state.sessionmaker() as session:  # a row no worker can read (its request is gone)
        (row,) = session.scalars(select(Outbox).where(Outbox.kind == "call_http"))
        row.payload = {k: v for k, v in row.payload.items() if k != "request"}
        session.commit()
    t0 = datetime.now(UTC)
    for attempt in range(5):
        tick(app.state.worker, now=t0 + timedelta(seconds=31 * attempt))
        incidents = admin.get(f"/api/instances/{started['id']}").json()["open_incidents"]
        assert incidents == (1 if attempt == 4 else 0)
    after = admin.get(f"/api/instances/{started['id']}").json()
    (incident,) = after["incidents"]
    assert (incident["node"], incident["code"]) == ("call", "http_failed")
    assert "gave up after 5 attempts" in incident["message"]
    assert gateway.keys == []
    with app.state.sessionmaker() as session:
        (row,) = session.scalars(select(Outbox).where(Outbox.kind == "call_http"))
        assert row.status == "done"
        assert "gave up after 5 attempts" in (row.last_error or "")


def test_a_call_ends_before_the_workers_claim_on_it_runs_out():
    assert LEASE.total_seconds() > MAX_HTTP_TIMEOUT_S
