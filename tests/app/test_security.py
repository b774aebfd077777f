"""Passwords and logins: argon2id at OWASP's minimum cost or more, throttling, sessions."""

from __future__ import annotations

from argon2 import extract_parameters

from app.routes.auth import THROTTLE_LIMIT
from app.security import hash_password, verify_password


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
