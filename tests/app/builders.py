"""Builders for the permission and bad-input tests: one app and database per module, clients
that show a 500 as a status (not an exception), orders, and a small "world" of things to aim at.

The module-scoped database is a copy of the session's seeded template (SQLite file copy,
PostgreSQL ``CREATE DATABASE … TEMPLATE``), exactly like conftest's ``database`` fixture but
kept for a whole module, so that a test costs a few requests rather than a new database.
"""

from __future__ import annotations

import io
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.main import create_app
from app.services.signatures import sign
from app.settings import Settings
from tests.app.conftest import ADMIN_PASSWORD, PG_ADMIN_URL, Template, _pg_admin

UPLOAD_LIMIT = 256 * 1024
"""The document size limit in these modules' apps (small, so an oversized upload is cheap)."""
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
COLUMNS = ("anonymous", "sam", "walt", "dana", "admin")
"""Who asks, in the permission matrix: nobody, a sales employee, a warehouse employee with
no part in the world's instances, a designer, and an admin."""


def order(order_id: str, *, total: float = 20, method: str = "card") -> dict[str, Any]:
    """Start data for the order-management workflow (1000 or more goes to sales for review;
    invoice or bank transfer goes to finance for manual capture)."""
    return {
        "order_id": order_id,
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "items": [{"sku": "MUG-01", "quantity": 1, "price": total}],
        "total": total,
        "payment": {"method": method, "reference": f"ref-{order_id}"},
    }


INCIDENT_AT_START = {
    "format": 1,
    "name": "Raises an incident at once",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {"id": "gate", "type": "exclusive", "name": "Large?"},
        {"id": "big", "type": "end", "name": "Big"},
        {"id": "small", "type": "end", "name": "Small"},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "gate"},
        {"id": "e2", "from": "gate", "to": "big", "condition": "amount > 10"},
        {"id": "e3", "from": "gate", "to": "small", "default": True},
    ],
}
"""A workflow whose gateway reads a field that is not there: every instance has an incident
as soon as it starts."""

INCIDENTAL = {
    "format": 1,
    "name": "Raises an incident after its first task",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {"id": "prepare", "type": "user_task", "name": "Prepare", "assignee": {"user": "admin"}},
        {"id": "gate", "type": "exclusive", "name": "Large?"},
        {"id": "big", "type": "end", "name": "Big"},
        {"id": "small", "type": "end", "name": "Small"},
    ],
    "edges": [
        {"id": "e0", "from": "start", "to": "prepare"},
        {"id": "e1", "from": "prepare", "to": "gate"},
        {"id": "e2", "from": "gate", "to": "big", "condition": "amount > 10"},
        {"id": "e3", "from": "gate", "to": "small", "default": True},
    ],
}
"""Admin's task ``prepare``, then a gateway that reads a field that is not there: once the
task is done (without ``amount``), the instance has an incident."""


def assert_error(
    response: httpx.Response, status: int | None = None, code: str | None = None
) -> None:
    """A JSON error ``{"error": {"code", "message", "details"}}`` (with that status and code)."""
    where = f"{response.request.method} {response.request.url.path}"
    if status is not None:
        assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"{where}: {response.headers.get('content-type')} {response.text[:200]}"
    )
    body = response.json()
    assert isinstance(body, dict), f"{where}: {body!r}"
    assert set(body) == {"error"}, f"{where}: {body!r}"
    error = body["error"]
    assert isinstance(error, dict), f"{where}: {body!r}"
    assert set(error) == {"code", "message", "details"}, f"{where}: {body!r}"
    for part in ("code", "message"):
        assert isinstance(error[part], str), f"{where}: {body!r}"
        assert error[part], f"{where}: {body!r}"
    if code is not None:
        assert error["code"] == code, f"{where}: {body!r}"


@dataclass
class Env:
    """One app on one database for a whole module, with a logged-in client per person."""

    kind: str
    app: FastAPI
    settings: Settings
    passwords: dict[str, str]
    clients: dict[str, TestClient] = field(default_factory=dict)
    counter: int = 0
    opened: list[TestClient] = field(default_factory=list)

    def password(self, username: str) -> str:
        return ADMIN_PASSWORD if username == "admin" else self.passwords[username]

    def anonymous(self) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=False)
        self.opened.append(client)
        return client

    def login(self, username: str, *, csrf: bool = True, password: str | None = None) -> TestClient:
        """A new session for ``username`` (with the CSRF header, like the browser, unless not)."""
        client = self.anonymous()
        response = client.post(
            "/api/auth/login",
            json={"username": username, "password": password or self.password(username)},
        )
        assert response.status_code == 200, response.text
        if csrf:
            client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    def client(self, who: str) -> TestClient:
        """The module's client for ``who`` ("anonymous" for none), made on first use."""
        if who not in self.clients:
            self.clients[who] = self.anonymous() if who == "anonymous" else self.login(who)
        return self.clients[who]

    def tag(self) -> str:
        """A fresh suffix for names that must be unique in the module's database."""
        self.counter += 1
        return f"{self.kind[:2]}{self.counter}x{uuid.uuid4().hex[:6]}"

    def close(self) -> None:
        for client in self.opened:
            client.close()


@contextmanager
def shared_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    """A copy of the seeded template for ``request.param`` ("sqlite" or "postgresql")."""
    kind: str = request.param
    tmp = tmp_path_factory.mktemp(f"shared-{kind}")
    if kind == "sqlite":
        template: Template = request.getfixturevalue("sqlite_template")
        path = tmp / "stepwise.db"
        shutil.copy(template.url.split("///", 1)[1], path)
        url, drop = f"sqlite:///{path}", None
    else:
        template = request.getfixturevalue("pg_template")  # skips when PostgreSQL is absent
        name = f"stepwise_m_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(
                text(f'CREATE DATABASE "{name}" TEMPLATE "{template.url.rsplit("/", 1)[1]}"')
            )
        admin.dispose()
        url, drop = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name
    settings = Settings(
        database_url=url,
        data_dir=Path(tmp) / "data",
        admin_password=ADMIN_PASSWORD,
        run_scheduler=False,
        max_upload_bytes=UPLOAD_LIMIT,
        http_allow="127.0.0.1",
    )
    app = create_app(settings)
    env = Env(kind=kind, app=app, settings=settings, passwords=template.passwords)
    try:
        yield env
    finally:
        env.close()
        app.state.worker.client.close()
        app.state.engine.dispose()
        if drop is not None:
            admin = _pg_admin()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'))
            admin.dispose()


# --- things to aim at -----------------------------------------------------------------------


def start_order(client: TestClient, data: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/workflows/order-management/instances", json={"data": data})
    assert response.status_code == 201, response.text
    instance: dict[str, Any] = response.json()
    return instance


def open_task(admin: TestClient, instance_id: str, node: str) -> dict[str, Any]:
    """The open task at ``node`` of an instance (looked up as admin, who sees every task)."""
    page = admin.get("/api/tasks", params={"scope": "all", "instance": instance_id}).json()
    found = [t for t in page["items"] if t["node"] == node and t["status"] == "open"]
    assert len(found) == 1, page
    task: dict[str, Any] = found[0]
    return task


def upload(client: TestClient, instance_id: str, content: bytes = PDF) -> httpx.Response:
    return client.post(
        f"/api/instances/{instance_id}/documents",
        files={"file": ("invoice.pdf", io.BytesIO(content), "application/pdf")},
    )


def publish(admin: TestClient, flow: dict[str, Any], key: str | None = None) -> None:
    """Make ``flow`` a workflow (keyed ``key``, else by its own ``key``) and publish it."""
    key = key or flow["key"]
    made = admin.post("/api/workflows", json={"key": key, "draft": flow})
    assert made.status_code == 201, made.text
    published = admin.post(f"/api/workflows/{key}/publish")
    assert published.status_code == 201, published.text


def away(admin: TestClient, user: str, delegate: str, now: datetime, *, days: int = 1) -> None:
    """Put ``user`` out of office from an hour before ``now`` for ``days`` days after it,
    ``delegate`` covering."""
    window = {
        "user": user,
        "delegate": delegate,
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=days)).isoformat(),
    }
    made = admin.post("/api/out-of-office", json=window)
    assert made.status_code == 201, made.text


def ensure_published(env: Env, key: str, draft: dict[str, Any]) -> str:
    """``key``, published from ``draft`` (made once per database)."""
    admin = env.client("admin")
    if admin.get(f"/api/workflows/{key}").status_code == 404:
        publish(admin, draft, key)
    return key


def one_task(key: str, assignee: dict[str, Any]) -> dict[str, Any]:
    """start → one user task ``work`` for ``assignee`` → end."""
    return {
        "format": 1,
        "key": key,
        "name": key,
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "work", "type": "user_task", "name": "Do the work", "assignee": assignee},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "work"},
            {"id": "e2", "from": "work", "to": "end"},
        ],
    }


def count_then_check(key: str, *, sla: dict[str, Any] | None = None) -> dict[str, Any]:
    """walt counts; someone else in the warehouse checks (four-eyes), with ``sla``."""
    check: dict[str, Any] = {
        "id": "check",
        "type": "user_task",
        "name": "Check the count",
        "assignee": {"role": "warehouse", "not_same_as": "count"},
    }
    if sla is not None:
        check["sla"] = sla
    return {
        "format": 1,
        "key": key,
        "name": key,
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "count", "type": "user_task", "name": "Count", "assignee": {"user": "walt"}},
            check,
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "count"},
            {"id": "e2", "from": "count", "to": "check"},
            {"id": "e3", "from": "check", "to": "end"},
        ],
    }


def counted(admin: TestClient, walt: TestClient, key: str) -> tuple[str, dict[str, Any]]:
    """Start ``key`` (a ``count_then_check``), walt counts: the instance id and the check task."""
    started = admin.post(f"/api/workflows/{key}/instances", json={"data": {}})
    assert started.status_code == 201, started.text
    instance_id: str = started.json()["id"]
    (count,) = started.json()["open_tasks"]
    assert walt.post(f"/api/tasks/{count['id']}/complete", json={"data": {}}).status_code == 200
    (check,) = admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]
    return instance_id, check


def ensure_incidental(env: Env) -> str:
    """The key of a published workflow with a task for admin and then an incident."""
    return ensure_published(env, "incidental", INCIDENTAL)


FUTURE_WINDOW = {
    "starts_at": "2100-01-01T00:00:00Z",
    "ends_at": "2100-01-02T00:00:00Z",
    "delegate": "suki",
}
"""An out-of-office window far enough ahead that it moves no task while the tests run."""

CONSTANTS = {
    "order_management": "order-management",
    "template": "order-management",
    "version": "1",
    "inventory": "inventory",
    "calendar": "matrix-calendar",
    "calendar_absent": "nobody-made-this",
}
"""Names that are not made, so that every path parameter can come from the world."""


REPORT_QUERY = {"workflow": "order-management", "measure": "count", "group_by": "stage"}
SAVED_REPORT = {"name": "Orders by stage", "query": REPORT_QUERY, "chart": "bar"}


def notify(env: Env, username: str, title: str) -> str:
    """An in-app notification for ``username``, written straight to the database (the app
    makes them from queued messages, which would need the outbox worker)."""
    from app.db.models import Notification

    with env.app.state.sessionmaker() as session:
        row = Notification(username=username, title=title, body="", created_at=datetime.now(UTC))
        session.add(row)
        session.commit()
        notification_id: str = row.id
    return notification_id


class World:
    """Fresh things to aim at, made in the module's database when first asked for:

    - ``A``: an order started by sam, total 1500 by card: its ``review`` task is offered to
      sales (sam); ``docA`` is a document sam attached to it.
    - ``B``: an order started by admin, paid by invoice: its ``capture`` task
      (``capture_manually``) is offered to finance (fiona); ``docB`` attached by admin.
      Sam, walt and dana have no part in it.
    - ``I``: an instance (started by admin) with an open incident ``incident``.
    - ``draft``: an unpublished workflow made by dana (valid, so it can be published);
      ``scratch``: another, to delete.
    - ``table`` with one row ``row``; ``role``: a role nobody has; ``token``: a read-only
      API token acting as sam (the secret: ``read_token``); ``person``: an employee with
      ``person_password``; ``window``: sam's out-of-office window (in 2100);
      ``notification``: one for sam; ``trackA``: the tracking token of ``A``; ``view``: a
      saved inbox view of sam's; ``hook``: a message hook; ``dead``: a dead letter (a
      delivery to a webhook workflow not published yet); ``endpoint``: an event endpoint (to a closed port,
      for overdue tasks only).
    """

    def __init__(self, env: Env) -> None:
        self.env = env
        self.tag = env.tag()
        self.ids: dict[str, str] = {"tag": self.tag, **CONSTANTS}
        self._makers: dict[str, Callable[[], dict[str, str]]] = {}
        for names, maker in (
            (("A", "review", "docA"), self._sales_order),
            (("B", "capture", "docB"), self._invoice_order),
            (("I", "incident"), self._incident),
            (("draft",), lambda: {"draft": self._workflow("draft")}),
            (("scratch",), lambda: {"scratch": self._workflow("scratch")}),
            (("table", "row"), self._table),
            (("role",), self._role),
            (("token", "read_token"), self._token),
            (("person", "person_password"), self._person),
            (("window",), self._window),
            (("trackA",), self._tracking_token),
            (("view",), self._saved_view),
            (("report",), self._saved_report),
            (("hook",), self._message_hook),
            (("dead",), self._dead_letter),
            (("endpoint",), self._endpoint),
            (("notification",), lambda: {"notification": notify(env, "sam", self.tag)}),
        ):
            for name in names:
                self._makers[name] = maker

    def __getitem__(self, name: str) -> str:
        if name not in self.ids:
            self.ids.update(self._makers[name]())
        return self.ids[name]

    def make_all(self) -> World:
        """Make everything now (for tests that count things before and after)."""
        for name in self._makers:
            self[name]
        return self

    def fill(self, text: str, **more: str) -> str:
        """``text`` with ``{name}`` replaced by world ids (made as needed) and ``more``."""
        world = self

        class Lookup(dict[str, str]):
            def __missing__(self, key: str) -> str:
                return world[key]

        return text.format_map(Lookup(more))

    # --- makers -----------------------------------------------------------------------------

    def _sales_order(self) -> dict[str, str]:
        sam, admin = self.env.client("sam"), self.env.client("admin")
        a = start_order(sam, order(f"A-{self.tag}", total=1500))
        doc = upload(sam, a["id"])
        assert doc.status_code == 201, doc.text
        review = open_task(admin, a["id"], "review")
        return {"A": a["id"], "review": review["id"], "docA": doc.json()["id"]}

    def _invoice_order(self) -> dict[str, str]:
        admin = self.env.client("admin")
        b = start_order(admin, order(f"B-{self.tag}", method="invoice"))
        doc = upload(admin, b["id"])
        assert doc.status_code == 201, doc.text
        capture = open_task(admin, b["id"], "capture_manually")
        return {"B": b["id"], "capture": capture["id"], "docB": doc.json()["id"]}

    def _incident(self) -> dict[str, str]:
        admin = self.env.client("admin")
        started = admin.post(f"/api/workflows/{ensure_incidental(self.env)}/instances", json={})
        assert started.status_code == 201, started.text
        instance = started.json()
        (task,) = instance["open_tasks"]
        done = admin.post(f"/api/tasks/{task['id']}/complete", json={"data": {}})
        assert done.status_code == 200, done.text
        after = admin.get(f"/api/instances/{instance['id']}").json()
        incidents = [x for x in after["incidents"] if x["status"] == "open"]
        assert len(incidents) == 1, after
        return {"I": instance["id"], "incident": incidents[0]["id"]}

    def _workflow(self, kind: str) -> str:
        key = f"{kind}-{self.tag}"
        made = self.env.client("dana").post("/api/workflows", json={"key": key})
        assert made.status_code == 201, made.text
        return key

    def _table(self) -> dict[str, str]:
        admin, name = self.env.client("admin"), f"t_{self.tag}"
        made = admin.post(
            "/api/tables",
            json={
                "name": name,
                "columns": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "integer"}],
                "key_columns": ["sku"],
            },
        )
        assert made.status_code == 201, made.text
        row = admin.post(f"/api/tables/{name}/rows", json={"values": {"sku": "X-1", "qty": 1}})
        assert row.status_code == 201, row.text
        return {"table": name, "row": row.json()["id"]}

    def _role(self) -> dict[str, str]:
        made = self.env.client("admin").post("/api/admin/roles", json={"name": f"r_{self.tag}"})
        assert made.status_code == 201, made.text
        return {"role": f"r_{self.tag}"}

    def _token(self) -> dict[str, str]:
        made = self.env.client("admin").post(
            "/api/admin/tokens", json={"name": self.tag, "user": "sam", "scopes": ["read"]}
        )
        assert made.status_code == 201, made.text
        return {"token": made.json()["id"], "read_token": made.json()["token"]}

    def _person(self) -> dict[str, str]:
        person, password = f"p{self.tag}", f"pw-{self.tag}-{uuid.uuid4().hex}"
        made = self.env.client("admin").post(
            "/api/admin/users",
            json={"username": person, "roles": ["employee"], "password": password},
        )
        assert made.status_code == 201, made.text
        return {"person": person, "person_password": password}

    def _window(self) -> dict[str, str]:
        made = self.env.client("sam").post("/api/out-of-office", json=FUTURE_WINDOW)
        assert made.status_code == 201, made.text
        return {"window": made.json()["id"]}

    def _tracking_token(self) -> dict[str, str]:
        """``trackA``: the tracking token of sam's order ``A`` (its customer's link)."""
        found = self.env.client("admin").get(f"/api/instances/{self['A']}")
        assert found.status_code == 200, found.text
        return {"trackA": found.json()["tracking_token"]}

    def _saved_view(self) -> dict[str, str]:
        """``view``: a saved inbox view of sam's."""
        made = self.env.client("sam").post(
            "/api/views", json={"name": f"v-{self.tag}", "query": {"scope": "mine"}}
        )
        assert made.status_code == 201, made.text
        return {"view": made.json()["id"]}

    def _saved_report(self) -> dict[str, str]:
        """``report``: a saved report of admin's, shared with nobody."""
        made = self.env.client("admin").post("/api/reports/saved", json=SAVED_REPORT)
        assert made.status_code == 201, made.text
        return {"report": made.json()["id"]}

    def _message_hook(self) -> dict[str, str]:
        name = f"hook-{self.tag}"
        made = self.env.client("admin").put(
            f"/api/admin/message-hooks/{name}", json={"correlation": "body.tracking_number"}
        )
        assert made.status_code == 200, made.text
        return {"hook": name}

    def _dead_letter(self) -> dict[str, str]:
        """A signed delivery to a webhook workflow that is not published yet."""
        import json

        from app.services.signatures import sign

        admin, key = self.env.client("admin"), f"dl-{self.tag}"
        draft = {
            "format": 1,
            "name": key,
            "nodes": [
                {"id": "start", "type": "start", "name": "Start", "trigger": {"type": "webhook"}},
                {"id": "end", "type": "end", "name": "Done"},
            ],
            "edges": [{"id": "e1", "from": "start", "to": "end"}],
        }
        assert admin.post("/api/workflows", json={"key": key, "draft": draft}).status_code == 201
        secret = admin.post(f"/api/admin/webhooks/{key}/secrets")
        assert secret.status_code == 201, secret.text
        body = json.dumps({"n": 1}).encode()
        signed = sign("generic", secret.json()["secret"], body, now=datetime.now(UTC))
        kept = self.env.anonymous().post(
            f"/hooks/{key}", content=body, headers={"content-type": "application/json", **signed}
        )
        assert kept.status_code == 409, kept.text
        return {"dead": kept.headers["X-Stepwise-Dead-Letter"]}

    def _endpoint(self) -> dict[str, str]:
        made = self.env.client("admin").post(
            "/api/admin/event-endpoints",
            json={"url": f"http://127.0.0.1:9/{self.tag}", "event_types": ["task.overdue"]},
        )
        assert made.status_code == 201, made.text
        return {"endpoint": made.json()["id"]}


def build_world(env: Env) -> World:
    """A new world (see ``World``); nothing is made until a test asks for it."""
    return World(env)


def signup_flow(key: str, *, schema: dict[str, Any] | None = None, mapping=None) -> dict:
    """Started by a signed webhook; the mapping reads the customer's name and the amount."""
    flow: dict[str, Any] = {
        "format": 1,
        "key": key,
        "name": key,
        "nodes": [
            {
                "id": "start",
                "type": "start",
                "name": "Start",
                "trigger": {
                    "type": "webhook",
                    "webhook": {
                        "mapping": mapping
                        or {"name": "body.customer.name", "amount": "body.amount"}
                    },
                },
            },
            {"id": "look", "type": "user_task", "name": "Look", "assignee": {"user": "sam"}},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "look"},
            {"id": "e2", "from": "look", "to": "end"},
        ],
    }
    if schema is not None:
        flow["data"] = schema
    return flow


def secret_for(admin: Any, key: str) -> str:
    """A new webhook secret for workflow ``key`` (made by the admin)."""
    r = admin.post(f"/api/admin/webhooks/{key}/secrets")
    assert r.status_code == 201, r.text
    value: str = r.json()["secret"]
    return value


def deliver(client: Any, key: str, scheme: str, secret: str, payload: Any, **headers: str) -> Any:
    """A webhook delivery of ``payload`` to ``key``, signed the ``scheme`` way."""
    body = json.dumps(payload).encode()
    signed = sign(scheme, secret, body, now=datetime.now(UTC))
    return client.post(
        f"/hooks/{key}",
        content=body,
        headers={"content-type": "application/json", **signed, **headers},
    )
