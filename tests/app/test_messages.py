"""Messages matched to waiting instances (app/services/messages.py through POST /api/messages):
delivered once however often they come, held when they come early, refused when ambiguous."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.db.models import MessageDelivery, MessageWait, Task
from app.main import create_app
from app.services import runner
from engine import CompleteTask
from tests.app.builders import publish


@pytest.fixture
def app(settings):
    application = create_app(replace(settings, controllable_clock=True))
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def parcel_flow(key: str, *, keep_early: str | None = "P1D", message: str = "parcel") -> dict:
    """Sam packs the parcel; then the instance waits for ``message`` by tracking number."""
    receive: dict[str, Any] = {
        "id": "wait",
        "type": "receive",
        "name": "Wait for delivery",
        "stage": "Shipped",
        "message": message,
        "correlate": "tracking",
        "result": "delivery",
    }
    if keep_early:
        receive["keep_early"] = keep_early
    return {
        "format": 1,
        "key": key,
        "name": key,
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "pack", "type": "user_task", "name": "Pack", "assignee": {"user": "sam"}},
            receive,
            {"id": "end", "type": "end", "name": "Delivered", "stage": "Delivered"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "pack"},
            {"id": "e2", "from": "pack", "to": "wait"},
            {"id": "e3", "from": "wait", "to": "end"},
        ],
    }


def start(admin, key: str, tracking: str) -> str:
    r = admin.post(f"/api/workflows/{key}/instances", json={"data": {"tracking": tracking}})
    assert r.status_code == 201, r.text
    instance_id: str = r.json()["id"]
    return instance_id


def pack(login, admin, instance_id: str) -> None:
    """Sam completes the packing task: the instance starts waiting for its message."""
    tasks = admin.get("/api/tasks", params={"scope": "all", "instance": instance_id}).json()
    (task,) = [t for t in tasks["items"] if t["status"] == "open"]
    done = login("sam").post(f"/api/tasks/{task['id']}/complete", json={"data": {}})
    assert done.status_code == 200, done.text


def instance(admin, instance_id: str) -> dict:
    found: dict = admin.get(f"/api/instances/{instance_id}").json()
    return found


def history(admin, instance_id: str) -> list[str]:
    events = admin.get(f"/api/instances/{instance_id}/history").json()
    return [e["action"] for e in events]


def send(admin, tracking: str, message: str = "parcel", **headers: str):
    return admin.post(
        "/api/messages",
        json={"message": message, "correlation": tracking, "data": {"signed_by": "Ada"}},
        headers=headers,
    )


def test_the_same_message_five_times_moves_the_instance_once(login):
    admin = login("admin")
    publish(admin, parcel_flow("parcel-once", keep_early=None))
    first, second = start(admin, "parcel-once", "T-1"), start(admin, "parcel-once", "T-2")
    pack(login, admin, first)
    pack(login, admin, second)

    answers = [send(admin, "T-1") for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["duplicate"] for a in answers] == [False, True, True, True, True]
    assert {a.json()["instance_id"] for a in answers} == {first}
    assert {a.json()["delivery_id"] for a in answers} == {answers[0].json()["delivery_id"]}
    assert instance(admin, first)["status"] == "completed"
    assert instance(admin, first)["data"]["delivery"] == {"signed_by": "Ada"}
    assert history(admin, first).count("message.received") == 1

    keyed = [send(admin, "T-2", **{"Idempotency-Key": "carrier-42"}) for _ in range(5)]
    assert [a.json()["duplicate"] for a in keyed] == [False, True, True, True, True]
    assert history(admin, second).count("message.received") == 1


def test_an_idempotency_key_reused_for_another_message_is_422(login):
    admin = login("admin")
    publish(admin, parcel_flow("parcel-key", keep_early=None))
    instance_id = start(admin, "parcel-key", "K-1")
    pack(login, admin, instance_id)
    assert send(admin, "K-1", **{"Idempotency-Key": "k"}).status_code == 200
    other = send(admin, "K-2", **{"Idempotency-Key": "k"})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"


def test_a_message_after_its_wait_ended_is_404_not_a_conflict(login, app):
    """The wait an instance's message answered is gone: another instance waiting with the same
    correlation value later is the only match."""
    admin = login("admin")
    publish(admin, parcel_flow("parcel-reuse", keep_early=None))
    first = start(admin, "parcel-reuse", "R-1")
    pack(login, admin, first)
    assert send(admin, "R-1").status_code == 200
    with app.state.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(MessageWait)) == 0
    again = admin.post("/api/messages", json={"message": "parcel", "correlation": "R-1"})
    assert again.status_code == 404
    second = start(admin, "parcel-reuse", "R-1")
    pack(login, admin, second)
    later = admin.post(
        "/api/messages", json={"message": "parcel", "correlation": "R-1", "data": {"n": 2}}
    )
    assert later.status_code == 200, later.text
    assert later.json()["instance_id"] == second


def test_two_waiting_instances_is_409_and_neither_moves(login):
    admin = login("admin")
    publish(admin, parcel_flow("parcel-twins", keep_early=None))
    ids = [start(admin, "parcel-twins", "SAME") for _ in range(2)]
    for instance_id in ids:
        pack(login, admin, instance_id)
    r = send(admin, "SAME")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "ambiguous_message"
    assert [instance(admin, i)["stage"] for i in ids] == ["Shipped", "Shipped"]


def test_without_keep_early_an_early_message_is_404_and_not_kept(login, app):
    admin = login("admin")
    publish(admin, parcel_flow("parcel-strict", keep_early=None))
    r = send(admin, "EARLY-0")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "no_waiting_instance"
    with app.state.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(MessageDelivery)) == 0


def test_an_early_message_is_held_and_delivered_when_the_instance_starts_waiting(login):
    admin = login("admin")
    publish(admin, parcel_flow("parcel-early"))
    instance_id = start(admin, "parcel-early", "E-1")  # still packing: nothing waits yet

    held = send(admin, "E-1")
    assert held.status_code == 202, held.text
    assert held.json()["held"] is True
    assert held.json()["instance_id"] is None
    assert held.json()["held_until"] is not None
    again = send(admin, "E-1")
    assert again.status_code == 202
    assert again.json()["duplicate"] is True

    admin.post("/api/clock/advance", json={"by": "PT20H"})  # within the day it is kept
    pack(login, admin, instance_id)
    after = instance(admin, instance_id)
    assert after["status"] == "completed"
    assert after["stage"] == "Delivered"
    assert after["data"]["delivery"] == {"signed_by": "Ada"}
    assert history(admin, instance_id).count("message.received") == 1
    # the held message was used: a retry of it answers with the instance, moving nothing
    retried = send(admin, "E-1")
    assert retried.status_code == 200
    assert retried.json()["duplicate"] is True
    assert retried.json()["instance_id"] == instance_id


def test_a_held_message_is_not_delivered_after_it_expires(login, app):
    admin = login("admin")
    publish(admin, parcel_flow("parcel-late"))
    instance_id = start(admin, "parcel-late", "L-1")
    assert send(admin, "L-1").status_code == 202

    admin.post("/api/clock/advance", json={"by": "PT25H"})  # past the day it was kept for
    pack(login, admin, instance_id)
    waiting = instance(admin, instance_id)
    assert waiting["status"] == "running"
    assert waiting["stage"] == "Shipped"
    with app.state.sessionmaker() as session:  # the expired message was dropped on the way
        assert session.scalar(select(func.count()).select_from(MessageDelivery)) == 0
    # the same message sent again now is new, and reaches the waiting instance
    now = send(admin, "L-1")
    assert now.status_code == 200, now.text
    assert now.json()["duplicate"] is False
    assert instance(admin, instance_id)["status"] == "completed"


def test_a_held_message_is_kept_for_the_longest_window_but_each_node_takes_only_its_own(login):
    """One workflow keeps ``parcel-mixed`` early messages for an hour, another for a day: a
    message two hours early is held, goes to the day-long node, not to the hour-long one."""
    admin = login("admin")
    publish(admin, parcel_flow("mixed-hour", keep_early="PT1H", message="parcel-mixed"))
    publish(admin, parcel_flow("mixed-day", keep_early="P1D", message="parcel-mixed"))
    hourly = start(admin, "mixed-hour", "M-1")
    assert send(admin, "M-1", message="parcel-mixed").status_code == 202
    admin.post("/api/clock/advance", json={"by": "PT2H"})
    pack(login, admin, hourly)
    assert instance(admin, hourly)["status"] == "running"  # too old for an hour-long window

    daily = start(admin, "mixed-day", "M-1")
    pack(login, admin, daily)
    assert instance(admin, daily)["status"] == "completed"


def test_a_message_to_a_suspended_instance_is_409_and_can_be_sent_again(login):
    admin = login("admin")
    publish(admin, parcel_flow("parcel-paused", keep_early=None))
    instance_id = start(admin, "parcel-paused", "P-1")
    pack(login, admin, instance_id)
    assert admin.post(f"/api/instances/{instance_id}/suspend", json={}).status_code == 200
    refused = send(admin, "P-1")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "suspended"
    assert admin.post(f"/api/instances/{instance_id}/resume", json={}).status_code == 200
    delivered = send(admin, "P-1")
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["duplicate"] is False


def waiting_on_a_lock(app) -> bool:
    with app.state.engine.connect() as conn:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return bool(conn.execute(text(query)).scalar())


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_message_held_while_its_wait_is_being_recorded_is_delivered_to_it(login, app):
    """PostgreSQL: the message finds no committed wait, because the step recording the wait
    has not committed yet, and is held; it then waits for that step and is delivered."""
    admin = login("admin")
    publish(admin, parcel_flow("parcel-cross"))
    instance_id = start(admin, "parcel-cross", "X-1")
    recording = app.state.sessionmaker()  # Sam completes packing, not committed yet
    task = recording.scalar(select(Task).where(Task.instance_id == instance_id))
    runner.run_command(
        recording,
        cache=app.state.definitions,
        instance=runner.lock_instance(recording, instance_id),
        command=CompleteTask(task.engine_id, {}, by="sam"),
        actor="sam",
        now=app.state.clock.now(),
    )
    task.status, task.completed_by = "completed", "sam"
    recording.flush()
    answers: list[Any] = []
    sender = threading.Thread(target=lambda: answers.append(send(admin, "X-1")))
    sender.start()
    deadline = time.monotonic() + 20
    while not waiting_on_a_lock(app) and time.monotonic() < deadline:
        time.sleep(0.01)  # the message, held, waits for the step recording the wait
    recording.commit()
    recording.close()
    sender.join(timeout=30)

    (answer,) = answers
    assert answer.status_code == 200, answer.text
    assert answer.json()["instance_id"] == instance_id
    assert instance(admin, instance_id)["stage"] == "Delivered"
    assert history(admin, instance_id).count("message.received") == 1
    with app.state.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(MessageWait)) == 0
