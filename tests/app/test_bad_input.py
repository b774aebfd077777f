"""Bad input: whatever a client sends, the answer is a 4xx JSON error (never a 500), and a
refused request writes nothing.

Most tests share one app and database per module (``builders.shared_env``) and aim at a
fresh world (``builders.build_world``); tests whose bug leaves the database poisoned run on
conftest's per-test database instead (``fresh``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.settings import Settings
from tests.app.builders import (
    FUTURE_WINDOW,
    INCIDENT_AT_START,
    PDF,
    UPLOAD_LIMIT,
    Env,
    World,
    assert_error,
    build_world,
    ensure_incidental,
    ensure_published,
    order,
    shared_env,
    upload,
)
from tests.app.conftest import Template

JSON = {"Content-Type": "application/json"}
MiB = 1024 * 1024


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with shared_env(request, tmp_path_factory) as shared:
        yield shared


@pytest.fixture
def world(env: Env) -> World:
    return build_world(env).make_all()


@pytest.fixture
def fresh(
    request: pytest.FixtureRequest, app: Any, database: Template, settings: Settings
) -> Iterator[Env]:
    """A database of this test's own (conftest's), for bugs that leave bad rows behind."""
    made = Env(
        kind=request.node.callspec.params["database"],
        app=app,
        settings=settings,
        passwords=database.passwords,
    )
    yield made
    made.close()


def xfail_on(request: pytest.FixtureRequest, env: Env, kinds: set[str], reason: str) -> None:
    if env.kind in kinds:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def instance_count(env: Env, workflow: str = "order-management") -> int:
    page = env.client("admin").get("/api/instances", params={"workflow": workflow, "limit": 1})
    assert page.status_code == 200, page.text
    total: int = page.json()["total"]
    return total


def audit_count(env: Env, action: str) -> int:
    page = env.client("admin").get("/api/admin/audit", params={"action": action, "limit": 1})
    assert page.status_code == 200, page.text
    total: int = page.json()["total"]
    return total


def snapshot(env: Env, instance_id: str) -> tuple[dict[str, Any], int]:
    """The instance as admin sees it, and the length of its history."""
    admin = env.client("admin")
    instance = admin.get(f"/api/instances/{instance_id}")
    history = admin.get(f"/api/instances/{instance_id}/history")
    assert instance.status_code == history.status_code == 200, (instance.text, history.text)
    return instance.json(), len(history.json())


def send(env: Env, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return env.client(who).request(method, path, **kwargs)


# --- malformed JSON -------------------------------------------------------------------------


def json_routes(world: World) -> list[tuple[str, str, str]]:
    """(who, method, path): routes that take a JSON body, each called by someone allowed."""
    a, review, capture = world["A"], world["review"], world["capture"]
    return [
        ("anonymous", "POST", "/api/auth/login"),
        ("admin", "POST", "/api/workflows"),
        ("admin", "PUT", f"/api/workflows/{world['draft']}/draft"),
        ("sam", "POST", "/api/workflows/order-management/instances"),
        ("sam", "POST", f"/api/tasks/{review}/complete"),
        ("fiona", "POST", f"/api/tasks/{capture}/complete"),
        ("sam", "POST", f"/api/tasks/{review}/delegate"),
        ("admin", "POST", f"/api/tasks/{review}/reassign"),
        ("sam", "POST", f"/api/tasks/{review}/comments"),
        ("sam", "POST", f"/api/instances/{a}/cancel"),
        ("sam", "POST", f"/api/instances/{a}/comments"),
        ("admin", "POST", f"/api/instances/{a}/data"),
        ("admin", "POST", f"/api/instances/{a}/suspend"),
        ("admin", "POST", "/api/messages"),
        ("admin", "POST", "/api/templates/order-management/use"),
        ("admin", "POST", "/api/tables"),
        ("admin", "POST", f"/api/tables/{world['table']}/rows"),
        ("admin", "PUT", f"/api/tables/{world['table']}/rows/{world['row']}"),
        ("admin", "POST", "/api/admin/users"),
        ("admin", "PATCH", f"/api/admin/users/{world['person']}"),
        ("admin", "POST", "/api/admin/roles"),
        ("admin", "POST", "/api/admin/tokens"),
    ]


@pytest.mark.parametrize(
    "content",
    [b"{nope", b'{"data": {', b'{"data": {}} trailing', b"{'data': {}}", b'{"a": 1,}'],
    ids=["garbage", "truncated", "trailing", "single quotes", "trailing comma"],
)
def test_malformed_json_is_422_everywhere(env: Env, world: World, content: bytes) -> None:
    before = snapshot(env, world["A"])
    wrong = []
    for who, method, path in json_routes(world):
        response = send(env, who, method, path, content=content, headers=JSON)
        try:
            assert_error(response, 422, "invalid_request")
            assert "JSON" in response.json()["error"]["message"]
        except AssertionError as exc:
            wrong.append(f"{who} {method} {path}: {exc}")
    assert not wrong, "\n".join(wrong)
    assert snapshot(env, world["A"]) == before


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"", JSON),
        (b"null", JSON),
        (b"[]", JSON),
        (b'"data"', JSON),
        (b"42", JSON),
        (b'{"data": {}}', {"Content-Type": "text/plain"}),
        (b'{"data": "\xff\xfe"}', JSON),
        (b'{"data": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", JSON),
    ],
    ids=["empty", "null", "array", "string", "number", "text/plain", "bad utf-8", "too deep"],
)
def test_a_body_that_is_not_a_json_object_is_a_4xx(
    env: Env, world: World, content: bytes, headers: dict[str, str]
) -> None:
    count = instance_count(env)
    for who, method, path in (
        ("sam", "POST", "/api/workflows/order-management/instances"),
        ("sam", "POST", f"/api/tasks/{world['review']}/complete"),
        ("admin", "POST", "/api/messages"),
    ):
        response = send(env, who, method, path, content=content, headers=headers)
        assert 400 <= response.status_code < 500, response.text
        assert_error(response)
    assert instance_count(env) == count
    task = env.client("sam").get(f"/api/tasks/{world['review']}").json()
    assert task["status"] == "open"


# --- wrong types, unknown fields ------------------------------------------------------------


def wrong_bodies(world: World) -> list[tuple[str, str, str, Any, str]]:
    """(who, method, path, body, the field the error names)."""
    a, review = world["A"], world["review"]
    start = "/api/workflows/order-management/instances"
    return [
        ("sam", "POST", start, {"data": "x"}, "data"),
        ("sam", "POST", start, {"data": [1, 2]}, "data"),
        ("sam", "POST", start, {"data": {}, "priority": 1}, "priority"),
        ("sam", "POST", f"/api/tasks/{review}/complete", {"outcome": 5}, "outcome"),
        ("sam", "POST", f"/api/tasks/{review}/complete", {"outcome": ["approve"]}, "outcome"),
        ("sam", "POST", f"/api/tasks/{review}/complete", {"data": "yes"}, "data"),
        (
            "sam",
            "POST",
            f"/api/tasks/{review}/complete",
            {"outcome": "approve", "by": "admin"},
            "by",
        ),
        ("sam", "POST", f"/api/tasks/{review}/delegate", {"to": ""}, "to"),
        ("sam", "POST", f"/api/tasks/{review}/delegate", {"to": ["walt"]}, "to"),
        ("admin", "POST", f"/api/tasks/{review}/reassign", {"user": 5}, "user"),
        ("sam", "POST", f"/api/tasks/{review}/comments", {"body": ""}, "body"),
        ("sam", "POST", f"/api/tasks/{review}/comments", {"body": "x" * 10_001}, "body"),
        ("sam", "POST", f"/api/instances/{a}/comments", {"body": None}, "body"),
        ("sam", "POST", f"/api/instances/{a}/cancel", {"reason": 5}, "reason"),
        ("admin", "POST", f"/api/instances/{a}/data", {"data": {}}, "reason"),
        ("admin", "POST", f"/api/instances/{a}/data", {"data": {}, "reason": ""}, "reason"),
        (
            "admin",
            "POST",
            f"/api/instances/{a}/data",
            {"data": {}, "reason": "x", "version": "latest"},
            "version",
        ),
        ("admin", "POST", "/api/workflows", {"key": "Not A Key!"}, "key"),
        ("admin", "POST", "/api/workflows", {"key": 5}, "key"),
        ("admin", "POST", "/api/workflows", {"key": "ok-key", "draft": "x"}, "draft"),
        ("admin", "PUT", f"/api/workflows/{world['draft']}/draft", {"draft": []}, "draft"),
        (
            "admin",
            "PUT",
            f"/api/workflows/{world['draft']}/draft",
            {"draft": {}, "revision": "one"},
            "revision",
        ),
        ("admin", "POST", "/api/messages", {"message": "", "correlation": "x"}, "message"),
        ("admin", "POST", "/api/messages", {"message": "delivered"}, "correlation"),
        (
            "admin",
            "POST",
            "/api/messages",
            {"message": "delivered", "correlation": "x", "data": 5},
            "data",
        ),
        ("anonymous", "POST", "/api/auth/login", {"username": "sam"}, "password"),
        ("anonymous", "POST", "/api/auth/login", {"username": 5, "password": "x"}, "username"),
        (
            "anonymous",
            "POST",
            "/api/auth/login",
            {"username": "sam", "password": "x", "remember": True},
            "remember",
        ),
        (
            "admin",
            "POST",
            f"/api/tables/{world['table']}/rows",
            {"values": {"sku": "Z"}, "id": "mine"},
            "id",
        ),
        ("admin", "POST", "/api/admin/users", {"username": "Not Valid"}, "username"),
        ("admin", "POST", "/api/admin/roles", {"name": 7}, "name"),
        (
            "admin",
            "POST",
            "/api/admin/tokens",
            {"name": "t", "user": "sam", "scopes": ["root"]},
            "scopes",
        ),
    ]


def test_wrong_types_and_unknown_fields_are_422(env: Env, world: World) -> None:
    before = snapshot(env, world["A"])
    count = instance_count(env)
    wrong = []
    for who, method, path, payload, field_name in wrong_bodies(world):
        response = send(env, who, method, path, json=payload)
        try:
            assert_error(response, 422, "invalid_request")
            named = {p for d in response.json()["error"]["details"] for p in d["loc"]}
            assert field_name in named, response.text
        except AssertionError as exc:
            wrong.append(f"{who} {method} {path} {str(payload)[:60]}: {exc}")
    assert not wrong, "\n".join(wrong)
    assert snapshot(env, world["A"]) == before
    assert instance_count(env) == count
    assert env.client("sam").get(f"/api/tasks/{world['review']}").json()["status"] == "open"


# --- forms and data schemas: refused, nothing written ---------------------------------------


@pytest.mark.parametrize(
    "data",
    [{"captured": "yes"}, {}, {"note": "no captured field"}, {"captured": True, "note": 5}],
    ids=["wrong type", "empty", "required missing", "optional wrong type"],
)
def test_form_data_failing_its_schema_is_422_and_writes_nothing(
    env: Env, world: World, data: dict[str, Any]
) -> None:
    fiona = env.client("fiona")
    task = world["capture"]
    before = snapshot(env, world["B"])
    response = fiona.post(f"/api/tasks/{task}/complete", json={"data": data})
    assert_error(response, 422, "invalid_form")
    assert response.json()["error"]["details"], "the error says what is wrong"
    assert fiona.get(f"/api/tasks/{task}").json()["status"] == "open"
    assert snapshot(env, world["B"]) == before  # same version, data, tasks, history
    # and the task is not wedged: filled in properly, it completes
    done = fiona.post(f"/api/tasks/{task}/complete", json={"data": {"captured": True}})
    assert done.status_code == 200, done.text


@pytest.mark.parametrize("outcome", ["maybe", "", None, "APPROVE"])
def test_an_outcome_the_approval_does_not_offer_is_422_and_writes_nothing(
    env: Env, world: World, outcome: str | None
) -> None:
    sam = env.client("sam")
    before = snapshot(env, world["A"])
    response = sam.post(f"/api/tasks/{world['review']}/complete", json={"outcome": outcome})
    assert_error(response, 422, "invalid_outcome")
    assert sam.get(f"/api/tasks/{world['review']}").json()["status"] == "open"
    assert snapshot(env, world["A"]) == before


def broken_orders() -> list[tuple[str, dict[str, Any]]]:
    good = order("BROKEN-1")
    return [
        ("no order_id", {k: v for k, v in good.items() if k != "order_id"}),
        ("empty order_id", {**good, "order_id": ""}),
        ("customer not an object", {**good, "customer": "Ada"}),
        ("no items", {**good, "items": []}),
        ("quantity 0", {**good, "items": [{"sku": "MUG-01", "quantity": 0}]}),
        ("quantity text", {**good, "items": [{"sku": "MUG-01", "quantity": "one"}]}),
        ("negative total", {**good, "total": -1}),
        ("total text", {**good, "total": "lots"}),
        ("unknown payment method", {**good, "payment": {"method": "cash"}}),
        ("empty", {}),
    ]


def test_start_data_failing_the_data_schema_is_422_and_creates_nothing(env: Env) -> None:
    sam = env.client("sam")
    count, started = instance_count(env), audit_count(env, "instance.started")
    wrong = []
    for name, data in broken_orders():
        response = sam.post("/api/workflows/order-management/instances", json={"data": data})
        try:
            assert_error(response, 422, "invalid_data")
            assert response.json()["error"]["details"], "the error says what is wrong"
        except AssertionError as exc:
            wrong.append(f"{name}: {exc}")
    assert not wrong, "\n".join(wrong)
    assert instance_count(env) == count
    assert audit_count(env, "instance.started") == started


# --- unknown ids ----------------------------------------------------------------------------

NOPE = "0123456789abcdef0123456789abcdef"


def unknown_targets(world: World) -> list[tuple[str, str, Any]]:
    """(method, path, body) aiming at things that do not exist, asked by admin (who sees all)."""
    return [
        ("GET", f"/api/tasks/{NOPE}", None),
        ("POST", f"/api/tasks/{NOPE}/claim", None),
        ("POST", f"/api/tasks/{NOPE}/unclaim", None),
        ("POST", f"/api/tasks/{NOPE}/complete", {}),
        ("POST", f"/api/tasks/{NOPE}/delegate", {"to": "walt"}),
        ("POST", f"/api/tasks/{NOPE}/reassign", {"user": "walt"}),
        ("GET", f"/api/tasks/{NOPE}/comments", None),
        ("POST", f"/api/tasks/{NOPE}/comments", {"body": "x"}),
        ("GET", f"/api/instances/{NOPE}", None),
        ("GET", f"/api/instances/{NOPE}/history", None),
        ("POST", f"/api/instances/{NOPE}/cancel", {}),
        ("POST", f"/api/instances/{NOPE}/suspend", {}),
        ("POST", f"/api/instances/{NOPE}/resume", {}),
        ("POST", f"/api/instances/{NOPE}/data", {"data": {}, "reason": "x"}),
        ("POST", f"/api/instances/{NOPE}/incidents/{world['incident']}/retry", None),
        ("POST", f"/api/instances/{world['I']}/incidents/{NOPE}/retry", None),
        ("POST", f"/api/instances/{world['A']}/incidents/{world['incident']}/retry", None),
        ("GET", f"/api/instances/{NOPE}/documents", None),
        ("GET", f"/api/instances/{NOPE}/comments", None),
        ("POST", f"/api/instances/{NOPE}/comments", {"body": "x"}),
        ("GET", f"/api/documents/{NOPE}", None),
        ("GET", "/api/workflows/no-such-flow", None),
        ("PUT", "/api/workflows/no-such-flow/draft", {"draft": {}}),
        ("POST", "/api/workflows/no-such-flow/validate", None),
        ("POST", "/api/workflows/no-such-flow/publish", None),
        ("DELETE", "/api/workflows/no-such-flow", None),
        ("POST", "/api/workflows/no-such-flow/instances", {"data": {}}),
        ("GET", "/api/workflows/no-such-flow/versions/1", None),
        ("GET", "/api/workflows/order-management/versions/99", None),
        ("GET", "/api/workflows/order-management/versions/0", None),
        ("GET", "/api/workflows/order-management/versions/-1", None),
        ("POST", "/api/templates/no-such-template/use", {"key": f"t-{world['tag']}"}),
        ("GET", "/api/tables/no_such_table", None),
        ("GET", "/api/tables/no_such_table/rows", None),
        ("GET", f"/api/tables/{world['table']}/rows/{NOPE}", None),
        ("PUT", f"/api/tables/{world['table']}/rows/{NOPE}", {"values": {"sku": "Q"}}),
        ("DELETE", f"/api/tables/{world['table']}/rows/{NOPE}", None),
        ("GET", f"/api/tables/inventory/rows/{world['row']}", None),  # a row of another table
        ("GET", "/api/tables/no_such_table/export.csv", None),
        ("PATCH", "/api/admin/users/nobody", {"display_name": "x"}),
        ("POST", "/api/admin/users/nobody/password", {}),
        ("DELETE", "/api/admin/roles/no_such_role", None),
        ("DELETE", f"/api/admin/tokens/{NOPE}", None),
        ("DELETE", f"/api/out-of-office/{NOPE}", None),
        ("POST", f"/api/notifications/{NOPE}/read", None),
    ]


def test_unknown_ids_are_404(env: Env, world: World) -> None:
    admin = env.client("admin")
    wrong = []
    for method, path, payload in unknown_targets(world):
        response = admin.request(method, path, json=payload)
        try:
            assert_error(response, 404, "not_found")
        except AssertionError as exc:
            wrong.append(str(exc))
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "path",
    [
        "/api/instances/..%2F..",
        "/api/instances/..%2F..%2Fadmin%2Fusers",
        "/api/instances/%2e%2e",
        "/api/instances/" + "a" * 5000,
        "/api/instances/%E2%98%83",
        "/api/instances/a%20b",
        "/api/instances/%25",
        "/api/instances/'%20OR%20'1'='1",
        "/api/tasks/" + "9" * 400,
        "/api/tasks/%F0%9F%92%A5",
        "/api/documents/..%2F..%2Fstepwise.db",
        "/api/documents/" + "f" * 64,
        "/api/workflows/" + "k" * 1000,
        "/api/workflows/order-management/versions/one",
        "/api/workflows/order-management/versions/1.5",
        "/api/tables/inventory/rows/" + "r" * 3000,
        "/api/templates/..%2F..%2Fpyproject/use",
    ],
)
def test_odd_ids_in_the_path_are_404_or_422(env: Env, path: str) -> None:
    admin = env.client("admin")
    method = "POST" if path.endswith("/use") else "GET"
    response = admin.request(method, path, json={"key": "odd-key"} if method == "POST" else None)
    assert response.status_code in (404, 422), response.text
    assert_error(response)


# --- stale versions and double work ---------------------------------------------------------


def test_a_draft_saved_from_an_old_revision_is_409_and_keeps_the_newer(
    env: Env, world: World
) -> None:
    dana, admin = env.client("dana"), env.client("admin")
    key = world["draft"]
    revision = dana.get(f"/api/workflows/{key}").json()["draft_revision"]
    theirs = {"format": 1, "name": "Admin's edit", "nodes": [], "edges": []}
    saved = admin.put(f"/api/workflows/{key}/draft", json={"draft": theirs, "revision": revision})
    assert saved.status_code == 200, saved.text
    mine = {"format": 1, "name": "Dana's edit", "nodes": [], "edges": []}
    stale = dana.put(f"/api/workflows/{key}/draft", json={"draft": mine, "revision": revision})
    assert_error(stale, 409, "stale_draft")
    now = dana.get(f"/api/workflows/{key}").json()
    assert now["draft"]["name"] == "Admin's edit"
    assert now["draft_revision"] == revision + 1


def test_a_data_correction_from_a_stale_version_is_409_and_changes_nothing(
    env: Env, world: World
) -> None:
    admin = env.client("admin")
    instance_id = world["A"]
    version = admin.get(f"/api/instances/{instance_id}").json()["version"]
    first = admin.post(
        f"/api/instances/{instance_id}/data",
        json={"data": {"note": "first"}, "reason": "a", "version": version},
    )
    assert first.status_code == 200, first.text
    before = snapshot(env, instance_id)
    for stale_version in (version, version - 1, version + 100):
        stale = admin.post(
            f"/api/instances/{instance_id}/data",
            json={"data": {"note": "second"}, "reason": "b", "version": stale_version},
        )
        assert_error(stale, 409, "stale_version")
    after = snapshot(env, instance_id)
    assert after == before
    assert after[0]["data"]["note"] == "first"


def test_a_row_saved_from_a_stale_version_is_409(env: Env, world: World) -> None:
    admin = env.client("admin")
    url = f"/api/tables/{world['table']}/rows/{world['row']}"
    version = admin.get(url).json()["version"]
    first = admin.put(url, json={"values": {"sku": "X-1", "qty": 7}, "version": version})
    assert first.status_code == 200, first.text
    stale = admin.put(url, json={"values": {"sku": "X-1", "qty": 9}, "version": version})
    assert_error(stale, 409, "stale_row")
    assert admin.get(url).json()["values"]["qty"] == 7


def test_doing_a_thing_twice_is_409(env: Env, world: World) -> None:
    sam, admin = env.client("sam"), env.client("admin")
    review = world["review"]
    assert sam.post(f"/api/tasks/{review}/complete", json={"outcome": "approve"}).status_code == 200
    history = snapshot(env, world["A"])[1]
    for action, payload in (
        ("complete", {"outcome": "approve"}),
        ("complete", {"outcome": "reject"}),
        ("claim", None),
        ("unclaim", None),
        ("delegate", {"to": "walt"}),
    ):
        again = sam.post(f"/api/tasks/{review}/{action}", json=payload)
        assert_error(again, 409, "task_not_open")
    assert_error(
        admin.post(f"/api/tasks/{review}/reassign", json={"user": "walt"}), 409, "task_not_open"
    )
    assert snapshot(env, world["A"])[1] == history
    assert sam.post(f"/api/instances/{world['A']}/cancel", json={}).status_code == 200
    finished: tuple[tuple[str, dict[str, Any]], ...] = (
        ("cancel", {}),
        ("suspend", {}),
        ("resume", {}),
        ("data", {"data": {"x": 1}, "reason": "late"}),
    )
    for action, payload in finished:
        again = admin.post(f"/api/instances/{world['A']}/{action}", json=payload)
        assert_error(again, 409, "instance_finished")


def test_making_what_exists_is_409(env: Env, world: World) -> None:
    admin = env.client("admin")
    for path, payload in (
        ("/api/workflows", {"key": world["draft"]}),
        ("/api/templates/order-management/use", {"key": "order-management"}),
        (f"/api/tables/{world['table']}/rows", {"values": {"sku": "X-1", "qty": 3}}),
        ("/api/admin/users", {"username": world["person"]}),
        ("/api/admin/roles", {"name": world["role"]}),
    ):
        assert_error(admin.post(path, json=payload), 409)
    assert_error(admin.delete("/api/workflows/order-management"), 409, "published")


# --- sizes ----------------------------------------------------------------------------------


def test_a_json_body_over_the_limit_is_413_and_creates_nothing(env: Env, world: World) -> None:
    big = "x" * (MiB + 1)
    count = instance_count(env)
    comments = env.client("sam").get(f"/api/instances/{world['A']}/comments").json()
    for who, path, payload in (
        (
            "sam",
            "/api/workflows/order-management/instances",
            {"data": {**order("BIG"), "pad": big}},
        ),
        ("sam", f"/api/instances/{world['A']}/comments", {"body": big}),
        ("anonymous", "/api/auth/login", {"username": "sam", "password": big}),
        ("admin", "/api/messages", {"message": "delivered", "correlation": big}),
    ):
        response = send(env, who, "POST", path, json=payload)
        assert_error(response, 413, "too_large")
    assert instance_count(env) == count
    assert env.client("sam").get(f"/api/instances/{world['A']}/comments").json() == comments


def test_a_json_body_streamed_without_length_is_held_to_the_limit(env: Env) -> None:
    """Without a Content-Length the size is still counted: a client may stream any body."""
    count = instance_count(env)

    def chunks() -> Iterator[bytes]:
        yield b'{"data": {"order_id": "STREAMED", "customer": {"name": "A", "email": "a@b.c"}, '
        yield b'"items": [{"sku": "MUG-01", "quantity": 1}], "total": 1, '
        yield b'"payment": {"method": "card"}, "pad": "'
        for _ in range(MiB // 8192 + 2):
            yield b"x" * 8192
        yield b'"}}'

    response = env.client("sam").post(
        "/api/workflows/order-management/instances", content=chunks(), headers=JSON
    )
    assert_error(response, 413, "too_large")
    assert instance_count(env) == count


def test_an_oversized_upload_is_413_and_stores_nothing(env: Env, world: World) -> None:
    sam = env.client("sam")
    url = f"/api/instances/{world['A']}/documents"
    before = sam.get(url).json()
    response = upload(sam, world["A"], PDF + b"0" * UPLOAD_LIMIT)
    assert_error(response, 413, "too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the route counts as it streams
        boundary = "b0undary"
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        yield PDF
        for _ in range(UPLOAD_LIMIT // 8192 + 2):
            yield b"0" * 8192
        yield f"\r\n--{boundary}--\r\n".encode()

    streamed = sam.post(
        url, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b0undary"}
    )
    assert_error(streamed, 413, "too_large")
    assert sam.get(url).json() == before


def test_an_oversized_csv_import_is_413_and_imports_nothing(env: Env, world: World) -> None:
    admin = env.client("admin")
    rows = b"sku,qty\r\n" + b"".join(b"S-%06d,1\r\n" % i for i in range(UPLOAD_LIMIT // 10 + 10))
    assert UPLOAD_LIMIT < len(rows) < MiB
    response = admin.post(
        f"/api/tables/{world['table']}/import",
        content=rows,
        headers={"Content-Type": "text/csv"},
    )
    assert_error(response, 413, "too_large")
    assert admin.get(f"/api/tables/{world['table']}").json()["row_count"] == 1


# --- query parameters -----------------------------------------------------------------------

BAD_QUERIES = [
    ("/api/tasks", {"limit": "abc"}),
    ("/api/tasks", {"limit": "100000"}),
    ("/api/tasks", {"limit": "0"}),
    ("/api/tasks", {"limit": "-5"}),
    ("/api/tasks", {"limit": "1.5"}),
    ("/api/tasks", {"offset": "-1"}),
    ("/api/tasks", {"offset": "ten"}),
    ("/api/tasks", {"scope": "everything"}),
    ("/api/tasks", {"status": "done"}),
    ("/api/tasks", {"overdue": "maybe"}),
    ("/api/instances", {"limit": "abc"}),
    ("/api/instances", {"limit": "100000"}),
    ("/api/instances", {"offset": "-1"}),
    ("/api/instances", {"sort": "id"}),
    ("/api/instances", {"sort": "started_at; drop table users"}),
    ("/api/instances", {"started_after": "yesterday"}),
    ("/api/instances", {"started_before": "2026-13-45"}),
    ("/api/instances", {"field": "no-equals-sign"}),
    ("/api/instances", {"field": "1abc=x"}),
    ("/api/instances", {"field": "a'b=x"}),
    ("/api/instances", {"field": "x" * 400 + "=1"}),
    ("/api/admin/audit", {"limit": "abc"}),
    ("/api/admin/audit", {"limit": "100000"}),
    ("/api/admin/audit", {"instance": "x" * 100}),
    ("/api/tables/inventory/rows", {"limit": "abc"}),
    ("/api/tables/inventory/rows", {"limit": "100000"}),
    ("/api/tables/inventory/rows", {"q": "x" * 300}),
    ("/api/tables/inventory/import", {"mode": "zap"}),
]


def test_query_parameters_of_the_wrong_type_are_422(env: Env) -> None:
    admin = env.client("admin")
    wrong = []
    for path, params in BAD_QUERIES:
        method = "POST" if path.endswith("/import") else "GET"
        response = admin.request(method, path, params=params)
        try:
            assert_error(response, 422, "invalid_request")
        except AssertionError as exc:
            wrong.append(f"{params}: {exc}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "path",
    [
        "/api/tasks",
        "/api/instances",
        "/api/admin/audit",
        "/api/tables/inventory/rows",
        "/api/notifications",
    ],
)
@pytest.mark.parametrize("offset", [2**63, 10**20], ids=["2**63", "10**20"])
def test_a_huge_offset_is_not_a_500(
    env: Env, request: pytest.FixtureRequest, path: str, offset: int
) -> None:
    response = env.client("admin").get(path, params={"offset": str(offset)})
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert response.json()["items"] == []
    else:
        assert_error(response, 422)


@pytest.mark.parametrize("version", ["2147483648", "9223372036854775808", "9" * 30])
def test_a_huge_version_number_is_404_not_500(
    env: Env, request: pytest.FixtureRequest, version: str
) -> None:
    response = env.client("sam").get(f"/api/workflows/order-management/versions/{version}")
    assert response.status_code in (404, 422), response.text
    assert_error(response)


@pytest.mark.parametrize("name", ["started_after", "started_before"])
def test_a_filter_time_without_a_zone_is_not_a_500(env: Env, name: str) -> None:
    response = env.client("admin").get("/api/instances", params={name: "2026-01-01T00:00:00"})
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert_error(response, 422)


# --- out of office: times -------------------------------------------------------------------


def test_an_out_of_office_window_that_makes_no_sense_is_422(env: Env) -> None:
    sam = env.client("sam")
    before = sam.get("/api/out-of-office").json()
    for change, code in (
        ({"starts_at": "2100-01-01T00:00:00", "ends_at": "2100-01-02T00:00:00"}, None),
        ({"ends_at": "2099-12-31T00:00:00Z"}, None),
        ({"ends_at": FUTURE_WINDOW["starts_at"]}, None),
        ({"delegate": "sam"}, None),
        ({"delegate": "nobody"}, "unknown_user"),
        ({"delegate": ""}, "invalid_request"),
        ({"starts_at": "tomorrow"}, "invalid_request"),
        ({"return_tasks": "sometimes"}, "invalid_request"),
        ({"also": "this"}, "invalid_request"),
    ):
        response = sam.post("/api/out-of-office", json={**FUTURE_WINDOW, **change})
        assert_error(response, 422, code)
    assert_error(
        sam.post("/api/out-of-office", json={**FUTURE_WINDOW, "user": "walt"}), 403, "forbidden"
    )
    assert sam.get("/api/out-of-office").json() == before


def test_an_out_of_office_window_with_one_naive_time_is_422(env: Env) -> None:
    response = env.client("sam").post(
        "/api/out-of-office", json={**FUTURE_WINDOW, "starts_at": "2100-01-01T00:00:00"}
    )
    assert_error(response, 422, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path", "field", "moment"),
    [
        ("POST", "/api/out-of-office", "ends_at", "9999-12-31T23:59:59-14:00"),
        ("POST", "/api/out-of-office", "starts_at", "0001-01-01T00:00:00+14:00"),
        ("GET", "/api/instances", "started_after", "9999-12-31T23:59:59-14:00"),
        ("GET", "/api/instances", "started_before", "0001-01-01T00:00:00+14:00"),
    ],
    ids=["window end", "window start", "started_after", "started_before"],
)
def test_a_time_at_the_edge_of_the_calendar_is_not_a_500(
    env: Env, method: str, path: str, field: str, moment: str
) -> None:
    sam = env.client("sam")
    if method == "POST":
        window = {**FUTURE_WINDOW, "starts_at": "2100-01-01T00:00:00Z", field: moment}
        if field == "starts_at":
            window["ends_at"] = "2100-01-02T00:00:00Z"
        response = sam.post(path, json=window)
    else:
        response = sam.get(path, params={field: moment})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error(response, 422)


# --- characters and numbers a database cannot hold ------------------------------------------

NUL_CASES = [
    "login username",
    "instance id in path",
    "task id in path",
    "workflow key in path",
    "document id in path",
    "table name in path",
    "user name in path",
    "instances filter",
    "tasks filter",
    "rows filter",
    "audit filter",
    "start data value",
    "start data key",
    "instance comment",
    "task comment",
    "form data",
    "data correction",
    "draft",
    "message correlation",
    "upload task_id",
    "table row",
    "user display name",
]


def nul_request(case: str, env: Env, world: World) -> httpx.Response:
    nul = "a\x00b"
    admin, sam, fiona = env.client("admin"), env.client("sam"), env.client("fiona")
    start = "/api/workflows/incidental/instances"
    match case:
        case "login username":
            return env.anonymous().post("/api/auth/login", json={"username": nul, "password": "x"})
        case "instance id in path":
            return admin.get("/api/instances/a%00b")
        case "task id in path":
            return admin.post("/api/tasks/a%00b/claim")
        case "workflow key in path":
            return admin.get("/api/workflows/a%00b")
        case "document id in path":
            return admin.get("/api/documents/a%00b")
        case "table name in path":
            return admin.get("/api/tables/a%00b")
        case "user name in path":
            return admin.patch("/api/admin/users/a%00b", json={})
        case "instances filter":
            return admin.get("/api/instances", params={"workflow": nul})
        case "tasks filter":
            return admin.get("/api/tasks", params={"workflow": nul})
        case "rows filter":
            return admin.get("/api/tables/inventory/rows", params={"q": nul})
        case "audit filter":
            return admin.get("/api/admin/audit", params={"actor": nul})
        case "start data value":
            return admin.post(start, json={"data": {"note": nul}})
        case "start data key":
            return admin.post(start, json={"data": {nul: 1}})
        case "instance comment":
            return sam.post(f"/api/instances/{world['A']}/comments", json={"body": nul})
        case "task comment":
            return sam.post(f"/api/tasks/{world['review']}/comments", json={"body": nul})
        case "form data":
            return fiona.post(
                f"/api/tasks/{world['capture']}/complete",
                json={"data": {"captured": True, "note": nul}},
            )
        case "data correction":
            return admin.post(
                f"/api/instances/{world['A']}/data", json={"data": {"note": nul}, "reason": "x"}
            )
        case "draft":
            return admin.put(
                f"/api/workflows/{world['draft']}/draft", json={"draft": {"name": nul}}
            )
        case "message correlation":
            return admin.post("/api/messages", json={"message": "delivered", "correlation": nul})
        case "upload task_id":
            return sam.post(
                f"/api/instances/{world['A']}/documents",
                files={"file": ("a.pdf", PDF, "application/pdf")},
                data={"task_id": nul},
            )
        case "table row":
            return admin.post(
                f"/api/tables/{world['table']}/rows", json={"values": {"sku": nul, "qty": 1}}
            )
        case "user display name":
            return admin.post(
                "/api/admin/users", json={"username": f"n{world['tag']}", "display_name": nul}
            )
    raise AssertionError(case)


@pytest.mark.parametrize("case", NUL_CASES)
def test_a_nul_character_is_never_a_500(env: Env, world: World, case: str) -> None:
    """SQLite may keep a NUL; PostgreSQL cannot. Either way the answer is not a 500, and
    where it is refused, it is a JSON error."""
    response = nul_request(case, env, world)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error(response)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-2E+999"])
def test_nan_infinity_and_numbers_too_large_to_keep_are_refused(
    env: Env, request: pytest.FixtureRequest, literal: bytes
) -> None:
    count = instance_count(env, "incidental")
    response = env.client("admin").post(
        "/api/workflows/incidental/instances",
        content=b'{"data": {"amount": ' + literal + b"}}",
        headers=JSON,
    )
    assert_error(response, 422, "invalid_request")
    assert instance_count(env, "incidental") == count


# --- bugs that leave bad rows behind: on a database of their own ----------------------------
def test_deeply_nested_start_data_is_refused_or_readable(fresh: Env) -> None:
    ensure_incidental(fresh)
    nested: dict[str, Any] = {"leaf": 1}
    for _ in range(300):
        nested = {"x": nested}
    count = instance_count(fresh, "incidental")
    response = fresh.client("admin").post(
        "/api/workflows/incidental/instances", json={"data": {"deep": nested}}
    )
    assert response.status_code < 500, response.text
    if response.status_code == 201:
        again = fresh.client("admin").get(f"/api/instances/{response.json()['id']}")
        assert again.status_code == 200, again.text
    else:
        assert_error(response, 422)
        assert instance_count(fresh, "incidental") == count


def test_a_draft_name_that_is_not_text_is_not_a_500(fresh: Env) -> None:
    admin, sam = fresh.client("admin"), fresh.client("sam")
    response = admin.post("/api/workflows", json={"key": "numbered", "draft": {"name": 5}})
    assert response.status_code < 500, response.text
    if response.status_code == 201:
        assert response.json()["name"] == "5"
    else:
        assert_error(response, 422)
    listing = sam.get("/api/workflows")
    assert listing.status_code == 200, listing.text


def test_the_json_limit_does_not_depend_on_the_workflow_key(fresh: Env) -> None:
    """Only uploads have the larger limit, not every path that happens to say "documents"."""
    admin = fresh.client("admin")
    made = admin.post("/api/workflows", json={"key": "documents-intake"})
    assert made.status_code == 201, made.text
    draft = {"format": 1, "name": "Big", "nodes": [], "edges": [], "notes": "x" * (2 * MiB)}
    response = admin.put("/api/workflows/documents-intake/draft", json={"draft": draft})
    assert_error(response, 413, "too_large")


def test_reassigning_to_a_role_that_does_not_exist_is_422(env: Env, world: World) -> None:
    admin = env.client("admin")
    response = admin.post(f"/api/tasks/{world['capture']}/reassign", json={"role": "no_such"})
    assert_error(response, 422)
    task = admin.get(f"/api/tasks/{world['capture']}").json()
    assert task["candidate_roles"] == ["finance"]


def test_an_instance_whose_first_step_raises_an_incident_starts(env: Env) -> None:
    key = ensure_published(env, "incident-at-start", INCIDENT_AT_START)
    response = env.client("admin").post(f"/api/workflows/{key}/instances", json={"data": {}})
    assert response.status_code == 201, response.text
    instance = response.json()
    assert instance["open_incidents"] == 1
    assert [x["code"] for x in instance["incidents"]] == ["missing_data"]


def test_client_tokens_in_error_bodies_are_not_echoed_as_html(env: Env) -> None:
    """An error about a path id is JSON, so a script in the id is data, never markup."""
    response = env.client("admin").get("/api/instances/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert_error(response, 404, "not_found")
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-content-type-options") == "nosniff"


def test_the_errors_are_json_for_unknown_routes_and_methods(env: Env) -> None:
    admin, anonymous = env.client("admin"), env.anonymous()
    assert_error(admin.get("/api/no-such-thing"), 404, "not_found")
    assert_error(anonymous.get("/api/no-such-thing"), 404)
    assert_error(admin.delete("/api/tasks"), 405, "method_not_allowed")
    assert_error(admin.patch("/api/workflows"), 405, "method_not_allowed")
