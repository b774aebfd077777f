"""Signed webhooks start workflows: each scheme, replays, retries, rotation, bad payloads."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.services.signatures import sign

ORDER = {
    "order_id": "W-1",
    "customer": {"name": "Ada", "email": "ada@example.com"},
    "items": [{"sku": "MUG-01", "quantity": 1}],
    "total": 20,
    "payment": {"method": "invoice"},
}


def hook_flow(key: str, scheme: str) -> dict[str, Any]:
    return {
        "format": 1,
        "key": key,
        "name": key,
        "nodes": [
            {
                "id": "start",
                "type": "start",
                "name": "Start",
                "trigger": {"type": "webhook", "webhook": {"scheme": scheme}},
            },
            {"id": "look", "type": "user_task", "name": "Look at it", "assignee": {"user": "sam"}},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "look"},
            {"id": "e2", "from": "look", "to": "end"},
        ],
    }


def secret_for(admin, key: str) -> str:
    r = admin.post(f"/api/admin/webhooks/{key}/secrets")
    assert r.status_code == 201, r.text
    value: str = r.json()["secret"]
    return value


def deliver(client, key: str, scheme: str, secret: str, payload: Any, **headers: str):
    body = json.dumps(payload).encode()
    signed = sign(scheme, secret, body, now=datetime.now(UTC))
    return client.post(
        f"/hooks/{key}",
        content=body,
        headers={"content-type": "application/json", **signed, **headers},
    )


def count(admin, key: str) -> int:
    return admin.get("/api/instances", params={"workflow": key}).json()["total"]


def test_a_signed_order_starts_the_workflow_with_its_payload_mapped(login, anonymous):
    admin = login("admin")
    secret = secret_for(admin, "order-management")
    r = deliver(anonymous, "order-management", "generic", secret, {**ORDER, "extra": "ignored"})
    assert r.status_code == 202, r.text
    instance = admin.get(f"/api/instances/{r.json()['instance_id']}").json()
    assert instance["data"]["order_id"] == "W-1"
    assert "extra" not in instance["data"]
    assert instance["stage"] == "Received"


@pytest.mark.parametrize("scheme", ["github", "shopify", "stripe"])
def test_each_senders_scheme_is_checked(login, anonymous, scheme):
    admin = login("admin")
    key = f"hook-{scheme}"
    assert (
        admin.post("/api/workflows", json={"key": key, "draft": hook_flow(key, scheme)}).status_code
        == 201
    )
    assert admin.post(f"/api/workflows/{key}/publish").status_code == 201
    secret = secret_for(admin, key)
    assert deliver(anonymous, key, scheme, secret, {"n": 1}).status_code == 202
    assert deliver(anonymous, key, scheme, "whsec_wrong", {"n": 2}).status_code == 401
    assert count(admin, key) == 1


def test_bad_or_stale_signatures_create_nothing(login, anonymous):
    admin = login("admin")
    secret = secret_for(admin, "order-management")
    body = json.dumps(ORDER).encode()
    old = sign("generic", secret, body, now=datetime.now(UTC) - timedelta(hours=1))
    r = anonymous.post(
        "/hooks/order-management", content=body, headers={"content-type": "application/json", **old}
    )
    assert r.status_code == 401
    assert "replay" in r.json()["error"]["message"]
    tampered = sign("generic", secret, body, now=datetime.now(UTC))
    r = anonymous.post(
        "/hooks/order-management",
        content=body.replace(b"W-1", b"W-2"),
        headers={"content-type": "application/json", **tampered},
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "bad_signature"
    assert count(admin, "order-management") == 0


def test_a_retried_delivery_gets_the_same_instance_and_a_changed_body_is_refused(login, anonymous):
    admin = login("admin")
    secret = secret_for(admin, "order-management")
    first = deliver(
        anonymous, "order-management", "generic", secret, ORDER, **{"Idempotency-Key": "d-1"}
    )
    again = deliver(
        anonymous, "order-management", "generic", secret, ORDER, **{"Idempotency-Key": "d-1"}
    )
    assert first.json()["instance_id"] == again.json()["instance_id"]
    assert again.json()["duplicate"] is True
    other = deliver(
        anonymous,
        "order-management",
        "generic",
        secret,
        {**ORDER, "total": 21},
        **{"Idempotency-Key": "d-1"},
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert count(admin, "order-management") == 1


def test_retries_arriving_at_the_same_moment_start_one_instance(login, app):
    from fastapi.testclient import TestClient

    admin = login("admin")
    secret = secret_for(admin, "order-management")
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        client = TestClient(app)  # no lifespan: the app stays up for the other senders
        barrier.wait()
        results.append(
            deliver(
                client, "order-management", "generic", secret, ORDER, **{"Idempotency-Key": "same"}
            )
        )
        client.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in results} == {202}
    assert len({r.json()["instance_id"] for r in results}) == 1
    assert count(admin, "order-management") == 1


def test_rotation_keeps_two_secrets_valid_until_the_old_one_is_revoked(login, anonymous):
    admin = login("admin")
    old = admin.post("/api/admin/webhooks/order-management/secrets").json()
    new = secret_for(admin, "order-management")
    assert (
        deliver(
            anonymous, "order-management", "generic", old["secret"], {**ORDER, "order_id": "R-1"}
        ).status_code
        == 202
    )
    assert (
        deliver(
            anonymous, "order-management", "generic", new, {**ORDER, "order_id": "R-2"}
        ).status_code
        == 202
    )
    assert (
        admin.delete(f"/api/admin/webhooks/order-management/secrets/{old['id']}").status_code == 200
    )
    assert (
        deliver(
            anonymous, "order-management", "generic", old["secret"], {**ORDER, "order_id": "R-3"}
        ).status_code
        == 401
    )
    listed = admin.get("/api/admin/webhooks/order-management/secrets").json()
    assert all(s["secret"] is None for s in listed)


def test_a_payload_that_fails_the_schema_is_refused_and_creates_nothing(login, anonymous):
    admin = login("admin")
    secret = secret_for(admin, "order-management")
    r = deliver(anonymous, "order-management", "generic", secret, {"order_id": "X"})
    assert r.status_code == 422
    assert count(admin, "order-management") == 0


def test_only_admins_manage_secrets(login):
    assert login("sam").post("/api/admin/webhooks/order-management/secrets").status_code == 403
