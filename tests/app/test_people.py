"""Out of office and delegation, through the API, with the clock moved explicitly."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.db.models import Notification
from app.main import create_app
from app.services.people import deliver_inbox
from tests.app.builders import one_task, publish


@pytest.fixture
def app(settings):
    application = create_app(replace(settings, controllable_clock=True))
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


@pytest.fixture
def admin(login):
    client = login("admin")
    for key, assignee in (
        ("for-walt", {"user": "walt"}),
        ("for-warehouse", {"expr": "who"}),
    ):
        publish(client, one_task(key, assignee))
    return client


def now(client) -> datetime:
    return datetime.fromisoformat(client.get("/api/clock").json()["now"])


def away(
    client, user: str, delegate: str, *, start: timedelta, end: timedelta, **extra: Any
) -> dict[str, Any]:
    at = now(client)
    body = {
        "user": user,
        "delegate": delegate,
        "starts_at": (at + start).isoformat(),
        "ends_at": (at + end).isoformat(),
        **extra,
    }
    r = client.post("/api/out-of-office", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def start(client, key: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post(f"/api/workflows/{key}/instances", json={"data": data or {}})
    assert r.status_code == 201, r.text
    (task,) = r.json()["open_tasks"]
    result: dict[str, Any] = task
    return result


def test_new_tasks_for_someone_away_go_to_their_delegate(admin):
    away(admin, "walt", "wendy", start=-timedelta(hours=1), end=timedelta(days=2))
    task = start(admin, "for-walt")
    assert task["assignee"] == "wendy"


def test_open_tasks_move_to_the_delegate_when_the_window_starts_and_return_when_it_ends(
    admin, login
):
    task = start(admin, "for-walt")
    assert task["assignee"] == "walt"
    away(admin, "walt", "wendy", start=timedelta(hours=1), end=timedelta(hours=5))
    admin.post("/api/clock/advance", json={"by": "PT2H"})
    moved = admin.get(f"/api/tasks/{task['id']}").json()
    assert moved["assignee"] == "wendy"
    wendy = login("wendy")
    titles = [n["title"] for n in wendy.get("/api/notifications").json()["items"]]
    assert any("for walt, who is away" in t for t in titles)
    admin.post("/api/clock/advance", json={"by": "PT4H"})
    assert admin.get(f"/api/tasks/{task['id']}").json()["assignee"] == "walt"


def test_a_task_made_for_someone_away_goes_back_to_them_when_the_window_ends(admin):
    away(admin, "walt", "wendy", start=-timedelta(hours=1), end=timedelta(hours=3))
    task = start(admin, "for-walt")
    assert task["assignee"] == "wendy"
    admin.post("/api/clock/advance", json={"by": "PT4H"})
    assert admin.get(f"/api/tasks/{task['id']}").json()["assignee"] == "walt"


def test_a_task_the_delegate_started_stays_with_them(admin, login):
    task = start(admin, "for-walt")
    away(admin, "walt", "wendy", start=timedelta(hours=1), end=timedelta(hours=5))
    admin.post("/api/clock/advance", json={"by": "PT2H"})
    wendy = login("wendy")
    assert wendy.post(f"/api/tasks/{task['id']}/claim").status_code == 200  # taking it up
    admin.post("/api/clock/advance", json={"by": "PT4H"})
    assert admin.get(f"/api/tasks/{task['id']}").json()["assignee"] == "wendy"


def test_task_delegated_by_hand_is_done_on_behalf_of_its_owner_who_is_told(admin, login):
    task = start(admin, "for-walt")
    walt, wendy = login("walt"), login("wendy")
    assert walt.post(f"/api/tasks/{task['id']}/delegate", json={"to": "wendy"}).status_code == 200
    assert walt.get(f"/api/tasks/{task['id']}").status_code == 200  # the owner still sees it
    assert wendy.post(f"/api/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    history = admin.get(f"/api/instances/{task['instance_id']}/history").json()
    done = next(e for e in history if e["action"] == "task.completed")
    assert (done["actor"], done["on_behalf_of"]) == ("wendy", "walt")
    admin.post("/api/clock/advance", json={"by": "PT1S"})  # the worker delivers the notice
    titles = [n["title"] for n in walt.get("/api/notifications").json()["items"]]
    assert "wendy completed Do the work for you" in titles


def test_a_chain_of_delegates_resolves_to_the_first_available(admin):
    away(admin, "walt", "wendy", start=-timedelta(hours=1), end=timedelta(days=1))
    away(admin, "wendy", "mia", start=-timedelta(hours=1), end=timedelta(days=1))
    assert start(admin, "for-walt")["assignee"] == "mia"


def test_a_loop_of_delegates_falls_back_to_the_pool_and_tells_the_admin(admin):
    away(admin, "walt", "wendy", start=-timedelta(hours=1), end=timedelta(days=1))
    away(admin, "wendy", "walt", start=-timedelta(hours=1), end=timedelta(days=1))
    task = start(admin, "for-warehouse", {"who": "walt"})
    assert task["assignee"] is None
    assert task["candidate_users"] == ["walt"]
    history = admin.get(f"/api/instances/{task['instance_id']}/history").json()
    created = next(e for e in history if e["action"] == "task.created")
    assert any("loop" in note for note in created["details"]["notes"])


def test_a_role_pool_leaves_out_people_who_are_away(admin, login):
    away(admin, "mia", "walt", start=-timedelta(hours=1), end=timedelta(days=1))
    order = {
        "order_id": "V-1",
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "items": [{"sku": "MUG-01", "quantity": 1}],
        "total": 20,
        "payment": {"method": "invoice"},
    }
    admin.post("/api/workflows/order-management/instances", json={"data": order})
    fiona = login("fiona")
    capture = fiona.get("/api/tasks").json()["items"][0]
    fiona.post(f"/api/tasks/{capture['id']}/complete", json={"data": {"captured": True}})
    pick = admin.get("/api/tasks", params={"scope": "all", "status": "open"}).json()["items"][0]
    assert pick["node"] == "pick"
    assert pick["assignee"] == "walt"  # least loaded among those present; mia is away


def test_a_claim_pool_is_not_offered_to_someone_away_until_they_are_back(admin, login):
    publish(admin, one_task("for-the-pool", {"role": "warehouse"}))
    away(admin, "walt", "wendy", start=-timedelta(hours=1), end=timedelta(hours=3))
    task = start(admin, "for-the-pool")
    walt, wendy = login("walt"), login("wendy")

    assert task["id"] not in [t["id"] for t in walt.get("/api/tasks").json()["items"]]
    assert task["id"] in [t["id"] for t in wendy.get("/api/tasks").json()["items"]]
    refused = walt.post(f"/api/tasks/{task['id']}/claim")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "out_of_office"
    assert walt.post(f"/api/tasks/{task['id']}/complete", json={"data": {}}).status_code == 403

    admin.post("/api/clock/advance", json={"by": "PT4H"})  # walt is back
    assert task["id"] in [t["id"] for t in walt.get("/api/tasks").json()["items"]]
    assert walt.post(f"/api/tasks/{task['id']}/claim").status_code == 200


def test_an_admin_away_takes_nothing_from_their_roles_pools(admin, login):
    publish(admin, one_task("for-admins", {"role": "admin"}))
    away(admin, "admin", "wendy", start=-timedelta(hours=1), end=timedelta(hours=3))
    task = start(admin, "for-admins")
    page = admin.get(f"/api/tasks/{task['id']}").json()  # an admin sees every task
    assert page["can"]["claim"] is False
    refused = admin.post(f"/api/tasks/{task['id']}/claim")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "out_of_office"


def test_a_notification_to_a_role_leaves_out_members_who_are_away(admin, app):
    away(admin, "walt", "wendy", start=-timedelta(hours=1), end=timedelta(hours=3))
    with app.state.sessionmaker() as session:
        sent = deliver_inbox(
            session, {"to": "role:warehouse", "subject": "Pallets arrived"}, now=now(admin)
        )
        session.commit()
        told = list(
            session.scalars(
                select(Notification.username).where(Notification.title == "Pallets arrived")
            )
        )
    assert "wendy" in told
    assert "walt" not in told
    assert sent == len(told)


def test_an_admin_reassigning_to_someone_away_gives_it_to_their_cover(admin):
    task = start(admin, "for-walt")
    away(admin, "wendy", "mia", start=-timedelta(hours=1), end=timedelta(hours=3))
    moved = admin.post(f"/api/tasks/{task['id']}/reassign", json={"user": "wendy"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["assignee"] == "mia"
    admin.post("/api/clock/advance", json={"by": "PT4H"})  # wendy is back: it is hers
    assert admin.get(f"/api/tasks/{task['id']}").json()["assignee"] == "wendy"


def test_only_admins_set_someone_elses_window(login):
    sam = login("sam")
    at = datetime.fromisoformat(sam.get("/api/clock").json()["now"])
    body = {
        "delegate": "fiona",
        "starts_at": at.isoformat(),
        "ends_at": (at + timedelta(days=1)).isoformat(),
    }
    assert sam.post("/api/out-of-office", json={**body, "user": "walt"}).status_code == 403
    assert sam.post("/api/out-of-office", json=body).status_code == 201
    assert [w["user"] for w in sam.get("/api/out-of-office").json()] == ["sam"]


def test_a_delegate_without_the_tasks_role_sends_it_back_to_the_pool(admin, login):
    order = {
        "order_id": "V-2",
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "items": [{"sku": "MUG-01", "quantity": 1}],
        "total": 20,
        "payment": {"method": "invoice"},
    }
    admin.post("/api/workflows/order-management/instances", json={"data": order})
    fiona = login("fiona")
    capture = fiona.get("/api/tasks").json()["items"][0]
    fiona.post(f"/api/tasks/{capture['id']}/complete", json={"data": {"captured": True}})
    pick = admin.get("/api/tasks", params={"scope": "all", "status": "open"}).json()["items"][0]
    assert pick["assignee"] == "mia"
    away(admin, "mia", "sam", start=timedelta(hours=1), end=timedelta(days=1))  # sam is in sales
    admin.post("/api/clock/advance", json={"by": "PT2H"})
    moved = admin.get(f"/api/tasks/{pick['id']}").json()
    assert moved["assignee"] is None
    assert moved["candidate_roles"] == ["warehouse"]
    assert [t["id"] for t in login("walt").get("/api/tasks").json()["items"]] == [pick["id"]]
    admin.post("/api/clock/advance", json={"by": "PT1S"})
    titles = [n["title"] for n in admin.get("/api/notifications").json()["items"]]
    assert any(t.startswith("No one covers Pick items for mia") for t in titles)


def test_an_approved_vacation_request_sets_up_the_delegation(admin, login):
    sam, mia = login("sam"), login("mia")
    first_day = (now(sam) + timedelta(days=3)).date()
    data = {
        "starts_on": first_day.isoformat(),
        "ends_on": (first_day + timedelta(days=7)).isoformat(),
    }
    r = sam.post(
        "/api/workflows/vacation-request/instances", json={"data": {**data, "delegate": "fiona"}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["stage"] == "Waiting for approval"
    approval = mia.get("/api/tasks").json()["items"][0]
    assert approval["node"] == "approve"
    assert (
        mia.post(f"/api/tasks/{approval['id']}/complete", json={"outcome": "approve"}).status_code
        == 200
    )
    admin.post("/api/clock/advance", json={"by": "PT1S"})  # the delegation is set up, sam is told
    (window,) = sam.get("/api/out-of-office").json()
    assert (window["user"], window["delegate"]) == ("sam", "fiona")
    assert window["starts_at"].startswith(first_day.isoformat())
    assert sam.get(f"/api/instances/{r.json()['id']}").json()["stage"] == "Approved"
    admin.post("/api/clock/advance", json={"by": "PT1S"})
    titles = [n["title"] for n in sam.get("/api/notifications").json()["items"]]
    assert any("is approved" in t for t in titles)


def test_two_absences_with_the_same_delegate_both_hand_over(admin):
    task = start(admin, "for-walt")
    away(
        admin, "walt", "wendy", start=timedelta(hours=1), end=timedelta(hours=2), return_tasks=False
    )
    admin.post("/api/clock/advance", json={"by": "PT90M"})
    assert admin.get(f"/api/tasks/{task['id']}").json()["assignee"] == "wendy"
    admin.post("/api/clock/advance", json={"by": "PT1H"})
    away(admin, "wendy", "mia", start=timedelta(hours=1), end=timedelta(hours=3))
    away(admin, "walt", "wendy", start=timedelta(hours=1), end=timedelta(hours=3))
    r = admin.post("/api/clock/advance", json={"by": "PT2H"})
    assert r.status_code == 200, r.text
    assert admin.get(f"/api/tasks/{task['id']}").json()["assignee"] == "mia"
