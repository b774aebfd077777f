"""Passwords and logins: argon2id at OWASP's minimum cost or more, throttling, sessions."""

from __future__ import annotations

from argon2 import extract_parameters

from app.deps import SESSION_COOKIE
from app.routes.auth import THROTTLE_LIMIT
from app.security import hash_password, verify_password
from app.settings import Settings
from tests.app.conftest import with_settings


def test_passwords_are_argon2id_at_least_at_owasp_minimum():
    params = extract_parameters(hash_password("correct horse"))
    assert params.type.name == "ID"
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert verify_password(hash_password("s3cret"), "s3cret")
    assert not verify_password(hash_password("s3cret"), "S3cret")
    assert not verify_password(None, "anything")


def test_wrong_password_is_401_with_json_error(anonymous):
    r = anonymous.post("/api/auth/login", json={"username": "admin", "password": "nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "bad_credentials"


def test_repeated_failures_are_throttled_per_user_and_client(anonymous, login):
    for _ in range(THROTTLE_LIMIT):
        assert (
            anonymous.post("/api/auth/login", json={"username": "sam", "password": "x"}).status_code
            == 401
        )
    r = anonymous.post("/api/auth/login", json={"username": "sam", "password": "x"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "too_many_attempts"
    login("walt")  # another user from the same client is not locked out


def test_session_cookie_is_httponly_and_samesite(anonymous, database):
    r = anonymous.post(
        "/api/auth/login", json={"username": "sam", "password": database.passwords["sam"]}
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_a_session_id_planted_before_login_is_replaced_not_adopted(anonymous, database):
    planted = "chosen-by-an-attacker-0123456789abcdef"
    anonymous.cookies.set(SESSION_COOKIE, planted)
    assert anonymous.get("/api/me").status_code == 401  # a made-up session is nobody
    password = database.passwords["sam"]
    first = anonymous.post("/api/auth/login", json={"username": "sam", "password": password})
    assert first.status_code == 200
    issued = first.cookies[SESSION_COOKIE]
    assert issued != planted
    again = anonymous.post("/api/auth/login", json={"username": "sam", "password": password})
    assert again.cookies[SESSION_COOKIE] not in (issued, planted)  # every login a new one
    anonymous.cookies.clear()
    anonymous.cookies.set(SESSION_COOKIE, planted)
    assert anonymous.get("/api/me").status_code == 401  # and the planted one never became valid


def test_the_session_cookie_is_secure_when_the_service_says_so(settings: Settings, database):
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(with_settings(settings, secure_cookies=True))
    with TestClient(app, base_url="https://testserver") as client:
        r = client.post(
            "/api/auth/login", json={"username": "sam", "password": database.passwords["sam"]}
        )
        assert r.status_code == 200
        assert "secure" in r.headers["set-cookie"].lower()


def test_logout_ends_the_session(login):
    sam = login("sam")
    assert sam.post("/api/auth/logout").status_code == 204
    assert sam.get("/api/me").status_code == 401


def test_unsafe_request_without_csrf_token_is_refused(login):
    sam = login("sam")
    del sam.headers["X-CSRF-Token"]
    r = sam.post("/api/workflows/order-management/instances", json={"data": {}})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf"
