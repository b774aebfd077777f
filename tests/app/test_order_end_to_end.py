"""The shipped order template from a shop's order to "Delivered", with everything the customer
is told: started by a Shopify ``orders/create`` webhook signed the Shopify way, payment and
carrier as local fakes, tasks done through the API, the carrier's delivery report sent with
an API token, the emails caught by a real SMTP server (aiosmtpd) and the SMS by a fake
provider. On both databases; the workers run by explicit ticks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services import channels
from app.services.outbox import tick
from tests.app.fakes import FakeEdge, fake_edge
from tests.app.test_channels import Mailbox, Recorder, mailbox, recording_server

SHOPIFY_MAPPING = {
    "order_id": "body.name",
    "customer": (
        '{"name": body.customer.first_name + " " + body.customer.last_name,'
        ' "email": body.email, "phone": coalesce(body.phone, body.customer.phone)}'
    ),
    "items": "body.line_items",
    "total": "float(body.total_price)",
    "currency": "body.currency",
    "payment": '{"method": "card", "reference": str(body.id)}',
    "shipping_address": "body.shipping_address",
}
"""How an admin maps Shopify's order into the template's data (the designer's start settings)."""

ORDER_CREATED = {
    "id": 820982911946154508,
    "name": "#1001",
    "order_number": 1001,
    "email": "ada@example.com",
    "phone": "+4915100000",
    "currency": "EUR",
    "total_price": "39.90",
    "financial_status": "authorized",
    "gateway": "shopify_payments",
    "customer": {
        "id": 115310627314723954,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": None,
    },
    "line_items": [
        {"id": 466157049, "sku": "MUG-01", "title": "Mug", "quantity": 2, "price": "19.95"}
    ],
    "shipping_address": {"address1": "12 Analytical Row", "city": "London", "zip": "N1"},
}
"""A Shopify ``orders/create`` payload, trimmed to what matters here (prices are text)."""


@pytest.fixture
def edge() -> Iterator[FakeEdge]:
    with fake_edge() as running:
        yield running


@pytest.fixture
def box() -> Iterator[Mailbox]:
    with mailbox() as running:
        yield running


@pytest.fixture
def sms() -> Iterator[Recorder]:
    with recording_server() as running:
        yield running


@pytest.fixture
def app(settings, edge, box, sms):
    application = create_app(
        replace(
            settings,
            extra={
                "payment_url": edge.url,
                "carrier_url": edge.url,
                **box.settings(),
                "mail_from": "Mug Shop <orders@mugs.example>",
                "sms_url": f"{sms.url}/2010-04-01/Accounts/AC42/Messages.json",
                "sms_from": "+15005550006",
                "sms_account_sid": "AC42",
            },
            secrets={"sms_auth_token": "twilio-token"},
        )
    )
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def take_shopify_orders(admin: TestClient) -> str:
    """The admin switches the start to Shopify's scheme and mapping, publishes, and makes the
    secret the shop signs with."""
    draft = admin.get("/api/workflows/order-management").json()["draft"]
    (start,) = [n for n in draft["nodes"] if n["type"] == "start"]
    start["trigger"] = {
        "type": "webhook",
        "webhook": {"scheme": "shopify", "mapping": SHOPIFY_MAPPING},
    }
    saved = admin.put("/api/workflows/order-management/draft", json={"draft": draft})
    assert saved.status_code == 200, saved.text
    published = admin.post("/api/workflows/order-management/publish")
    assert published.status_code == 201, published.text
    made = admin.post("/api/admin/webhooks/order-management/secrets")
    assert made.status_code == 201, made.text
    secret: str = made.json()["secret"]
    return secret


def shopify_delivers(client: TestClient, secret: str, payload: dict[str, Any]) -> str:
    body = json.dumps(payload).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    answer = client.post(
        "/hooks/order-management",
        content=body,
        headers={
            "content-type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "mugs.myshopify.com",
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        },
    )
    assert answer.status_code == 202, answer.text
    instance_id: str = answer.json()["instance_id"]
    return instance_id


def only_task(client: TestClient, **params: Any) -> dict[str, Any]:
    page = client.get("/api/tasks", params=params).json()
    assert page["total"] == 1, page
    task: dict[str, Any] = page["items"][0]
    return task


def pick_and_pack(mia: TestClient, wendy: TestClient) -> None:
    pick = only_task(mia)
    assert pick["node"] == "pick"
    done = mia.post(f"/api/tasks/{pick['id']}/complete", json={"data": {"picked": True}})
    assert done.status_code == 200, done.text
    pack = only_task(wendy)
    assert pack["node"] == "pack"
    packed = wendy.post(
        f"/api/tasks/{pack['id']}/complete",
        json={"data": {"items_checked": True, "weight_kg": 0.9}},
    )
    assert packed.status_code == 200, packed.text


def test_a_shopify_order_runs_to_delivered_and_the_customer_hears_at_each_step(
    app, login, anonymous, edge, box, sms
):
    worker = app.state.worker
    admin, mia, wendy, shay = (login(u) for u in ("admin", "mia", "wendy", "shay"))
    secret = take_shopify_orders(admin)

    instance_id = shopify_delivers(anonymous, secret, ORDER_CREATED)
    instance = admin.get(f"/api/instances/{instance_id}").json()
    assert instance["business_key"] == "#1001"
    assert instance["data"]["customer"] == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+4915100000",
    }
    assert instance["data"]["total"] == 39.9
    assert box.received == []  # no confirmation before the payment is captured

    tick(worker, now=datetime.now(UTC))  # capture; then the confirmation goes out
    assert [r["path"] for r in edge.requests] == ["/captures"]
    (confirmation,) = box.received
    assert confirmation.rcpt_tos == ["ada@example.com"]
    assert confirmation.message["From"] == "Mug Shop <orders@mugs.example>"
    assert confirmation.message["Subject"] == "Your order #1001 is confirmed"
    assert "Dear Ada Lovelace," in confirmation.text
    assert "your payment of 39.9 EUR" in confirmation.text
    assert f"Follow it here: {instance['data']['tracking_url']}" in confirmation.text

    pick_and_pack(mia, wendy)
    tick(worker, now=datetime.now(UTC))  # the carrier's label
    hand_over = only_task(shay)
    handed = shay.post(
        f"/api/tasks/{hand_over['id']}/complete", json={"data": {"handed_over": True}}
    )
    assert handed.status_code == 200, handed.text
    tracking = admin.get(f"/api/instances/{instance_id}").json()["data"]["shipment"][
        "tracking_number"
    ]
    assert tracking.startswith("TRK")
    tick(worker, now=datetime.now(UTC))  # the shipped email and the SMS

    shipped = box.received[1]
    assert shipped.rcpt_tos == ["ada@example.com"]
    assert shipped.message["Subject"] == "Your order #1001 is on its way"
    assert f"Tracking number: {tracking}." in shipped.text
    (text,) = sms.requests
    assert text.path == "/2010-04-01/Accounts/AC42/Messages.json"
    assert text.form() == {
        "To": "+4915100000",
        "From": "+15005550006",
        "Body": f"Order #1001 has shipped: tracking {tracking}",
    }
    assert (
        text.headers["authorization"] == "Basic " + base64.b64encode(b"AC42:twilio-token").decode()
    )
    assert text.headers["idempotency-key"].startswith(f"{instance_id}:")

    token = admin.post(
        "/api/admin/tokens", json={"name": "carrier", "user": "shay", "scopes": ["write"]}
    ).json()["token"]
    reported = anonymous.post(
        "/api/messages",
        json={"message": "delivered", "correlation": tracking, "data": {"signed_by": "A. L."}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reported.status_code == 200, reported.text
    assert reported.json()["stage"] == "Delivered"
    tick(worker, now=datetime.now(UTC))  # the delivered email

    assert [m.message["Subject"] for m in box.received] == [
        "Your order #1001 is confirmed",
        "Your order #1001 is on its way",
        "Your order #1001 has been delivered",
    ]
    assert all(m.rcpt_tos == ["ada@example.com"] for m in box.received)
    assert "your order #1001 was delivered" in box.received[2].text
    assert len({m.message["Message-ID"] for m in box.received}) == 3
    assert len(sms.requests) == 1
    final = admin.get(f"/api/instances/{instance_id}").json()
    assert final["status"] == "completed"
    assert [s["stage"] for s in final["stages"]] == [
        "Received",
        "Paid",
        "Being prepared",
        "Ready for shipment",
        "Shipped",
        "Delivered",
    ]
    assert final["incidents"] == []
    story = [e["action"] for e in admin.get(f"/api/instances/{instance_id}/history").json()]
    assert story[0] == "instance.started"
    assert "webhook.received" in story
    assert story.count("instance.stage") == 6


def test_with_the_mail_server_down_the_order_goes_on_and_the_confirmation_follows(
    app, login, anonymous, box
):
    worker, admin, mia = app.state.worker, login("admin"), login("mia")
    secret = take_shopify_orders(admin)
    box.stop()
    instance_id = shopify_delivers(anonymous, secret, ORDER_CREATED)
    t0 = datetime.now(UTC)
    tick(worker, now=t0)  # paid; the confirmation cannot go
    assert admin.get(f"/api/instances/{instance_id}").json()["stage"] == "Being prepared"
    assert only_task(mia)["node"] == "pick"  # the warehouse is not held up

    box.start()
    tick(worker, now=t0 + channels.backoff(1))
    (confirmation,) = box.received
    assert confirmation.message["Subject"] == "Your order #1001 is confirmed"
    tick(worker, now=t0 + channels.backoff(1) + channels.backoff(2))
    assert len(box.received) == 1  # sent once
    assert admin.get(f"/api/instances/{instance_id}").json()["incidents"] == []
