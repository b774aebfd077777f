"""The controllable clock: SLA reminders and escalations seen through the API, no waiting."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.db.models import LoginSession, User
from app.main import create_app
from app.services.signatures import sign
from tests.app.builders import deliver, order, secret_for

ORDER = {
    "order_id": "S-1",
    "customer": {"name": "Ada", "email": "ada@example.com"},
    "items": [{"sku": "MUG-01", "quantity": 1}],
    "total": 20,
    "payment": {"method": "invoice"},
}


@pytest.fixture
def app(settings):
    application = create_app(replace(settings, controllable_clock=True))
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def next_monday_9am() -> datetime:
    today = datetime.now(UTC).date() + timedelta(days=7)
    monday = today - timedelta(days=today.weekday())
    return datetime(monday.year, monday.month, monday.day, 9, tzinfo=UTC)


def test_clock_is_read_by_anyone_and_moved_only_forward_by_an_admin(login):
    sam, admin = login("sam"), login("admin")
    assert sam.get("/api/clock").json()["controllable"] is True
    assert sam.post("/api/clock/advance", json={"by": "PT1H"}).status_code == 403
    before = datetime.fromisoformat(admin.get("/api/clock").json()["now"])
    moved = admin.post("/api/clock/advance", json={"by": "PT4H"}).json()
    assert datetime.fromisoformat(moved["now"]) - before >= timedelta(hours=4)
    back = admin.post("/api/clock/advance", json={"to": "2000-01-01T00:00:00Z"})
    assert back.status_code == 422
    a_day = admin.post("/api/clock/advance", json={"by": "P1D"}).json()
    assert datetime.fromisoformat(a_day["now"]) - datetime.fromisoformat(moved["now"]) >= timedelta(
        days=1
    )
    assert admin.post("/api/clock/advance", json={"by": "P1M"}).status_code == 422


def test_late_pick_is_reminded_escalated_then_reassigned(login):
    admin, fiona = login("admin"), login("fiona")
    monday = next_monday_9am()
    assert admin.post("/api/clock/advance", json={"to": monday.isoformat()}).status_code == 200
    started = admin.post("/api/workflows/order-management/instances", json={"data": ORDER}).json()
    capture = fiona.get("/api/tasks").json()["items"][0]
    assert (
        fiona.post(
            f"/api/tasks/{capture['id']}/complete", json={"data": {"captured": True}}
        ).status_code
        == 200
    )
    pick = admin.get("/api/tasks", params={"scope": "all", "status": "open"}).json()["items"][0]
    assert pick["node"] == "pick"
    due = datetime.fromisoformat(pick["due_at"])  # the moved clock keeps ticking meanwhile
    assert timedelta(0) <= due - (monday + timedelta(hours=4)) < timedelta(minutes=1)

    admin.post("/api/clock/advance", json={"by": "PT5H"})  # 14:00: reminded, due, escalated
    late = admin.get(f"/api/tasks/{pick['id']}").json()
    assert late["overdue"] is True
    assert late["at_risk"] is True
    flagged = admin.get(
        "/api/tasks", params={"scope": "all", "overdue": "true", "at_risk": "true"}
    ).json()
    assert [t["id"] for t in flagged["items"]] == [pick["id"]]
    history = [e["action"] for e in admin.get(f"/api/instances/{started['id']}/history").json()]
    assert history.count("sla.remind") == 1
    assert history.count("sla.escalate") == 1

    # 8 working hours from just after 09:00 Monday end just after 09:00 Tuesday
    admin.post(
        "/api/clock/advance", json={"to": (monday + timedelta(days=1, minutes=1)).isoformat()}
    )
    moved = admin.get(f"/api/tasks/{pick['id']}").json()
    assert moved["assignee"] is None
    assert moved["candidate_roles"] == ["warehouse_manager"]
    history = [e["action"] for e in admin.get(f"/api/instances/{started['id']}/history").json()]
    assert history.count("sla.escalate") == 2


def test_system_clock_cannot_be_moved(anonymous, settings, database):
    application = create_app(settings)
    from fastapi.testclient import TestClient

    with TestClient(application) as client:
        r = client.post(
            "/api/auth/login", json={"username": "admin", "password": "admin-test-password"}
        )
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        assert client.post("/api/clock/advance", json={"by": "PT1H"}).status_code == 409
    application.state.engine.dispose()


def test_production_refuses_the_controllable_clock(settings):
    with pytest.raises(ValueError, match="controllable clock"):
        create_app(replace(settings, controllable_clock=True, production=True))


def test_a_moved_clock_neither_ends_nor_lengthens_logins(login, app):
    admin = login("admin")
    assert admin.post("/api/clock/advance", json={"by": "P2D"}).status_code == 200
    sam = login("sam")  # logs in on the moved clock
    assert sam.get("/api/me").status_code == 200
    with app.state.sessionmaker() as session:
        user_id = session.query(User.id).filter(User.username == "sam").scalar()
        (expires,) = session.query(LoginSession.expires_at).filter_by(user_id=user_id).one()
    from_now = expires - datetime.now(UTC)
    assert timedelta(hours=11) < from_now <= timedelta(hours=12)  # 12 h of real time
    assert admin.get("/api/me").status_code == 200  # logged in before the move: still in


def test_a_moved_clock_still_takes_webhooks_signed_on_the_senders_real_clock(login, anonymous):
    admin = login("admin")
    secret = secret_for(admin, "order-management")
    assert admin.post("/api/clock/advance", json={"by": "P1D"}).status_code == 200
    sent = deliver(anonymous, "order-management", "generic", secret, order("CLOCK-1"))
    assert sent.status_code == 202, sent.text
    stale = datetime.now(UTC) - timedelta(hours=1)
    body = json.dumps(order("CLOCK-2")).encode()
    old = anonymous.post(
        "/hooks/order-management",
        content=body,
        headers={"content-type": "application/json", **sign("generic", secret, body, now=stale)},
    )
    assert old.status_code == 401  # stale on both clocks
