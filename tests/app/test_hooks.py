"""Signed webhooks start workflows: each scheme, replays, retries, rotation, bad payloads."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.services.signatures import sign
from tests.app.builders import deliver, secret_for

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


def test_a_new_secrets_signed_example_starts_the_workflow_as_it_is(login, anonymous):
    admin = login("admin")
    made = admin.post("/api/admin/webhooks/order-management/secrets").json()
    body = json.loads(made["example_body"])
    assert set(body) == {"order_id", "customer", "items", "total", "payment"}  # where it maps
    sent = anonymous.post(
        "/hooks/order-management",
        content=made["example_body"].encode(),
        headers={"content-type": "application/json", **made["example"]},
    )
    assert sent.status_code == 202, sent.text
    instance = admin.get(f"/api/instances/{sent.json()['instance_id']}").json()
    assert instance["data"]["customer"] == body["customer"]


def test_a_delivery_missing_a_mapped_field_says_the_delivery_lacks_it(login, anonymous):
    admin = login("admin")
    secret = secret_for(admin, "order-management")
    r = deliver(anonymous, "order-management", "generic", secret, {"order_id": "A-1"})
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    # the first field it misses (PostgreSQL keeps a mapping's keys in its own order)
    assert re.fullmatch(r"(\w+): the delivery has no 'body\.\1' \(mapping 'body\.\1'\)", message)


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


def test_a_stripe_event_sent_again_gets_the_same_instance_by_its_event_id(login, anonymous):
    admin = login("admin")
    key = "hook-stripe-retry"
    draft = hook_flow(key, "stripe")
    assert admin.post("/api/workflows", json={"key": key, "draft": draft}).status_code == 201
    assert admin.post(f"/api/workflows/{key}/publish").status_code == 201
    secret = secret_for(admin, key)
    event = {"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "type": "payment_intent.succeeded"}
    first = deliver(anonymous, key, "stripe", secret, event)
    again = deliver(anonymous, key, "stripe", secret, event)  # Stripe's retry: no header
    assert first.status_code == 202, first.text
    assert again.json() == {"instance_id": first.json()["instance_id"], "duplicate": True}
    other = deliver(anonymous, key, "stripe", secret, {**event, "id": "evt_other"})
    assert other.json()["instance_id"] != first.json()["instance_id"]
    assert count(admin, key) == 2


def test_a_signed_request_sent_again_without_a_key_is_the_same_delivery(login, anonymous):
    """A generic delivery has no id of its own: its signed timestamp and body name it, so a
    sender's retry of the same request (or a replay of it) starts nothing new, while a new
    signature on the same body is a new delivery."""
    admin = login("admin")
    secret = secret_for(admin, "order-management")
    body = json.dumps({**ORDER, "order_id": "SAME-1"}).encode()
    headers = {
        "content-type": "application/json",
        **sign("generic", secret, body, now=datetime.now(UTC)),
    }
    first = anonymous.post("/hooks/order-management", content=body, headers=headers)
    again = anonymous.post("/hooks/order-management", content=body, headers=headers)
    assert first.status_code == 202, first.text
    assert again.json() == {"instance_id": first.json()["instance_id"], "duplicate": True}
    later = {
        "content-type": "application/json",
        **sign("generic", secret, body, now=datetime.now(UTC) + timedelta(seconds=2)),
    }
    resent = anonymous.post("/hooks/order-management", content=body, headers=later)
    assert resent.status_code == 202, resent.text
    assert resent.json()["instance_id"] != first.json()["instance_id"]
    assert count(admin, "order-management") == 2


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


# --- message hooks: signed messages to waiting instances ------------------------------------

CARRIER_HOOK = {
    "scheme": "generic",
    "correlation": "body.tracking_number",
    "mapping": {"delivered_at": "body.event.at", "signed_by": "body.event.signed_by"},
}


def waiting_flow(key: str, message: str) -> dict[str, Any]:
    """An instance that waits at once for ``message`` by its ``tracking`` number."""
    return {
        "format": 1,
        "key": key,
        "name": key,
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {
                "id": "wait",
                "type": "receive",
                "name": "Wait for the carrier",
                "stage": "Shipped",
                "message": message,
                "correlate": "tracking",
                "result": "delivery",
                "keep_early": "P1D",
            },
            {"id": "end", "type": "end", "name": "Delivered", "stage": "Delivered"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "wait"},
            {"id": "e2", "from": "wait", "to": "end"},
        ],
    }


def waiting_instance(admin, key: str, message: str, tracking: str) -> str:
    if admin.get(f"/api/workflows/{key}").status_code == 404:
        made = admin.post("/api/workflows", json={"key": key, "draft": waiting_flow(key, message)})
        assert made.status_code == 201, made.text
        assert admin.post(f"/api/workflows/{key}/publish").status_code == 201
    r = admin.post(f"/api/workflows/{key}/instances", json={"data": {"tracking": tracking}})
    assert r.status_code == 201, r.text
    instance_id: str = r.json()["id"]
    return instance_id


def message_hook(admin, name: str, config: dict[str, Any] | None = None) -> str:
    """Configure ``name`` and return a fresh secret for it."""
    saved = admin.put(f"/api/admin/message-hooks/{name}", json=config or CARRIER_HOOK)
    assert saved.status_code == 200, saved.text
    made = admin.post(f"/api/admin/message-hooks/{name}/secrets")
    assert made.status_code == 201, made.text
    value: str = made.json()["secret"]
    return value


def carrier_event(tracking: str, **more: Any) -> dict[str, Any]:
    return {
        "tracking_number": tracking,
        "event": {"type": "delivered", "at": "2026-05-04T10:00:00Z", "signed_by": "Ada"},
        **more,
    }


def deliver_message(client, name: str, secret: str, payload: Any, scheme: str = "generic", **h):
    body = json.dumps(payload).encode()
    signed = sign(scheme, secret, body, now=datetime.now(UTC))
    return client.post(
        f"/hooks/messages/{name}",
        content=body,
        headers={"content-type": "application/json", **signed, **h},
    )


def actions(admin, instance_id: str) -> list[str]:
    return [e["action"] for e in admin.get(f"/api/instances/{instance_id}/history").json()]


def test_a_signed_carrier_message_moves_the_waiting_instance_with_its_mapped_data(login, anonymous):
    admin = login("admin")
    secret = message_hook(admin, "carrier.delivered")
    instance_id = waiting_instance(admin, "parcel-hook", "carrier.delivered", "TRK-1")
    r = deliver_message(anonymous, "carrier.delivered", secret, carrier_event("TRK-1"))
    assert r.status_code == 200, r.text
    assert r.json()["instance_id"] == instance_id
    assert r.json()["stage"] == "Delivered"
    done = admin.get(f"/api/instances/{instance_id}").json()
    assert done["status"] == "completed"
    assert done["data"]["delivery"] == {"delivered_at": "2026-05-04T10:00:00Z", "signed_by": "Ada"}
    received = [
        e
        for e in admin.get(f"/api/instances/{instance_id}/history").json()
        if e["action"] == "message.received"
    ]
    assert [e["actor"] for e in received] == ["hook:carrier.delivered"]


def test_the_same_message_delivered_five_times_moves_the_instance_once(login, anonymous):
    admin = login("admin")
    secret = message_hook(admin, "carrier.delivered")
    first = waiting_instance(admin, "parcel-hook", "carrier.delivered", "TRK-5")
    second = waiting_instance(admin, "parcel-hook", "carrier.delivered", "TRK-6")
    answers = [
        deliver_message(anonymous, "carrier.delivered", secret, carrier_event("TRK-5"))
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["duplicate"] for a in answers] == [False, True, True, True, True]
    assert actions(admin, first).count("message.received") == 1

    # with an Idempotency-Key the key decides, even if the sender adds a retry counter
    keyed = [
        deliver_message(
            anonymous,
            "carrier.delivered",
            secret,
            carrier_event("TRK-6"),
            **{"Idempotency-Key": "evt-6"},
        )
        for _ in range(5)
    ]
    assert [a.json()["duplicate"] for a in keyed] == [False, True, True, True, True]
    assert actions(admin, second).count("message.received") == 1


def test_a_body_derived_delivery_id_deduplicates_retries_that_differ(login, anonymous):
    """The hook's ``idempotency`` expression names the delivery: the carrier's retries carry
    the same event id and another attempt number (not mapped: the same message); the same id
    with another signature on the parcel is another message, and refused."""
    admin = login("admin")
    secret = message_hook(admin, "carrier.scan", {**CARRIER_HOOK, "idempotency": "body.event_id"})
    instance_id = waiting_instance(admin, "parcel-scan", "carrier.scan", "TRK-7")
    payload = carrier_event("TRK-7", event_id="evt-7", attempt=1)
    first = deliver_message(anonymous, "carrier.scan", secret, payload)
    assert first.status_code == 200, first.text
    retried = deliver_message(anonymous, "carrier.scan", secret, {**payload, "attempt": 2})
    assert retried.status_code == 200, retried.text
    assert retried.json()["duplicate"] is True
    changed = {**payload, "event": {**payload["event"], "signed_by": "Eve"}}
    conflict = deliver_message(anonymous, "carrier.scan", secret, changed)
    assert conflict.status_code == 422
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    assert actions(admin, instance_id).count("message.received") == 1


def test_a_forged_message_moves_nothing(login, anonymous):
    admin = login("admin")
    secret = message_hook(admin, "carrier.delivered")
    instance_id = waiting_instance(admin, "parcel-hook", "carrier.delivered", "TRK-9")
    body = json.dumps(carrier_event("TRK-9")).encode()
    forged = sign("generic", "whsec_guessed", body, now=datetime.now(UTC))
    tampered = sign("generic", secret, body, now=datetime.now(UTC))
    stale = sign("generic", secret, body, now=datetime.now(UTC) - timedelta(hours=1))
    for content, headers in (
        (body, forged),
        (body.replace(b"Ada", b"Eve"), tampered),
        (body, stale),
        (body, {}),
    ):
        r = anonymous.post(
            "/hooks/messages/carrier.delivered",
            content=content,
            headers={"content-type": "application/json", **headers},
        )
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "bad_signature"
    unknown = deliver_message(anonymous, "carrier.nobody", secret, carrier_event("TRK-9"))
    assert unknown.status_code == 404
    still = admin.get(f"/api/instances/{instance_id}").json()
    assert still["status"] == "running"
    assert "message.received" not in actions(admin, instance_id)


def test_message_hook_secrets_rotate_with_two_valid_until_the_old_is_revoked(login, anonymous):
    admin = login("admin")
    old = message_hook(admin, "carrier.delivered")
    new = admin.post("/api/admin/message-hooks/carrier.delivered/secrets").json()
    listed = admin.get("/api/admin/message-hooks/carrier.delivered/secrets").json()
    assert len(listed) == 2
    assert all(s["secret"] is None for s in listed)
    assert admin.get("/api/admin/message-hooks/carrier.delivered").json()["active_secrets"] == 2
    for tracking, secret in (("TRK-R1", old), ("TRK-R2", new["secret"])):
        waiting_instance(admin, "parcel-hook", "carrier.delivered", tracking)
        r = deliver_message(anonymous, "carrier.delivered", secret, carrier_event(tracking))
        assert r.status_code == 200, r.text
    old_id = next(s["id"] for s in listed if s["id"] != new["id"])
    revoked = admin.delete(f"/api/admin/message-hooks/carrier.delivered/secrets/{old_id}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    waiting_instance(admin, "parcel-hook", "carrier.delivered", "TRK-R3")
    refused = deliver_message(anonymous, "carrier.delivered", old, carrier_event("TRK-R3"))
    assert refused.status_code == 401


@pytest.mark.parametrize("scheme", ["github", "shopify", "stripe"])
def test_message_hooks_check_each_senders_scheme(login, anonymous, scheme):
    admin = login("admin")
    secret = message_hook(admin, f"scan.{scheme}", {**CARRIER_HOOK, "scheme": scheme})
    waiting_instance(admin, f"parcel-{scheme}", f"scan.{scheme}", "TRK-S")
    wrong = deliver_message(anonymous, f"scan.{scheme}", "whsec_x", carrier_event("TRK-S"), scheme)
    assert wrong.status_code == 401
    right = deliver_message(anonymous, f"scan.{scheme}", secret, carrier_event("TRK-S"), scheme)
    assert right.status_code == 200, right.text


def test_an_early_signed_message_is_held_then_delivered(login, anonymous):
    admin = login("admin")
    secret = message_hook(admin, "carrier.delivered")
    waiting_instance(admin, "parcel-hook", "carrier.delivered", "TRK-0")  # publishes the flow
    held = deliver_message(anonymous, "carrier.delivered", secret, carrier_event("TRK-E"))
    assert held.status_code == 202, held.text
    assert held.json()["held"] is True
    instance_id = waiting_instance(admin, "parcel-hook", "carrier.delivered", "TRK-E")
    assert admin.get(f"/api/instances/{instance_id}").json()["status"] == "completed"


def test_bad_message_hooks_and_deliveries_are_4xx(login, anonymous):
    admin = login("admin")
    bad = admin.put(
        "/api/admin/message-hooks/carrier.bad",
        json={"correlation": "body.(", "mapping": {"x": "1 +"}},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_hook"
    assert {p["field"] for p in bad.json()["error"]["details"]} == {"correlation", "mapping.x"}
    assert (
        admin.put("/api/admin/message-hooks/x", json={"correlation": "a", "nope": 1}).status_code
        == 422
    )
    assert admin.get("/api/admin/message-hooks/carrier.bad").status_code == 404

    secret = message_hook(admin, "carrier.delivered")
    body = b"not json"
    r = anonymous.post(
        "/hooks/messages/carrier.delivered",
        content=body,
        headers={
            "content-type": "application/json",
            **sign("generic", secret, body, now=datetime.now(UTC)),
        },
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_payload"
    missing = deliver_message(anonymous, "carrier.delivered", secret, {"event": {}})
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "invalid_payload"
    nobody = deliver_message(anonymous, "carrier.delivered", secret, carrier_event("TRK-NONE"))
    assert nobody.status_code == 404
    assert nobody.json()["error"]["code"] == "no_waiting_instance"


def test_deleting_a_message_hook_stops_its_deliveries(login, anonymous):
    admin = login("admin")
    secret = message_hook(admin, "carrier.delivered")
    assert [h["name"] for h in admin.get("/api/admin/message-hooks").json()] == [
        "carrier.delivered"
    ]
    assert admin.delete("/api/admin/message-hooks/carrier.delivered").status_code == 204
    waiting_instance(admin, "parcel-hook", "carrier.delivered", "TRK-D")
    r = deliver_message(anonymous, "carrier.delivered", secret, carrier_event("TRK-D"))
    assert r.status_code == 404
    assert admin.get("/api/admin/message-hooks/carrier.delivered/secrets").status_code == 404
