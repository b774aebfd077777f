"""Who may do what: every /api route against an anonymous caller, a sales employee (sam), a
warehouse employee with no part in anything (walt), a designer (dana) and an admin.

Each row of the matrix is one test, on a fresh world of things to aim at (see
``builders.World``, made as a row first asks for them): sam's large order ``A`` with its sales
``review`` task, admin's invoice order ``B`` with finance's ``capture`` task, an instance with
an incident, draft workflows, a table, a role, an API token, a person, sam's out-of-office
window and a notification for him. After a request that may have changed something, the row
takes a new world, so every cell of a row meets the same starting point.

Rules: anonymous is 401 everywhere but the login and a customer's tracking link (which
still refuses a bad credential sent along); what one may not see is 404 (we do not tell
that it exists), what one may see but not do is 403; only designers and admins change
workflows, only admins publish and administer; the CSRF header is required for every unsafe
request made with the session cookie; an API token is held to its scopes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.app.builders import (
    COLUMNS,
    FUTURE_WINDOW,
    PDF,
    REPORT_QUERY,
    SAVED_REPORT,
    Env,
    World,
    assert_error,
    build_world,
    order,
    shared_env,
)

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Request = Callable[[World, str], dict[str, Any]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with shared_env(request, tmp_path_factory) as shared:
        yield shared


def nothing(world: World, who: str) -> dict[str, Any]:
    return {}


def body(payload: Any) -> Request:
    """A JSON body; strings in it may name world ids (``{tag}``) and the caller (``{who}``)."""

    def fill(value: Any, world: World, who: str) -> Any:
        if isinstance(value, str):
            return world.fill(value, who=who)
        if isinstance(value, dict):
            return {k: fill(v, world, who) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v, world, who) for v in value]
        return value

    return lambda world, who: {"json": fill(payload, world, who)}


def pdf_upload(world: World, who: str) -> dict[str, Any]:
    return {"files": {"file": ("scan.pdf", io.BytesIO(PDF), "application/pdf")}}


def csv_import(world: World, who: str) -> dict[str, Any]:
    return {
        "content": b"sku,qty\r\nX-2,3\r\n",
        "headers": {"Content-Type": "text/csv"},
        "params": {"dry_run": "true"},
    }


MINIMAL_DRAFT = {
    "format": 1,
    "name": "Edited",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [{"id": "e1", "from": "start", "to": "end"}],
}

ALL = (401, 200, 200, 200, 200)
"""Anyone logged in."""
ADMIN = (401, 403, 403, 403, 200)
DESIGNER = (401, 403, 403, 200, 200)
SAMS = (401, 200, 404, 404, 200)
"""Something sam takes part in (his order A, its review task): hidden from walt and dana."""
NOT_SAMS = (401, 404, 404, 404, 200)
"""Something only admin (and finance) take part in (order B, its capture task)."""


@dataclass(frozen=True)
class Row:
    method: str
    route: str
    expect: tuple[int, int, int, int, int]
    """Statuses for (anonymous, sam, walt, dana, admin)."""
    path: dict[str, str] = field(default_factory=dict)
    """Path parameter -> the world id it takes."""
    request: Request = nothing
    fresh: bool = False
    """Send from a session of its own (the request ends or replaces its session)."""
    note: str = ""
    codes: dict[int, str] = field(default_factory=dict)
    """Error codes other than the usual ones (401 unauthenticated, 403 forbidden, 404 not_found)."""

    def url(self, world: World) -> str:
        return self.route.format(**{param: world[name] for param, name in self.path.items()})

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.note}]" if self.note else "")


def row(
    method: str,
    route: str,
    expect: tuple[int, int, int, int, int],
    request: Request = nothing,
    *,
    fresh: bool = False,
    note: str = "",
    codes: dict[int, str] | None = None,
    **path: str,
) -> Row:
    return Row(method, route, expect, dict(path), request, fresh, note, codes or {})


def with_status(expect: tuple[int, int, int, int, int], ok: int) -> tuple[int, int, int, int, int]:
    """``expect`` with its successes (200) answered by ``ok`` instead (201, 204)."""
    return tuple(ok if s == 200 else s for s in expect)  # type: ignore[return-value]


ROWS: list[Row] = [
    # --- auth -------------------------------------------------------------------------------
    row(
        "POST",
        "/api/auth/login",
        (200, 200, 200, 200, 200),
        lambda w, who: {"json": {"username": w["person"], "password": w["person_password"]}},
        fresh=True,
    ),
    row("POST", "/api/auth/logout", with_status(ALL, 204), fresh=True),
    row("GET", "/api/me", ALL),
    # --- workflows --------------------------------------------------------------------------
    row("GET", "/api/workflows", ALL),
    row("POST", "/api/workflows", with_status(DESIGNER, 201), body({"key": "new-{tag}-{who}"})),
    row("GET", "/api/workflows/{key}", ALL, key="draft"),
    row("DELETE", "/api/workflows/{key}", with_status(DESIGNER, 204), key="scratch"),
    row("PUT", "/api/workflows/{key}/draft", DESIGNER, body({"draft": MINIMAL_DRAFT}), key="draft"),
    row("POST", "/api/workflows/{key}/validate", ALL, key="draft"),
    row("POST", "/api/workflows/validate", DESIGNER, body({"definition": MINIMAL_DRAFT})),
    row("PATCH", "/api/workflows/{key}", DESIGNER, body({"name": "Renamed by {who}"}), key="draft"),
    row("POST", "/api/workflows/{key}/simulate", DESIGNER, body({"moves": 0}), key="draft"),
    row("POST", "/api/workflows/{key}/publish", with_status(ADMIN, 201), key="draft"),
    row("POST", "/api/workflows/{key}/archive", ADMIN, key="draft"),
    row("POST", "/api/workflows/{key}/restore", ADMIN, key="draft"),
    row(
        "GET",
        "/api/workflows/{key}/versions/{version}",
        ALL,
        key="order_management",
        version="version",
    ),
    row("GET", "/api/templates", ALL),
    row(
        "POST",
        "/api/templates/{template_id}/use",
        with_status(DESIGNER, 201),
        body({"key": "tpl-{tag}-{who}"}),
        template_id="template",
    ),
    row(
        "POST",
        "/api/templates",
        with_status(ADMIN, 201),
        body({"workflow": "order-management", "id": "t-{tag}-{who}"}),
    ),
    row(
        "DELETE",
        "/api/templates/{template_id}",
        (401, 403, 403, 403, 409),
        template_id="template",
        note="a shipped template stays",
        codes={409: "shipped"},
    ),
    # --- instances --------------------------------------------------------------------------
    row(
        "POST",
        "/api/workflows/{key}/instances",
        with_status(ALL, 201),
        lambda w, who: {"json": {"data": order(f"S-{w['tag']}-{who}")}},
        key="order_management",
    ),
    row("GET", "/api/instances", ALL),
    row("GET", "/api/instances/{instance_id}", SAMS, instance_id="A", note="sam's order"),
    row("GET", "/api/instances/{instance_id}", NOT_SAMS, instance_id="B", note="admin's order"),
    row("GET", "/api/instances/{instance_id}/history", SAMS, instance_id="A", note="sam's order"),
    row(
        "GET",
        "/api/instances/{instance_id}/history",
        NOT_SAMS,
        instance_id="B",
        note="admin's order",
    ),
    row(
        "POST",
        "/api/instances/{instance_id}/cancel",
        SAMS,
        body({"reason": "changed my mind"}),
        instance_id="A",
        note="sam's order",
    ),
    row(
        "POST",
        "/api/instances/{instance_id}/cancel",
        NOT_SAMS,
        body({"reason": "changed my mind"}),
        instance_id="B",
        note="admin's order",
    ),
    row("POST", "/api/instances/{instance_id}/suspend", ADMIN, body({}), instance_id="A"),
    row("POST", "/api/instances/{instance_id}/resume", ADMIN, body({}), instance_id="A"),
    row(
        "POST",
        "/api/instances/{instance_id}/data",
        ADMIN,
        body({"data": {"note": "fixed"}, "reason": "typo"}),
        instance_id="A",
    ),
    row("GET", "/api/incidents", ADMIN),
    row(
        "POST",
        "/api/instances/{instance_id}/incidents/{incident_id}/retry",
        ADMIN,
        instance_id="I",
        incident_id="incident",
    ),
    row(
        "POST",
        "/api/instances/{instance_id}/incidents/{incident_id}/skip",
        (401, 403, 403, 403, 409),
        instance_id="I",
        incident_id="incident",
        note="the world's incident is at a gateway: admins may, but not skip that one",
        codes={409: "cannot_skip"},
    ),
    # --- tasks ------------------------------------------------------------------------------
    row("GET", "/api/tasks", ALL),
    row("GET", "/api/tasks/{task_id}", SAMS, task_id="review", note="sales task"),
    row("GET", "/api/tasks/{task_id}", NOT_SAMS, task_id="capture", note="finance task"),
    # admins see every task but take only what is offered to them (or reassign it first)
    row("POST", "/api/tasks/{task_id}/claim", (401, 200, 404, 404, 403), task_id="review"),
    row(
        "POST",
        "/api/tasks/{task_id}/claim",
        (401, 404, 404, 404, 403),
        task_id="capture",
        note="finance task",
    ),
    row(
        "POST",
        "/api/tasks/{task_id}/unclaim",
        (401, 403, 404, 404, 200),
        task_id="review",
        note="nobody holds it",
    ),
    row(
        "POST",
        "/api/tasks/{task_id}/complete",
        (401, 200, 404, 404, 403),
        body({"outcome": "approve"}),
        task_id="review",
        note="sales task",
    ),
    row(
        "POST",
        "/api/tasks/{task_id}/complete",
        (401, 404, 404, 404, 403),
        body({"data": {"captured": True}}),
        task_id="capture",
        note="finance task",
    ),
    row(
        "POST",
        "/api/tasks/{task_id}/delegate",
        (401, 403, 404, 404, 403),
        body({"to": "walt"}),
        task_id="review",
        note="nobody holds it",
    ),
    row(
        "POST",
        "/api/tasks/{task_id}/reassign",
        ADMIN,
        body({"user": "suki"}),
        task_id="review",
    ),
    row(
        "GET",
        "/api/tasks/{task_id}/handover",
        (401, 403, 404, 404, 200),
        task_id="review",
        note="nobody holds it",
    ),
    row("GET", "/api/tasks/{task_id}/comments", SAMS, task_id="review", note="sales task"),
    row("GET", "/api/tasks/{task_id}/comments", NOT_SAMS, task_id="capture", note="finance task"),
    row(
        "POST",
        "/api/tasks/{task_id}/comments",
        with_status(SAMS, 201),
        body({"body": "looks fine"}),
        task_id="review",
        note="sales task",
    ),
    row(
        "POST",
        "/api/tasks/{task_id}/comments",
        with_status(NOT_SAMS, 201),
        body({"body": "looks fine"}),
        task_id="capture",
        note="finance task",
    ),
    row(
        "POST",
        "/api/tasks/claim",
        ALL,
        body({"ids": ["{review}", "{capture}"]}),
        note="a result per task, not a status",
    ),
    # --- the inbox, saved views, new requests, my requests, tracking -------------------------
    row("GET", "/api/inbox", ALL),
    row("GET", "/api/inbox/events", ALL, note="not an event-stream client: ends after ready"),
    row("GET", "/api/views", ALL),
    row(
        "POST",
        "/api/views",
        with_status(ALL, 201),
        body({"name": "v-{tag}-{who}", "query": {"scope": "roles", "sla": "overdue"}}),
    ),
    row(
        "DELETE",
        "/api/views/{view_id}",
        (401, 204, 404, 404, 404),
        view_id="view",
        note="sam's view",
    ),
    row("GET", "/api/startable", ALL),
    row("GET", "/api/requests", ALL),
    row("GET", "/api/instances/{instance_id}/path", SAMS, instance_id="A", note="sam's order"),
    row(
        "GET",
        "/api/instances/{instance_id}/path",
        NOT_SAMS,
        instance_id="B",
        note="admin's order",
    ),
    row(
        "GET",
        "/api/track/{token}",
        (200, 200, 200, 200, 200),
        token="trackA",
        note="the customer's link: no login",
    ),
    # --- messages ---------------------------------------------------------------------------
    row(
        "POST",
        "/api/messages",
        (401, 403, 403, 403, 404),
        body({"message": "delivered", "correlation": "nobody-waits-{tag}"}),
        note="systems (API tokens) and admins only; nothing waits for it",
        codes={404: "no_waiting_instance"},
    ),
    # --- documents and instance comments ----------------------------------------------------
    row(
        "POST",
        "/api/instances/{instance_id}/documents",
        with_status(SAMS, 201),
        pdf_upload,
        instance_id="A",
        note="sam's order",
    ),
    row(
        "POST",
        "/api/instances/{instance_id}/documents",
        with_status(NOT_SAMS, 201),
        pdf_upload,
        instance_id="B",
        note="admin's order",
    ),
    row("GET", "/api/instances/{instance_id}/documents", SAMS, instance_id="A", note="sam's"),
    row(
        "GET",
        "/api/instances/{instance_id}/documents",
        NOT_SAMS,
        instance_id="B",
        note="admin's",
    ),
    row("GET", "/api/documents/{document_id}", SAMS, document_id="docA", note="on sam's order"),
    row(
        "GET",
        "/api/documents/{document_id}",
        NOT_SAMS,
        document_id="docB",
        note="on admin's order",
    ),
    # the uploader while the instance runs, an admin always (test_documents has the 403s)
    row(
        "DELETE",
        "/api/documents/{document_id}",
        with_status(SAMS, 204),
        document_id="docA",
        note="sam uploaded it",
    ),
    row(
        "DELETE",
        "/api/documents/{document_id}",
        with_status(NOT_SAMS, 204),
        document_id="docB",
        note="admin uploaded it",
    ),
    row("GET", "/api/instances/{instance_id}/comments", SAMS, instance_id="A", note="sam's"),
    row("GET", "/api/instances/{instance_id}/comments", NOT_SAMS, instance_id="B", note="admin's"),
    row(
        "POST",
        "/api/instances/{instance_id}/comments",
        with_status(SAMS, 201),
        body({"body": "called the customer"}),
        instance_id="A",
        note="sam's",
    ),
    row(
        "POST",
        "/api/instances/{instance_id}/comments",
        with_status(NOT_SAMS, 201),
        body({"body": "called the customer"}),
        instance_id="B",
        note="admin's",
    ),
    # --- out of office and notifications ----------------------------------------------------
    row("GET", "/api/out-of-office", ALL),
    row(
        "POST",
        "/api/out-of-office",
        with_status(ALL, 201),
        body(FUTURE_WINDOW),
        note="my own window",
    ),
    row(
        "POST",
        "/api/out-of-office",
        with_status(ADMIN, 201),
        body({**FUTURE_WINDOW, "user": "{person}"}),
        note="someone else's",
    ),
    row(
        "DELETE",
        "/api/out-of-office/{window_id}",
        (401, 204, 404, 404, 204),
        window_id="window",
        note="sam's window",
    ),
    row("GET", "/api/notifications", ALL),
    row(
        "POST",
        "/api/notifications/{notification_id}/read",
        (401, 204, 404, 404, 404),
        notification_id="notification",
        note="sam's",
    ),
    row("POST", "/api/notifications/read-all", with_status(ALL, 204)),
    # --- the clock --------------------------------------------------------------------------
    row("GET", "/api/clock", ALL),
    row(
        "POST",
        "/api/clock/advance",
        (401, 403, 403, 403, 409),
        body({"by": "PT1M"}),
        note="on the system clock",
        codes={409: "system_clock"},
    ),
    # --- webhook secrets --------------------------------------------------------------------
    row("GET", "/api/admin/webhooks/{key}/secrets", ADMIN, key="order_management"),
    row(
        "POST", "/api/admin/webhooks/{key}/secrets", with_status(ADMIN, 201), key="order_management"
    ),
    row(
        "DELETE",
        "/api/admin/webhooks/{key}/secrets/{secret_id}",
        (401, 403, 403, 403, 404),
        key="order_management",
        secret_id="calendar_absent",
        note="a secret nobody made",
    ),
    # --- message hooks and dead letters -----------------------------------------------------
    row("GET", "/api/admin/message-hooks", ADMIN),
    row(
        "PUT",
        "/api/admin/message-hooks/{name}",
        ADMIN,
        body({"correlation": "body.parcel", "mapping": {"at": "body.at"}}),
        name="hook",
    ),
    row("GET", "/api/admin/message-hooks/{name}", ADMIN, name="hook"),
    row("DELETE", "/api/admin/message-hooks/{name}", with_status(ADMIN, 204), name="hook"),
    row("GET", "/api/admin/message-hooks/{name}/secrets", ADMIN, name="hook"),
    row("POST", "/api/admin/message-hooks/{name}/secrets", with_status(ADMIN, 201), name="hook"),
    row(
        "DELETE",
        "/api/admin/message-hooks/{name}/secrets/{secret_id}",
        (401, 403, 403, 403, 404),
        name="hook",
        secret_id="calendar_absent",
        note="a secret nobody made",
    ),
    row("GET", "/api/admin/dead-letters", ADMIN),
    row("GET", "/api/admin/dead-letters/{letter_id}", ADMIN, letter_id="dead"),
    row(
        "POST",
        "/api/admin/dead-letters/{letter_id}/replay",
        (401, 403, 403, 403, 409),
        letter_id="dead",
        note="its workflow is still not published",
        codes={409: "replay_failed"},
    ),
    row("POST", "/api/admin/dead-letters/{letter_id}/discard", ADMIN, letter_id="dead"),
    # --- event endpoints --------------------------------------------------------------------
    row("GET", "/api/admin/event-endpoints", ADMIN),
    row(
        "POST",
        "/api/admin/event-endpoints",
        with_status(ADMIN, 201),
        body({"url": "http://127.0.0.1:9/{tag}", "event_types": ["task.overdue"]}),
    ),
    row("GET", "/api/admin/event-endpoints/{endpoint_id}", ADMIN, endpoint_id="endpoint"),
    row(
        "PATCH",
        "/api/admin/event-endpoints/{endpoint_id}",
        ADMIN,
        body({"description": "ERP"}),
        endpoint_id="endpoint",
    ),
    row(
        "DELETE",
        "/api/admin/event-endpoints/{endpoint_id}",
        with_status(ADMIN, 204),
        endpoint_id="endpoint",
    ),
    row(
        "POST",
        "/api/admin/event-endpoints/{endpoint_id}/rotate",
        ADMIN,
        body({}),
        endpoint_id="endpoint",
    ),
    row(
        "GET",
        "/api/admin/event-endpoints/{endpoint_id}/deliveries",
        ADMIN,
        endpoint_id="endpoint",
    ),
    row(
        "POST",
        "/api/admin/event-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
        with_status(ADMIN, 404),
        endpoint_id="endpoint",
        delivery_id="version",  # the constant "1": the world's endpoint has no deliveries
        note="the endpoint has no delivery 1",
    ),
    # --- branding ---------------------------------------------------------------------------
    row("GET", "/api/admin/branding", ADMIN),
    row("PUT", "/api/admin/branding", ADMIN, body({"name": "Acme"})),
    row(
        "POST",
        "/api/admin/branding/test-email",
        with_status(ADMIN, 409),
        body({"to": "me@example.com"}),
        note="no SMTP server in the permission tests",
    ),
    # --- retention --------------------------------------------------------------------------
    row("GET", "/api/admin/retention", ADMIN),
    row(
        "PUT",
        "/api/admin/retention/{key}",
        ADMIN,
        body({"days": 365, "action": "archive"}),
        key="order_management",
    ),
    row("POST", "/api/admin/retention/sweep", ADMIN),
    # --- business calendars -----------------------------------------------------------------
    row("GET", "/api/calendars", ALL),
    row(
        "PUT", "/api/calendars/{name}", ADMIN, body({"timezone": "Europe/Berlin"}), name="calendar"
    ),
    row(
        "DELETE",
        "/api/calendars/{name}",
        (401, 403, 403, 403, 404),
        name="calendar_absent",
        note="a calendar nobody made",
    ),
    # --- data tables ------------------------------------------------------------------------
    row("GET", "/api/tables", ALL),
    row(
        "POST",
        "/api/tables",
        with_status(ADMIN, 201),
        body(
            {
                "name": "n_{tag}_{who}",
                "columns": [{"name": "sku", "type": "string"}],
                "key_columns": ["sku"],
            }
        ),
    ),
    row("GET", "/api/tables/{name}", ALL, name="table"),
    row("DELETE", "/api/tables/{name}", with_status(ADMIN, 204), name="table"),
    row("GET", "/api/tables/{name}/rows", ALL, name="table"),
    row(
        "POST",
        "/api/tables/{name}/rows",
        with_status(ADMIN, 201),
        body({"values": {"sku": "N-{who}", "qty": 2}}),
        name="table",
    ),
    row("GET", "/api/tables/{name}/rows/{row_id}", ALL, name="table", row_id="row"),
    row(
        "PUT",
        "/api/tables/{name}/rows/{row_id}",
        ADMIN,
        body({"values": {"sku": "X-1", "qty": 5}}),
        name="table",
        row_id="row",
    ),
    row(
        "DELETE",
        "/api/tables/{name}/rows/{row_id}",
        with_status(ADMIN, 204),
        name="table",
        row_id="row",
    ),
    row("GET", "/api/tables/{name}/export.csv", ALL, name="table"),
    row("POST", "/api/tables/{name}/import", ADMIN, csv_import, name="table", note="dry run"),
    # --- administration ---------------------------------------------------------------------
    row("GET", "/api/admin/users", ADMIN),
    row(
        "POST",
        "/api/admin/users",
        with_status(ADMIN, 201),
        body({"username": "u{tag}{who}", "roles": ["employee"]}),
    ),
    row(
        "PATCH",
        "/api/admin/users/{username}",
        ADMIN,
        body({"display_name": "Someone Else"}),
        username="person",
    ),
    row(
        "POST",
        "/api/admin/users/{username}/password",
        ADMIN,
        body({"password": "a-new-password-for-them"}),
        username="person",
    ),
    row("GET", "/api/admin/roles", ALL),
    row("POST", "/api/admin/roles", with_status(ADMIN, 201), body({"name": "n_{tag}_{who}"})),
    row("DELETE", "/api/admin/roles/{name}", with_status(ADMIN, 204), name="role"),
    row("GET", "/api/admin/tokens", ADMIN),
    row("GET", "/api/admin/secrets", ADMIN),
    row("GET", "/api/admin/metrics", ADMIN),
    row(
        "POST",
        "/api/admin/tokens",
        with_status(ADMIN, 201),
        body({"name": "ci", "user": "sam", "scopes": ["read"]}),
    ),
    row("DELETE", "/api/admin/tokens/{token_id}", ADMIN, token_id="token"),
    row("GET", "/api/admin/audit", ADMIN),
    # --- reports (admins and managers; of the matrix's people only admin is a manager) ---
    row("GET", "/api/reports/throughput", ADMIN),
    row("GET", "/api/reports/cycle-time", ADMIN),
    row("GET", "/api/reports/steps", ADMIN),
    row("GET", "/api/reports/sla", ADMIN),
    row("GET", "/api/reports/open-work", ADMIN),
    row(
        "GET",
        "/api/reports/funnel",
        ADMIN,
        lambda w, who: {"params": {"workflow": "order-management"}},
    ),
    row("POST", "/api/reports/query", ADMIN, body(REPORT_QUERY)),
    row("GET", "/api/reports/saved", ADMIN),
    row("POST", "/api/reports/saved", with_status(ADMIN, 201), body(SAVED_REPORT)),
    row(
        "PUT",
        "/api/reports/saved/{report_id}",
        ADMIN,
        body({"name": "Renamed", "pinned": True}),
        report_id="report",
    ),
    row("DELETE", "/api/reports/saved/{report_id}", with_status(ADMIN, 204), report_id="report"),
]
KNOWN_BUGS: dict[str, str] = {}
"""Row id -> the bug that makes it fail (the row is then a strict xfail)."""


def send(client: TestClient, row: Row, world: World, who: str) -> httpx.Response:
    return client.request(row.method, row.url(world), **row.request(world, who))


CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}


def check_cell(response: httpx.Response, expected: int, codes: dict[int, str]) -> str | None:
    """What is wrong with this answer, or None."""
    got = response.status_code
    if got != expected:
        return f"{got} (expected {expected}): {response.text[:300]}"
    if got >= 400:
        try:
            assert_error(response, expected)
        except AssertionError as exc:
            return f"not a JSON error: {exc}"
        code = response.json()["error"]["code"]
        wanted = codes.get(got, CODES.get(got))
        if wanted is not None and code != wanted:
            return f"error code {code!r} for {got}, expected {wanted!r}"
    return None


def client_for(env: Env, who: str, fresh: bool) -> TestClient:
    if not fresh:
        return env.client(who)
    return env.anonymous() if who == "anonymous" else env.login(who)


@pytest.mark.parametrize(
    "matrix_row",
    [
        pytest.param(r, id=r.id, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[r.id])])
        if r.id in KNOWN_BUGS
        else pytest.param(r, id=r.id)
        for r in ROWS
    ],
)
def test_permission_matrix(env: Env, matrix_row: Row) -> None:
    world = build_world(env)
    wrong: list[str] = []
    for who, expected in zip(COLUMNS, matrix_row.expect, strict=True):
        response = send(client_for(env, who, matrix_row.fresh), matrix_row, world, who)
        problem = check_cell(response, expected, matrix_row.codes)
        if problem is not None:
            wrong.append(f"{who}: {problem}")
        if matrix_row.method in UNSAFE and response.status_code not in (401, 403, 404):
            world = build_world(env)  # the next caller meets the same starting point
    assert not wrong, "\n".join([matrix_row.id, *wrong])


# --- every route has a row ------------------------------------------------------------------


def api_routes(env: Env) -> set[tuple[str, str]]:
    """(method, path) of every /api route, from the OpenAPI schema."""
    paths: dict[str, dict[str, Any]] = env.app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/")
        for method in operations
        if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}
    }


def test_every_api_route_has_a_permission_row(env: Env) -> None:
    """A new route fails here until the matrix says who may call it."""
    covered = {(r.method, r.route) for r in ROWS}
    routes = api_routes(env)
    assert routes - covered == set(), "routes with no row in the permission matrix"
    assert covered - routes == set(), "rows for routes that do not exist (renamed?)"


# --- CSRF -----------------------------------------------------------------------------------

UNSAFE_ROWS = [r for r in ROWS if r.method in UNSAFE and r.route != "/api/auth/login"]
"""The login makes the session (it has no CSRF token to check yet): every other unsafe route."""


@pytest.mark.parametrize("header", [None, "not-the-token"], ids=["no header", "wrong header"])
def test_cookie_requests_without_the_csrf_token_are_refused(env: Env, header: str | None) -> None:
    """Every unsafe request made with the session cookie needs the X-CSRF-Token header; even
    an admin's, even where the route would otherwise refuse for another reason."""
    world = build_world(env)
    admin = env.login("admin", csrf=False)
    if header is not None:
        admin.headers["X-CSRF-Token"] = header
    wrong = []
    for r in UNSAFE_ROWS:
        response = send(admin, r, world, "admin")
        try:
            assert_error(response, 403, "csrf")
        except AssertionError as exc:
            wrong.append(f"{r.id}: {exc}")
    assert not wrong, "\n".join(wrong)
    # the session itself is fine: reading works, and writing with the header does
    assert admin.get("/api/me").status_code == 200
    csrf = admin.get("/api/me").json()["csrf_token"]
    admin.headers["X-CSRF-Token"] = csrf
    written = admin.post(f"/api/instances/{world['A']}/comments", json={"body": "ok"})
    assert written.status_code == 201, written.text


# --- API tokens -----------------------------------------------------------------------------


def bearer(env: Env, token: str) -> TestClient:
    client = env.anonymous()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def make_token(env: Env, user: str, scopes: list[str]) -> dict[str, Any]:
    response = env.client("admin").post(
        "/api/admin/tokens", json={"name": f"{user} {scopes}", "user": user, "scopes": scopes}
    )
    assert response.status_code == 201, response.text
    token: dict[str, Any] = response.json()
    return token


def test_a_read_token_reads_as_its_user_and_cannot_write(env: Env) -> None:
    world = build_world(env)
    sam = bearer(env, world["read_token"])
    me = sam.get("/api/me").json()
    assert (me["username"], me["via"], me["csrf_token"]) == ("sam", "token", None)
    wrong = []
    for r in ROWS:
        if r.route == "/api/auth/login":
            continue
        response = send(sam, r, world, "sam")
        if r.method in UNSAFE:
            problem = check_cell(response, 403, {})
            if problem is None and "write" not in response.json()["error"]["message"]:
                problem = f"the refusal does not name the missing scope: {response.text}"
        else:  # a token sees exactly what its user sees
            problem = check_cell(response, r.expect[COLUMNS.index("sam")], r.codes)
        if problem is not None:
            wrong.append(f"{r.id}: {problem}")
    assert not wrong, "\n".join(wrong)


def test_a_write_only_token_cannot_read(env: Env) -> None:
    world = build_world(env)
    token = bearer(env, make_token(env, "sam", ["write"])["token"])
    for path in ("/api/me", "/api/tasks", f"/api/instances/{world['A']}"):
        assert_error(token.get(path), 403, "forbidden")
    started = token.post(
        "/api/workflows/order-management/instances", json={"data": order(f"T-{world['tag']}")}
    )
    assert started.status_code == 201, started.text
    assert started.json()["started_by"] == "sam"


def test_revoked_unknown_and_deactivated_tokens_are_401_everywhere(env: Env) -> None:
    world = build_world(env)
    admin = env.client("admin")
    revoked = make_token(env, "sam", ["*"])
    assert admin.delete(f"/api/admin/tokens/{revoked['id']}").status_code == 200
    username = f"gone{world['tag']}"
    made = admin.post("/api/admin/users", json={"username": username, "roles": ["employee"]})
    assert made.status_code == 201, made.text
    orphan = make_token(env, username, ["*"])
    off = admin.patch(f"/api/admin/users/{username}", json={"is_active": False})
    assert off.status_code == 200, off.text
    for token in (revoked["token"], "sw_not-a-token", orphan["token"], ""):
        client = bearer(env, token)
        wrong = []
        for r in ROWS:
            if r.route == "/api/auth/login" or (not token and r.route == "/api/track/{token}"):
                continue  # an empty Bearer is no credential: the tracking link is public
            response = send(client, r, world, "sam")
            problem = check_cell(response, 401, {})
            if problem is not None:
                wrong.append(f"{r.id}: {problem}")
        assert not wrong, "\n".join([f"token {token[:8]!r}", *wrong])


def test_changes_to_people_and_tokens_take_effect_at_once(env: Env) -> None:
    """Who-is-who is cached for a few seconds; an admin's change must not wait for that."""
    world = build_world(env)
    admin = env.client("admin")
    token = make_token(env, "sam", ["*"])
    client = bearer(env, token["token"])
    assert client.get("/api/me").status_code == 200  # now it is cached
    assert admin.delete(f"/api/admin/tokens/{token['id']}").status_code == 200
    assert_error(client.get("/api/me"), 401, "unauthenticated")

    person = env.login(world["person"], password=world["person_password"])
    review = f"/api/tasks/{world['review']}"
    assert_error(person.get(review), 404, "not_found")
    joined = admin.patch(
        f"/api/admin/users/{world['person']}", json={"roles": ["employee", "sales"]}
    )
    assert joined.status_code == 200, joined.text
    assert person.get(review).status_code == 200
    left = admin.patch(f"/api/admin/users/{world['person']}", json={"roles": ["employee"]})
    assert left.status_code == 200, left.text
    assert_error(person.get(review), 404, "not_found")
    assert_error(person.post(f"{review}/claim"), 404, "not_found")


def test_a_bearer_token_wins_over_a_session_cookie(env: Env) -> None:
    """A request with both is judged by the token (and needs no CSRF header)."""
    world = build_world(env)
    admin = env.login("admin", csrf=False)
    admin.headers["Authorization"] = f"Bearer {world['read_token']}"
    assert admin.get("/api/me").json()["username"] == "sam"
    assert_error(admin.get(f"/api/instances/{world['B']}"), 404, "not_found")
    assert_error(admin.post(f"/api/instances/{world['B']}/cancel", json={}), 403, "forbidden")


# --- lists and visibility -------------------------------------------------------------------


def ids(page: Any) -> set[str]:
    items = page["items"] if isinstance(page, dict) else page
    return {item["id"] for item in items}


def test_lists_show_only_what_one_takes_part_in(env: Env) -> None:
    world = build_world(env)
    sam, walt, dana, admin = (env.client(u) for u in ("sam", "walt", "dana", "admin"))
    fiona = env.client("fiona")
    a, b = world["A"], world["B"]
    everyone = {"limit": 200}

    assert a in ids(sam.get("/api/instances", params=everyone).json())
    assert b not in ids(sam.get("/api/instances", params=everyone).json())
    for outsider in (walt, dana):
        assert {a, b} & ids(outsider.get("/api/instances", params=everyone).json()) == set()
    assert {a, b} <= ids(admin.get("/api/instances", params=everyone).json())
    assert b in ids(fiona.get("/api/instances", params=everyone).json())  # through her task

    # filters do not reach past what one may see
    for filters in (
        {"business_key": f"B-{world['tag']}"},
        {"workflow": "order-management", "limit": "200"},
    ):
        assert b not in ids(sam.get("/api/instances", params=filters).json())
    for scope in ("inbox", "mine", "roles", "delegated", "done", "all"):
        params = {"scope": scope, "instance": b, "limit": "200"}
        for outsider in (sam, walt, dana):
            page = outsider.get("/api/tasks", params=params).json()
            assert page["total"] == 0, (scope, page)

    def tasks(client: TestClient, instance_id: str, scope: str = "inbox") -> set[str]:
        return ids(
            client.get("/api/tasks", params={"scope": scope, "instance": instance_id}).json()
        )

    assert tasks(fiona, b) == {world["capture"]}
    assert tasks(fiona, a, "all") == set()
    assert tasks(sam, a) == {world["review"]}
    assert tasks(walt, a, "all") == set()
    assert tasks(admin, a, "all") == {world["review"]}


def test_a_data_field_filter_finds_only_visible_instances(
    env: Env, request: pytest.FixtureRequest
) -> None:
    world = build_world(env)
    sam, admin = env.client("sam"), env.client("admin")
    for order_id, instance_id in (
        (f"A-{world['tag']}", world["A"]),
        (f"B-{world['tag']}", world["B"]),
    ):
        response = admin.get("/api/instances", params={"field": f"order_id={order_id}"})
        assert response.status_code == 200, response.text
        assert ids(response.json()) == {instance_id}
    response = sam.get("/api/instances", params={"field": f"order_id=B-{world['tag']}"})
    assert response.status_code == 200, response.text
    assert ids(response.json()) == set()
    response = sam.get("/api/instances", params={"field": f"order_id=A-{world['tag']}"})
    assert ids(response.json()) == {world["A"]}


def test_finance_works_on_the_invoice_order_but_may_not_cancel_it(env: Env) -> None:
    world = build_world(env)
    fiona = env.client("fiona")
    assert fiona.get(f"/api/instances/{world['B']}").status_code == 200
    assert fiona.get(f"/api/documents/{world['docB']}").status_code == 200
    assert_error(fiona.get(f"/api/instances/{world['A']}"), 404, "not_found")
    assert_error(fiona.get(f"/api/documents/{world['docA']}"), 404, "not_found")
    assert_error(fiona.get(f"/api/tasks/{world['review']}"), 404, "not_found")
    assert_error(fiona.post(f"/api/instances/{world['B']}/cancel", json={}), 403, "forbidden")
    done = fiona.post(f"/api/tasks/{world['capture']}/complete", json={"data": {"captured": True}})
    assert done.status_code == 200, done.text
    # having done it, she still sees it, and the instance, but cannot act on it again
    assert fiona.get(f"/api/tasks/{world['capture']}").status_code == 200
    assert fiona.get(f"/api/instances/{world['B']}/history").status_code == 200
    again = fiona.post(f"/api/tasks/{world['capture']}/claim")
    assert_error(again, 409, "task_not_open")


def test_a_task_held_by_someone_else_is_not_for_the_rest_of_the_pool(env: Env) -> None:
    """Once claimed, a pool task is the holder's: others of the role no longer see it."""
    world = build_world(env)
    admin = env.client("admin")
    moved = admin.post(f"/api/tasks/{world['review']}/reassign", json={"role": "warehouse"})
    assert moved.status_code == 200, moved.text
    walt, wendy, sam = env.client("walt"), env.client("wendy"), env.client("sam")
    assert walt.post(f"/api/tasks/{world['review']}/claim").status_code == 200
    for other in (wendy, sam):
        assert_error(other.get(f"/api/tasks/{world['review']}"), 404, "not_found")
        assert_error(
            other.post(f"/api/tasks/{world['review']}/complete", json={"outcome": "approve"}),
            404,
            "not_found",
        )
    # sam still sees his own order, but the task in it is walt's now
    assert sam.get(f"/api/instances/{world['A']}").status_code == 200


def test_a_logged_out_or_deactivated_session_is_401(env: Env) -> None:
    world = build_world(env)
    sam = env.login("sam")
    assert sam.post("/api/auth/logout").status_code == 204
    assert_error(sam.get("/api/me"), 401, "unauthenticated")
    person = env.login(world["person"], password=world["person_password"])
    off = env.client("admin").patch(
        f"/api/admin/users/{world['person']}", json={"is_active": False}
    )
    assert off.status_code == 200, off.text
    assert_error(person.get("/api/me"), 401, "unauthenticated")
    assert_error(person.post(f"/api/instances/{world['A']}/comments", json={"body": "x"}), 401)
    login = env.anonymous().post(
        "/api/auth/login",
        json={"username": world["person"], "password": world["person_password"]},
    )
    assert_error(login, 401, "bad_credentials")
