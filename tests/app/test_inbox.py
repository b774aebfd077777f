"""The inbox (``GET /api/inbox``), its live updates, saved views and bulk claims, through the API
with the clock moved explicitly; the live updates against a real uvicorn server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.db.models import Task
from app.deps import Principal
from app.main import create_app
from app.routes import inbox as inbox_routes
from app.services.inbox import InboxWatch
from tests.app.builders import assert_error, away, order
from tests.app.conftest import ADMIN_PASSWORD, Template


def user_task(node_id: str, name: str, due: str | None, role: str = "warehouse") -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": node_id,
        "type": "user_task",
        "name": name,
        "assignee": {"role": role},
    }
    if due is not None:
        node["sla"] = {"due": due}
    return node


def three_tasks() -> dict[str, Any]:
    """Start (stage "Received") → three warehouse tasks at once: due in 1 hour, in 10 hours,
    and with no due time → end."""
    return {
        "format": 1,
        "name": "Three warehouse tasks",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "stage": "Received"},
            {"id": "split", "type": "parallel", "name": "Split"},
            user_task("short", "Pick express", "PT1H"),
            user_task("long", "Restock shelf", "PT10H"),
            user_task("none", "Tidy up", None),
            {"id": "join", "type": "parallel", "name": "Join"},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e0", "from": "start", "to": "split"},
            {"id": "e1", "from": "split", "to": "short"},
            {"id": "e2", "from": "split", "to": "long"},
            {"id": "e3", "from": "split", "to": "none"},
            {"id": "e4", "from": "short", "to": "join"},
            {"id": "e5", "from": "long", "to": "join"},
            {"id": "e6", "from": "none", "to": "join"},
            {"id": "e7", "from": "join", "to": "end"},
        ],
    }


def count_stock() -> dict[str, Any]:
    """One warehouse task, "Count stock 100% (weekly)", at stage "Counting"."""
    return {
        "format": 1,
        "name": "Stock count",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "stage": "Counting"},
            user_task("count", "Count stock 100% (weekly)", "PT48H"),
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e0", "from": "start", "to": "count"},
            {"id": "e1", "from": "count", "to": "end"},
        ],
    }


@pytest.fixture
def extra() -> dict[str, str]:
    """``STEPWISE_SETTING_*`` values for the app (a test may parametrize it)."""
    return {}


@pytest.fixture
def app(settings, extra):
    application = create_app(replace(settings, controllable_clock=True, extra=extra))
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


@pytest.fixture
def admin(login) -> TestClient:
    client: TestClient = login("admin")
    for key, draft in (("three", three_tasks()), ("count", count_stock())):
        made = client.post("/api/workflows", json={"key": key, "draft": draft})
        assert made.status_code == 201, made.text
        published = client.post(f"/api/workflows/{key}/publish")
        assert published.status_code == 201, published.text
    return client


def start(client: TestClient, key: str, order_id: str) -> dict[str, Any]:
    started = client.post(f"/api/workflows/{key}/instances", json={"data": {"order_id": order_id}})
    assert started.status_code == 201, started.text
    instance: dict[str, Any] = started.json()
    return instance


def advance(admin: TestClient, by: str) -> None:
    moved = admin.post("/api/clock/advance", json={"by": by})
    assert moved.status_code == 200, moved.text


def inbox(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/inbox", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def rows(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["business_key"], i["node"]) for i in page["items"]]


def two_orders_a_hundred_minutes_on(admin: TestClient) -> None:
    """O-1 started at T0 and O-2 at T0 + 50 min; the clock is at T0 + 100 min."""
    start(admin, "three", "O-1")
    advance(admin, "PT50M")
    start(admin, "three", "O-2")
    advance(admin, "PT50M")


def test_overdue_first_then_at_risk_then_by_due_time(admin, login):
    two_orders_a_hundred_minutes_on(admin)
    page = inbox(login("walt"))
    assert [
        (bk, node, i["sla_state"]) for (bk, node), i in zip(rows(page), page["items"], strict=True)
    ] == [
        ("O-1", "short", "overdue"),  # due at T0 + 60 min
        ("O-2", "short", "at_risk"),  # due at T0 + 110 min: less than a quarter of its hour left
        ("O-1", "long", "ok"),  # due at T0 + 10 h
        ("O-2", "long", "ok"),
        ("O-1", "none", None),
        ("O-2", "none", None),
    ]
    assert page["total"] == 6
    first, second = page["items"][0], page["items"][1]
    assert -40 * 60 - 30 < first["seconds_left"] < -40 * 60 + 30
    assert 10 * 60 - 30 < second["seconds_left"] < 10 * 60 + 30
    assert page["items"][-1]["seconds_left"] is None
    assert {i["source"] for i in page["items"]} == {"pool"}
    assert {i["workflow_name"] for i in page["items"]} == {"Three warehouse tasks"}
    assert {i["stage"] for i in page["items"]} == {"Received"}


def test_the_sla_filter_agrees_with_the_sla_state_of_each_task(admin, login):
    two_orders_a_hundred_minutes_on(admin)
    walt = login("walt")
    everything = inbox(walt)["items"]
    for state, expected in (("overdue", "overdue"), ("at_risk", "at_risk"), ("ok", "ok")):
        found = {i["id"] for i in inbox(walt, sla=state)["items"]}
        assert found == {i["id"] for i in everything if i["sla_state"] == expected}, state
    found = {i["id"] for i in inbox(walt, sla="none")["items"]}
    assert found == {i["id"] for i in everything if i["sla_state"] is None}


@pytest.mark.parametrize("extra", [{"at_risk_minutes": "600"}])
def test_a_task_due_within_the_threshold_is_at_risk(admin, login):
    two_orders_a_hundred_minutes_on(admin)  # the long tasks have 500 and 550 minutes left
    page = inbox(login("walt"))
    states = [
        (bk, node, i["sla_state"]) for (bk, node), i in zip(rows(page), page["items"], strict=True)
    ]
    assert states[:4] == [
        ("O-1", "short", "overdue"),
        ("O-2", "short", "at_risk"),
        ("O-1", "long", "at_risk"),
        ("O-2", "long", "at_risk"),
    ]


def test_scopes_mine_delegated_and_roles(admin, login):
    start(admin, "three", "O-1")
    walt, wendy = login("walt"), login("wendy")
    tasks = {i["node"]: i["id"] for i in inbox(walt)["items"]}
    assert walt.post(f"/api/tasks/{tasks['short']}/claim").status_code == 200
    assert wendy.post(f"/api/tasks/{tasks['long']}/claim").status_code == 200
    handed = wendy.post(f"/api/tasks/{tasks['long']}/delegate", json={"to": "walt"})
    assert handed.status_code == 200, handed.text

    mine = inbox(walt, scope="mine")["items"]
    assert {(i["node"], i["source"]) for i in mine} == {("short", "mine"), ("long", "delegated")}
    assert [i["node"] for i in inbox(walt, scope="delegated")["items"]] == ["long"]
    assert [i["node"] for i in inbox(walt, scope="roles")["items"]] == ["none"]
    everything = inbox(walt)["items"]
    assert {i["node"] for i in everything} == {"short", "long", "none"}
    assert [i["node"] for i in inbox(wendy)["items"]] == ["none"]  # handed on: no longer hers
    assert inbox(login("sam"))["total"] == 0  # not in the warehouse


def test_filters_search_sorting_and_paging(admin, login):
    two_orders_a_hundred_minutes_on(admin)
    start(admin, "count", "C_1")
    walt = login("walt")
    assert rows(inbox(walt, workflow="count")) == [("C_1", "count")]
    assert rows(inbox(walt, stage="Counting")) == [("C_1", "count")]
    assert {node for _, node in rows(inbox(walt, q="o-2"))} == {"short", "long", "none"}
    assert rows(inbox(walt, q="100%")) == [("C_1", "count")]  # % is a character, not a pattern
    assert rows(inbox(walt, q="c_1")) == [("C_1", "count")]
    assert rows(inbox(walt, q="_")) == [("C_1", "count")]
    assert rows(inbox(walt, q="stock count")) == [("C_1", "count")]  # the workflow's name
    assert inbox(walt, q="nothing like it")["total"] == 0

    now = datetime.fromisoformat(inbox(walt)["now"])
    soon = (now + timedelta(hours=1)).isoformat()
    assert rows(inbox(walt, due_before=soon)) == [("O-1", "short"), ("O-2", "short")]
    later = rows(inbox(walt, due_after=soon, sort="due"))
    assert later == [("O-1", "long"), ("O-2", "long"), ("C_1", "count")]
    assert rows(inbox(walt, sort="-due"))[:3] == [
        ("C_1", "count"),
        ("O-2", "long"),
        ("O-1", "long"),
    ]
    assert rows(inbox(walt, sort="-created"))[0] == ("C_1", "count")

    everything = rows(inbox(walt))
    page = inbox(walt, offset=2, limit=3)
    assert (page["total"], page["offset"], page["limit"]) == (7, 2, 3)
    assert rows(page) == everything[2:5]


def test_bad_filters_are_422(admin, login):
    walt = login("walt")
    for params in (
        {"scope": "everyone"},
        {"sla": "late"},
        {"sort": "name"},
        {"limit": "201"},
        {"due_before": "tomorrow"},
        {"q": "x" * 201},
    ):
        assert_error(walt.get("/api/inbox", params=params), 422, "invalid_request")


def test_saved_views_belong_to_their_owner(admin, login):
    walt, wendy = login("walt"), login("wendy")
    body = {"name": "Late pool work", "query": {"scope": "roles", "sla": "overdue"}}
    made = walt.post("/api/views", json=body)
    assert made.status_code == 201, made.text
    view = made.json()
    assert view["name"] == "Late pool work"
    assert (view["query"]["scope"], view["query"]["sla"], view["query"]["limit"]) == (
        "roles",
        "overdue",
        50,
    )
    assert [v["id"] for v in walt.get("/api/views").json()] == [view["id"]]
    assert wendy.get("/api/views").json() == []
    assert_error(walt.post("/api/views", json=body), 409, "exists")
    assert wendy.post("/api/views", json=body).status_code == 201  # her own, same name
    assert_error(wendy.delete(f"/api/views/{view['id']}"), 404, "not_found")
    for bad in (
        {"name": "x", "query": {"colour": "red"}},
        {"name": "x", "query": {"limit": 500}},
        {"name": "", "query": {}},
    ):
        assert_error(walt.post("/api/views", json=bad), 422, "invalid_request")
    # a saved query is what GET /api/inbox takes
    assert inbox(walt, **view["query"])["total"] == 0
    assert walt.delete(f"/api/views/{view['id']}").status_code == 204
    assert walt.get("/api/views").json() == []


def test_bulk_claim_answers_for_each_task(admin, login):
    start(admin, "three", "O-1")
    invoice = admin.post(
        "/api/workflows/order-management/instances",
        json={"data": order("B-1", method="invoice")},
    )
    assert invoice.status_code == 201, invoice.text
    capture = invoice.json()["open_tasks"][0]["id"]  # offered to finance
    walt, wendy = login("walt"), login("wendy")
    tasks = {i["node"]: i["id"] for i in inbox(walt)["items"]}
    assert wendy.post(f"/api/tasks/{tasks['long']}/claim").status_code == 200

    ids = [tasks["short"], tasks["long"], tasks["short"], "no-such-task", capture]
    answer = walt.post("/api/tasks/claim", json={"ids": ids})
    assert answer.status_code == 200, answer.text
    results = [(r["id"], r["result"], r["code"]) for r in answer.json()["results"]]
    assert results == [
        (tasks["short"], "claimed", "claimed"),
        (tasks["long"], "already_taken", "already_claimed"),
        ("no-such-task", "not_allowed", "not_found"),
        (capture, "not_allowed", "not_found"),
    ]
    assert answer.json()["results"][0]["task"]["assignee"] == "walt"
    assert [i["node"] for i in inbox(walt, scope="mine")["items"]] == ["short"]
    again = walt.post("/api/tasks/claim", json={"ids": [tasks["short"], tasks["none"]]}).json()
    assert [r["result"] for r in again["results"]] == ["claimed", "claimed"]
    for bad in ({"ids": []}, {"ids": ["x"] * 201}, {"ids": "x"}):
        assert_error(walt.post("/api/tasks/claim", json=bad), 422, "invalid_request")


def test_the_watch_reconciles_changes_it_did_not_see(admin, login, app):
    """A change whose ``updated_at`` is older than the last look (a late commit) is still found
    by the periodic full comparison."""
    start(admin, "three", "O-1")
    me = Principal("walt-id", "walt", frozenset({"warehouse", "employee"}))
    watch = InboxWatch(me)
    with app.state.sessionmaker() as session:
        watch.start(session)
        assert len(watch.known) == 3
        gone = next(iter(watch.known))
        old = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
        session.execute(
            update(Task).where(Task.id == gone).values(assignee="wendy", updated_at=old)
        )
        session.commit()
        assert watch.poll(session) == []  # too old for a look
        assert [(kind, task_id) for kind, task_id, _ in watch.reconcile(session)] == [
            ("removed", gone)
        ]


def test_the_watch_leaves_my_roles_pools_out_while_i_am_away(admin, app):
    away(admin, "walt", "wendy", datetime.fromisoformat(admin.get("/api/clock").json()["now"]))
    roles = frozenset({"warehouse", "employee"})
    watches = {name: InboxWatch(Principal(f"{name}-id", name, roles)) for name in ("walt", "wendy")}
    with app.state.sessionmaker() as session:
        for watch in watches.values():
            watch.start(session)
        session.commit()
        start(admin, "three", "O-1")
        added = {
            name: [task_id for kind, task_id, _ in watch.poll(session) if kind == "added"]
            for name, watch in watches.items()
        }
    assert added["walt"] == []
    assert len(added["wendy"]) == 3


# --- live updates ---------------------------------------------------------------------------


@pytest.fixture
def live(app) -> Iterator[str]:
    """The app served by uvicorn on a loopback port (the socket listens before the thread
    starts, so the first request needs no wait)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def live_login(base_url: str, username: str, database: Template) -> Iterator[httpx.Client]:
    """A client of the live server, logged in (reads time out after 10 s: a test that waits
    for an event that never comes fails instead of hanging)."""
    headers = {"Accept": "text/event-stream"}
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0), headers=headers) as client:
        password = ADMIN_PASSWORD if username == "admin" else database.passwords[username]
        answer = client.post("/api/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        yield client


def sse(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event, data) for each event of a text/event-stream; comments as ("comment", text)."""
    event, data = "", []
    for line in response.iter_lines():
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            event = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].strip())
        elif line == "" and (event or data):
            yield event or "message", json.loads("\n".join(data)) if data else None
            event, data = "", []


def next_event(events: Iterator[tuple[str, Any]]) -> tuple[str, Any]:
    return next((kind, data) for kind, data in events if kind != "comment")


def test_live_updates_tell_when_a_task_enters_and_leaves_my_inbox(admin, login, live, database):
    sam, wendy = login("sam"), login("wendy")
    with (
        live_login(live, "walt", database) as walt,
        walt.stream("GET", "/api/inbox/events") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = sse(stream)
        assert next_event(events) == ("ready", {"count": 0})

        first = start(sam, "count", "C-1")
        kind, task = next_event(events)
        assert kind == "added"
        assert (task["node"], task["source"], task["business_key"]) == ("count", "pool", "C-1")
        assert task["sla_state"] == "ok"

        assert wendy.post(f"/api/tasks/{task['id']}/claim").status_code == 200
        assert next_event(events) == ("removed", {"id": task["id"]})

        second = start(sam, "count", "C-2")
        kind, task = next_event(events)
        assert (kind, task["business_key"]) == ("added", "C-2")
        cancelled = sam.post(f"/api/instances/{second['id']}/cancel", json={"reason": "dup"})
        assert cancelled.status_code == 200, cancelled.text
        assert next_event(events) == ("removed", {"id": task["id"]})
        assert first["id"] != second["id"]


def test_live_updates_send_a_heartbeat_when_quiet(admin, live, database, monkeypatch):
    monkeypatch.setattr(inbox_routes, "HEARTBEAT_S", 0.0)
    monkeypatch.setattr(inbox_routes, "POLL_S", 0.05)
    with (
        live_login(live, "walt", database) as walt,
        walt.stream("GET", "/api/inbox/events") as stream,
    ):
        events = sse(stream)
        assert next(events) == ("ready", {"count": 0})
        assert next(events) == ("comment", "ping")


def test_live_updates_end_after_ready_for_a_client_that_does_not_listen(admin, login, anonymous):
    """Only a client that accepts text/event-stream is kept listening (or until
    ``max_seconds``); a plain HTTP client gets ``ready`` and the end of the answer."""
    walt = login("walt")
    for headers, params in (({}, {}), ({"Accept": "text/event-stream"}, {"max_seconds": 0})):
        ended = walt.get("/api/inbox/events", params=params, headers=headers)
        assert ended.status_code == 200
        assert ended.text.startswith("event: ready\n")
    assert_error(walt.get("/api/inbox/events", params={"max_seconds": -1}), 422)
    assert_error(anonymous.get("/api/inbox/events"), 401, "unauthenticated")
