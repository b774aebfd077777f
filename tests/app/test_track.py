"""The customer's tracking page: an order's stages by its link, and nothing else of it.

The payment gateway and the carrier are small local HTTP servers; the workers run by
explicit ticks, with no sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.seed import DEMO_PEOPLE
from app.services.outbox import tick
from tests.app.builders import assert_error
from tests.app.fakes import FakeEdge, fake_edge

ORDER = {
    "order_id": "TRK-48151623",
    "customer": {"name": "Grace Hopper", "email": "grace@example.com", "phone": "+4915112345"},
    "items": [{"sku": "TEE-L", "quantity": 2, "price": 487.25}],
    "total": 974.5,
    "payment": {"method": "card", "reference": "pi_secret_ref"},
}


@pytest.fixture
def edge() -> Iterator[FakeEdge]:
    with fake_edge() as running:
        yield running


@pytest.fixture
def extra() -> dict[str, str]:
    """More ``STEPWISE_SETTING_*`` values (a test may parametrize it)."""
    return {}


@pytest.fixture
def app(settings, edge, extra):
    application = create_app(
        replace(settings, extra={"payment_url": edge.url, "carrier_url": edge.url, **extra})
    )
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def open_task(client: TestClient, instance_id: str) -> dict[str, Any]:
    page = client.get("/api/tasks", params={"scope": "all", "instance": instance_id}).json()
    (task,) = [t for t in page["items"] if t["status"] == "open"]
    found: dict[str, Any] = task
    return found


def complete(client: TestClient, task: dict[str, Any], data: dict[str, Any]) -> None:
    done = client.post(f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert done.status_code == 200, done.text


@pytest.fixture
def shipped(app, login) -> dict[str, Any]:
    """An order driven to "Shipped": its instance, token, tasks and the people who did them."""
    worker = app.state.worker
    sam, mia, wendy, shay, admin = (login(u) for u in ("sam", "mia", "wendy", "shay", "admin"))
    started = sam.post("/api/workflows/order-management/instances", json={"data": ORDER})
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]
    tick(worker, now=datetime.now(UTC))  # the payment is captured
    tasks = [open_task(admin, instance_id)]
    complete(mia, tasks[-1], {"picked": True})
    tasks.append(open_task(admin, instance_id))
    complete(wendy, tasks[-1], {"items_checked": True, "weight_kg": 1.4})
    tick(worker, now=datetime.now(UTC))  # the carrier's label
    tasks.append(open_task(admin, instance_id))
    complete(shay, tasks[-1], {"handed_over": True})
    instance = admin.get(f"/api/instances/{instance_id}").json()
    assert instance["stage"] == "Shipped"
    return {"instance": instance, "tasks": tasks, "token": instance["tracking_token"]}


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def test_the_page_shows_the_stages_reached_with_the_current_one_marked(anonymous, shipped):
    assert shipped["instance"]["data"]["tracking_url"] == f"/track/{shipped['token']}"
    page = anonymous.get(f"/track/{shipped['token']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in page.headers["x-robots-tag"]
    text = page.text
    names = ["Received", "Paid", "Being prepared", "Ready for shipment", "Shipped"]
    positions = [text.index(f">{name}\n") for name in names]
    assert positions == sorted(positions)
    assert text.count('aria-current="step"') == 1
    current = text[text.index('aria-current="step"') :]
    assert current.startswith('aria-current="step">Shipped')
    for stage in shipped["instance"]["stages"]:
        reached = datetime.fromisoformat(stage["at"]).astimezone(UTC)
        assert reached.isoformat(timespec="seconds") in text
    assert "Status: In progress" in text


def test_the_page_shows_nothing_else_of_the_instance(anonymous, login, shipped):
    """Every data value (texts of 3 or more characters, numbers of 3 or more digits: shorter
    ones cannot be told apart from ordinary text and times), task name, node id, username,
    display name and id of the instance must be absent from the whole body, HTML and JSON."""
    instance = shipped["instance"]
    history = login("admin").get(f"/api/instances/{instance['id']}/history").json()
    secrets: set[str] = set()
    for value in leaves(instance["data"]):
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, str) and len(value) >= 3:
            secrets.add(value)
        if isinstance(value, int | float) and sum(c.isdigit() for c in str(value)) >= 3:
            secrets.add(str(value))
    secrets |= {t["name"] for t in shipped["tasks"]} | {t["id"] for t in shipped["tasks"]}
    secrets |= {t["node"] for t in shipped["tasks"]}
    secrets |= {s["node"] for s in instance["path"]}
    secrets |= {p[0] for p in DEMO_PEOPLE} | {p[1] for p in DEMO_PEOPLE}
    secrets |= {instance["id"], instance["workflow_key"], instance["business_key"]}
    secrets |= {e["actor"] for e in history if e["actor"]}
    secrets |= {str(e["id"]) for e in history if e["id"] >= 100}
    assert {"TRK-48151623", "Grace Hopper", "walt", "pi_secret_ref"} <= secrets
    shown = instance["data"]["shipment"]["tracking_number"]  # the template's tracking field
    secrets -= {shown, "label"}  # "label": a data value, and a key of the JSON answer
    for path in (f"/track/{shipped['token']}", f"/api/track/{shipped['token']}"):
        body = anonymous.get(path).text
        assert "Shipped" in body
        assert shown in body, path
        leaked = sorted(s for s in secrets if s in body)
        assert leaked == [], path


def test_the_json_has_the_stages_the_status_and_the_tracking_fields(anonymous, login, shipped):
    answer = anonymous.get(f"/api/track/{shipped['token']}")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == {"stages", "status", "details"}
    assert body["details"] == [
        {
            "label": "Tracking number",
            "value": shipped["instance"]["data"]["shipment"]["tracking_number"],
        }
    ]
    assert body["status"] == "in_progress"
    assert [s["name"] for s in body["stages"]] == [
        "Received",
        "Paid",
        "Being prepared",
        "Ready for shipment",
        "Shipped",
    ]
    assert [s["current"] for s in body["stages"]] == [False] * 4 + [True]
    assert all(set(s) == {"name", "reached_at", "current"} for s in body["stages"])
    tracking = shipped["instance"]["data"]["shipment"]["tracking_number"]
    delivered = login("admin").post(
        "/api/messages", json={"message": "delivered", "correlation": tracking, "data": {}}
    )
    assert delivered.status_code == 200, delivered.text
    after = anonymous.get(f"/api/track/{shipped['token']}").json()
    assert (after["status"], after["stages"][-1]["name"]) == ("completed", "Delivered")


def test_a_tracking_field_the_instance_has_no_value_for_is_left_out(anonymous, login):
    started = login("sam").post("/api/workflows/order-management/instances", json={"data": ORDER})
    assert started.status_code == 201, started.text
    token = started.json()["tracking_token"]
    body = anonymous.get(f"/api/track/{token}").json()
    assert body["details"] == []  # no label yet, so no tracking number
    page = anonymous.get(f"/track/{token}").text
    assert "Tracking number" not in page
    assert "<dl>" not in page


def test_tracking_fields_show_plain_values_only_escaped_and_cut(login):
    from types import SimpleNamespace

    from app.services.tracking import DETAIL_MAX_CHARS, tracking
    from engine.model import TrackingField

    data = {
        "shipment": {"tracking_number": "<b>TR-1</b>", "parts": [1, 2]},
        "note": "x" * 500,
        "paid": True,
        "weight": 1.5,
    }
    instance = SimpleNamespace(state={"stages": [], "data": data}, status="running")
    fields = [
        TrackingField(label="Tracking", field="shipment.tracking_number"),
        TrackingField(label="Parts", field="shipment.parts"),  # a list: not shown
        TrackingField(label="Paid", field="paid"),  # true/false: not shown
        TrackingField(label="Weight", field="weight"),
        TrackingField(label="Note", field="note"),
        TrackingField(label="Missing", field="shipment.carrier"),
    ]
    found = tracking(instance, fields)  # type: ignore[arg-type]
    assert [(d.label, d.value) for d in found.details] == [
        ("Tracking", "<b>TR-1</b>"),
        ("Weight", "1.5"),
        ("Note", "x" * DETAIL_MAX_CHARS),
    ]


def test_an_unknown_link_is_a_404_page(anonymous):
    for token in ("A" * 32, "short", "has spaces in it and is long enough", "x" * 200):
        page = anonymous.get(f"/track/{token}")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "This tracking link is not known" in page.text
        assert_error(anonymous.get(f"/api/track/{token}"), 404, "not_found")


@pytest.mark.parametrize(
    "extra",
    [
        {
            "brand_name": "Acme <Parcels> & Co",
            "brand_color": "#ff6600",
            "brand_logo_url": "https://cdn.acme.example/logo.png",
        }
    ],
)
def test_the_page_wears_the_company_brand(anonymous, login):
    started = login("sam").post("/api/workflows/order-management/instances", json={"data": ORDER})
    token = started.json()["tracking_token"]
    page = anonymous.get(f"/track/{token}")
    assert page.status_code == 200
    assert "Acme &lt;Parcels&gt; &amp; Co" in page.text
    assert "--brand: #ff6600;" in page.text
    assert '<img src="https://cdn.acme.example/logo.png"' in page.text
    assert (
        "img-src 'self' data: https://cdn.acme.example;" in page.headers["content-security-policy"]
    )
    assert "Received" in page.text


@pytest.mark.parametrize(
    "extra",
    [
        {
            "brand_color": "red;}</style><script>alert(1)</script>",
            "brand_logo_url": "javascript:alert(1)",
        }
    ],
)
def test_a_brand_setting_that_does_not_fit_is_left_out(anonymous, login):
    started = login("sam").post("/api/workflows/order-management/instances", json={"data": ORDER})
    page = anonymous.get(f"/track/{started.json()['tracking_token']}")
    assert page.status_code == 200
    assert "<script" not in page.text
    assert "javascript:" not in page.text
    assert "<img" not in page.text
    assert "--brand: #4338ca;" in page.text  # the default colour
    assert "Stepwise" in page.text  # the default name
