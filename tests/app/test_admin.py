"""Administration over HTTP: users, roles, API tokens, the audit log (on both databases)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.services.outbox import tick
from tests.app.builders import one_task, publish

Login = Callable[[str], TestClient]


def users(admin: TestClient) -> dict[str, dict[str, Any]]:
    return {u["username"]: u for u in admin.get("/api/admin/users").json()}


def log_in(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/auth/login", json={"username": username, "password": password})


def make_token(admin: TestClient, user: str = "admin", scopes: tuple[str, ...] = ("*",)) -> Any:
    response = admin.post(
        "/api/admin/tokens", json={"name": "erp", "user": user, "scopes": list(scopes)}
    )
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/admin/users"),
        ("POST", "/api/admin/users"),
        ("PATCH", "/api/admin/users/walt"),
        ("POST", "/api/admin/users/walt/password"),
        ("POST", "/api/admin/roles"),
        ("DELETE", "/api/admin/roles/support"),
        ("GET", "/api/admin/tokens"),
        ("POST", "/api/admin/tokens"),
        ("DELETE", "/api/admin/tokens/0123456789abcdef"),
        ("GET", "/api/admin/audit"),
    ],
)
def test_admin_routes_refuse_others(
    login: Login, anonymous: TestClient, method: str, path: str
) -> None:
    assert anonymous.request(method, path).status_code == 401
    response = login("dana").request(method, path)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


# --- users -----------------------------------------------------------------------------------


def test_users_list_shows_roles_and_whether_active(login: Login) -> None:
    listed = users(login("admin"))
    assert set(listed) >= {"admin", "dana", "mia", "walt"}
    assert listed["mia"]["roles"] == [
        "department_head",
        "employee",
        "manager",
        "warehouse",
        "warehouse_manager",
    ]
    assert listed["walt"]["is_active"] is True
    assert all("password" not in u and "password_hash" not in u for u in listed.values())


def test_user_create_shows_a_generated_password_once_and_it_logs_in(
    login: Login, anonymous: TestClient
) -> None:
    admin = login("admin")
    response = admin.post(
        "/api/admin/users",
        json={
            "username": "nora.new",
            "display_name": "Nora New",
            "email": "nora@stepwise.example",
            "roles": ["warehouse", "employee"],
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["roles"] == ["employee", "warehouse"]
    password = created["password"]
    assert len(password) >= 12
    assert "password" not in users(admin)["nora.new"]
    me = log_in(anonymous, "nora.new", password)
    assert me.status_code == 200, me.text
    assert me.json()["roles"] == ["employee", "warehouse"]


def test_user_create_with_a_chosen_password_does_not_echo_it(
    login: Login, anonymous: TestClient
) -> None:
    admin = login("admin")
    response = admin.post(
        "/api/admin/users", json={"username": "otto", "password": "a long secret"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["password"] is None
    assert response.json()["roles"] == ["employee"]
    assert log_in(anonymous, "otto", "a long secret").status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "Nora"}, 422, "invalid_request"),
        ({"username": "n"}, 422, "invalid_request"),
        ({"username": "nora", "email": "not-an-email"}, 422, "invalid_request"),
        ({"username": "nora", "password": "short"}, 422, "invalid_request"),
        ({"username": "nora", "is_admin": True}, 422, "invalid_request"),
        ({"username": "nora", "roles": ["wizard"]}, 422, "unknown_role"),
        ({"username": "walt"}, 409, "exists"),
    ],
)
def test_user_create_refuses_bad_input(
    login: Login, body: dict[str, Any], status: int, code: str
) -> None:
    response = login("admin").post("/api/admin/users", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_user_roles_are_replaced_and_fields_changed(login: Login) -> None:
    admin = login("admin")
    response = admin.patch(
        "/api/admin/users/walt",
        json={"roles": ["shipping", "employee"], "phone": "+49 30 1234567", "email": None},
    )
    assert response.status_code == 200, response.text
    walt = response.json()
    assert walt["roles"] == ["employee", "shipping"]
    assert walt["phone"] == "+49 30 1234567"
    assert walt["email"] is None
    assert walt["display_name"] == "Walt Warehouse"
    assert login("walt").get("/api/me").json()["roles"] == ["employee", "shipping"]
    unknown = admin.patch("/api/admin/users/walt", json={"roles": ["wizard"]})
    assert unknown.status_code == 422
    assert admin.patch("/api/admin/users/nobody", json={"phone": "123"}).status_code == 404


def test_user_deactivated_loses_their_session(login: Login, anonymous: TestClient) -> None:
    admin = login("admin")
    walt = login("walt")
    assert walt.get("/api/me").status_code == 200
    response = admin.patch("/api/admin/users/walt", json={"is_active": False})
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    assert walt.get("/api/me").status_code == 401
    assert walt.get("/api/tasks").status_code == 401
    assert users(admin)["walt"]["is_active"] is False


def test_a_deactivated_persons_pool_tasks_go_back_to_the_pool_and_admins_hear_of_the_rest(
    login: Login,
) -> None:
    admin, walt, wendy = login("admin"), login("walt"), login("wendy")
    publish(admin, one_task("pooled", {"role": "warehouse"}))
    publish(admin, one_task("named", {"user": "walt"}))
    pooled = admin.post("/api/workflows/pooled/instances", json={"data": {}}).json()
    named = admin.post("/api/workflows/named/instances", json={"data": {}}).json()
    (pool_task,) = pooled["open_tasks"]
    (named_task,) = named["open_tasks"]
    assert walt.post(f"/api/tasks/{pool_task['id']}/claim").status_code == 200

    response = admin.patch("/api/admin/users/walt", json={"is_active": False})
    assert response.status_code == 200, response.text

    back = admin.get(f"/api/tasks/{pool_task['id']}").json()
    assert back["assignee"] is None
    claimed = wendy.post(f"/api/tasks/{pool_task['id']}/claim")  # the pool has it again
    assert claimed.status_code == 200, claimed.text
    assert admin.get(f"/api/tasks/{named_task['id']}").json()["assignee"] == "walt"
    history = admin.get(f"/api/instances/{pooled['id']}/history").json()
    assert any(
        e["action"] == "task.unclaimed" and e["details"].get("reason") == "deactivated"
        for e in history
    )
    tick(admin.app.state.worker, now=admin.app.state.clock.now())
    titles = [n["title"] for n in admin.get("/api/notifications").json()["items"]]
    assert "walt is deactivated: 1 of their open tasks need someone" in titles


def test_user_deactivated_cannot_log_in_until_reactivated(
    login: Login, anonymous: TestClient
) -> None:
    admin = login("admin")
    password = admin.post("/api/admin/users/wendy/password").json()["password"]
    admin.patch("/api/admin/users/wendy", json={"is_active": False})
    assert log_in(anonymous, "wendy", password).status_code == 401
    admin.patch("/api/admin/users/wendy", json={"is_active": True})
    assert log_in(anonymous, "wendy", password).status_code == 200


def test_admin_cannot_deactivate_themself(login: Login) -> None:
    admin = login("admin")
    response = admin.patch("/api/admin/users/admin", json={"is_active": False})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "self_deactivation"
    demoted = admin.patch("/api/admin/users/admin", json={"roles": ["employee"]})
    assert demoted.status_code == 409
    assert demoted.json()["error"]["code"] == "self_demotion"
    assert admin.get("/api/me").json()["roles"] == ["admin", "designer", "employee", "manager"]


def test_password_reset_shows_the_new_one_once_and_ends_their_logins(
    login: Login, anonymous: TestClient
) -> None:
    admin = login("admin")
    sam = login("sam")
    response = admin.post("/api/admin/users/sam/password")
    assert response.status_code == 200, response.text
    password = response.json()["password"]
    assert sam.get("/api/me").status_code == 401
    assert log_in(anonymous, "sam", password).status_code == 200
    chosen = admin.post("/api/admin/users/sam/password", json={"password": "chosen by admin"})
    assert chosen.json() == {"username": "sam", "password": None}
    assert log_in(anonymous, "sam", password).status_code == 401
    assert log_in(anonymous, "sam", "chosen by admin").status_code == 200


def test_password_reset_of_own_account_keeps_this_login(login: Login) -> None:
    admin = login("admin")
    assert admin.post("/api/admin/users/admin/password").status_code == 200
    assert admin.get("/api/me").status_code == 200


# --- roles -----------------------------------------------------------------------------------


def test_roles_are_listed_with_member_counts_for_anyone_logged_in(login: Login) -> None:
    roles = {r["name"]: r for r in login("walt").get("/api/admin/roles").json()}
    assert roles["warehouse"]["members"] == 3
    assert roles["admin"]["members"] == 1
    # a deactivated person is no longer counted among a role's members
    admin = login("admin")
    assert admin.patch("/api/admin/users/wendy", json={"is_active": False}).status_code == 200
    after = {r["name"]: r for r in admin.get("/api/admin/roles").json()}
    assert after["warehouse"]["members"] == 2
    assert roles["admin"]["builtin"] is True
    assert roles["support"]["builtin"] is False


def test_roles_anonymous_gets_401(anonymous: TestClient) -> None:
    assert anonymous.get("/api/admin/roles").status_code == 401


def test_role_create_and_delete(login: Login) -> None:
    admin = login("admin")
    created = admin.post(
        "/api/admin/roles", json={"name": "returns", "description": "Handles returns"}
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "name": "returns",
        "description": "Handles returns",
        "members": 0,
        "builtin": False,
    }
    assert admin.post("/api/admin/roles", json={"name": "returns"}).status_code == 409
    assert admin.post("/api/admin/roles", json={"name": "Bad Role"}).status_code == 422
    admin.patch("/api/admin/users/suki", json={"roles": ["returns", "employee"]})
    assert admin.delete("/api/admin/roles/returns").status_code == 204
    assert "returns" not in {r["name"] for r in admin.get("/api/admin/roles").json()}
    assert users(admin)["suki"]["roles"] == ["employee"]
    assert admin.delete("/api/admin/roles/returns").status_code == 404


@pytest.mark.parametrize("name", ["admin", "designer", "employee"])
def test_role_builtin_cannot_be_deleted(login: Login, name: str) -> None:
    response = login("admin").delete(f"/api/admin/roles/{name}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "builtin_role"


def test_role_a_workflow_uses_cannot_be_deleted(login: Login) -> None:
    response = login("admin").delete("/api/admin/roles/warehouse")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "in_use"
    assert response.json()["error"]["details"]["workflows"] == ["order-management"]


# --- API tokens ------------------------------------------------------------------------------


def test_token_works_as_a_bearer_token(login: Login, anonymous: TestClient) -> None:
    created = make_token(login("admin"), user="sam", scopes=("read", "write"))
    assert created["token"].startswith("sw_")
    assert created["prefix"] == created["token"][:8]
    assert created["user"] == "sam"
    assert created["scopes"] == ["read", "write"]
    me = anonymous.get("/api/me", headers=bearer(created["token"]))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "sam"
    assert me.json()["via"] == "token"


def test_token_read_only_is_refused_on_a_post(login: Login, anonymous: TestClient) -> None:
    token = make_token(login("admin"), scopes=("read",))["token"]
    assert anonymous.get("/api/tables/inventory", headers=bearer(token)).status_code == 200
    response = anonymous.post(
        "/api/tables/inventory/rows", json={"values": {"sku": "X"}}, headers=bearer(token)
    )
    assert response.status_code == 403
    assert "'write' scope" in response.json()["error"]["message"]


def test_token_revoked_is_401(login: Login, anonymous: TestClient) -> None:
    admin = login("admin")
    created = make_token(admin)
    revoked = admin.delete(f"/api/admin/tokens/{created['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert anonymous.get("/api/me", headers=bearer(created["token"])).status_code == 401
    assert admin.delete(f"/api/admin/tokens/{created['id']}").status_code == 200
    assert admin.delete("/api/admin/tokens/0123456789abcdef").status_code == 404


def test_token_list_never_shows_the_secret(login: Login) -> None:
    admin = login("admin")
    created = make_token(admin, user="fiona", scopes=("read",))
    response = admin.get("/api/admin/tokens")
    assert created["token"] not in response.text
    (listed,) = [t for t in response.json() if t["id"] == created["id"]]
    assert "token" not in listed
    assert "token_hash" not in listed
    assert listed["prefix"] == created["prefix"]
    assert listed["user"] == "fiona"
    assert listed["created_by"] == "admin"
    assert listed["revoked_at"] is None
    assert created["token"] not in admin.get("/api/admin/audit").text


def test_token_of_a_deactivated_user_stops_working(login: Login, anonymous: TestClient) -> None:
    admin = login("admin")
    token = make_token(admin, user="shay")["token"]
    admin.patch("/api/admin/users/shay", json={"is_active": False})
    assert anonymous.get("/api/me", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "user": "nobody", "scopes": ["read"]}, "unknown_user"),
        ({"name": "x", "user": "sam", "scopes": ["admin"]}, "invalid_request"),
        ({"name": "x", "user": "sam", "scopes": []}, "invalid_request"),
        ({"name": "", "user": "sam", "scopes": ["read"]}, "invalid_request"),
    ],
)
def test_token_create_refuses_bad_input(login: Login, body: dict[str, Any], code: str) -> None:
    response = login("admin").post("/api/admin/tokens", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


def test_token_acting_as_an_admin_may_administer(login: Login, anonymous: TestClient) -> None:
    token = make_token(login("admin"))["token"]
    response = anonymous.post("/api/admin/roles", json={"name": "returns"}, headers=bearer(token))
    assert response.status_code == 201, response.text


# --- audit log -------------------------------------------------------------------------------


def test_audit_lists_changes_newest_first_with_filters(login: Login) -> None:
    admin = login("admin")
    admin.post("/api/admin/roles", json={"name": "returns"})
    admin.post("/api/admin/users", json={"username": "nora", "roles": ["returns"]})
    admin.patch("/api/admin/users/nora", json={"display_name": "Nora N."})
    token = make_token(admin, user="nora")

    page = admin.get("/api/admin/audit", params={"actor": "admin", "limit": 2}).json()
    assert page["total"] == 4
    assert [e["action"] for e in page["items"]] == ["token.created", "user.updated"]
    assert page["items"][0]["details"]["prefix"] == token["prefix"]
    rest = admin.get("/api/admin/audit", params={"actor": "admin", "offset": 2}).json()
    assert [e["action"] for e in rest["items"]] == ["user.created", "role.created"]

    by_kind = admin.get("/api/admin/audit", params={"action": "user"}).json()
    assert [e["action"] for e in by_kind["items"]] == ["user.updated", "user.created"]
    assert by_kind["items"][1]["details"] == {
        "username": "nora",
        "roles": ["returns"],
        "password_generated": True,
    }
    exact = admin.get("/api/admin/audit", params={"action": "user.created"}).json()
    assert exact["total"] == 1
    assert admin.get("/api/admin/audit", params={"action": "use"}).json()["total"] == 0


def test_audit_filters_by_instance(login: Login) -> None:
    sam = login("sam")
    order = {
        "order_id": "A-1",
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "items": [{"sku": "MUG-01", "quantity": 1}],
        "total": 20,
        "payment": {"method": "invoice"},
    }
    started = sam.post("/api/workflows/order-management/instances", json={"data": order})
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]
    page = login("admin").get("/api/admin/audit", params={"instance": instance_id}).json()
    assert page["total"] >= 1
    assert {e["instance_id"] for e in page["items"]} == {instance_id}


def test_admin_nul_characters_are_422_not_a_database_error(login: Login) -> None:
    admin = login("admin")
    assert admin.patch("/api/admin/users/wa%00lt", json={"phone": "123"}).status_code == 422
    assert admin.get("/api/admin/audit", params={"actor": "a\x00"}).status_code == 422
    for path, body in (
        ("/api/admin/users", {"username": "nora", "display_name": "N\x00"}),
        ("/api/admin/users", {"username": "nora", "email": "n\x00@x.io"}),
        ("/api/admin/roles", {"name": "returns", "description": "\x00"}),
        ("/api/admin/tokens", {"name": "x", "user": "sam\x00", "scopes": ["read"]}),
    ):
        assert admin.post(path, json=body).status_code == 422, body


def test_outbound_secrets_are_listed_with_where_they_are_used_and_never_their_values(
    settings: Any, database: Any
) -> None:
    from dataclasses import replace

    from app.main import create_app
    from tests.app.conftest import ADMIN_PASSWORD

    flow = {
        "format": 1,
        "key": "uses-secrets",
        "name": "Uses secrets",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {
                "id": "charge",
                "type": "http",
                "name": "Charge",
                "request": {"url": "https://pay.example/charges"},
                "secret": "Payment_Key",
            },
            {
                "id": "shout",
                "type": "notify",
                "name": "Tell ops",
                "channel": "webhook",
                "to": "slack:ops_hook",
                "body": "charged",
            },
            {"id": "end", "type": "end", "name": "End"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "charge"},
            {"id": "e2", "from": "charge", "to": "shout"},
            {"id": "e3", "from": "shout", "to": "end"},
        ],
    }
    application = create_app(replace(settings, secrets={"payment_key": "sk_live_hidden"}))
    try:
        with TestClient(application) as client:
            login = client.post(
                "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            created = client.post("/api/workflows", json={"key": "uses-secrets", "draft": flow})
            assert created.status_code == 201, created.text
            assert client.post("/api/workflows/uses-secrets/publish").status_code == 201
            response = client.get("/api/admin/secrets")
            assert response.status_code == 200
            listed = {s["name"]: s for s in response.json()}
            assert "sk_live_hidden" not in response.text
            client.post("/api/auth/logout")
            sam = database.passwords["sam"]
            login = client.post("/api/auth/login", json={"username": "sam", "password": sam})
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            assert client.get("/api/admin/secrets").status_code == 403
    finally:
        application.state.worker.client.close()
        application.state.engine.dispose()
    assert listed["payment_key"]["is_set"] is True
    assert listed["payment_key"]["used_by"] == [
        {"workflow": "uses-secrets", "version": 1, "node": "charge", "how": "http"}
    ]
    assert listed["ops_hook"]["is_set"] is False  # named by a step, not set on the server
    assert listed["ops_hook"]["used_by"][0]["how"] == "slack"
    assert listed["smtp_password"]["purpose"] == "the SMTP login's password (email)"
