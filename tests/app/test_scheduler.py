"""The scheduler: who owns the work on SQLite, and a restart that loses no timer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from app.main import create_app
from app.scheduler import Ownership
from app.services.outbox import tick

WAIT = {
    "format": 1,
    "key": "wait-an-hour",
    "name": "Wait an hour",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {"id": "wait", "type": "timer", "name": "Wait", "duration": "PT1H"},
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "wait"},
        {"id": "e2", "from": "wait", "to": "end"},
    ],
}


def test_on_sqlite_one_process_owns_the_work_and_a_survivor_takes_over(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first, second = Ownership(url), Ownership(url)
    assert first.owns()
    assert not second.owns()
    first.release()
    assert second.owns()
    second.release()


def test_on_postgresql_every_process_shares_the_work():
    assert Ownership("postgresql+psycopg://u@127.0.0.1/db").owns()


def test_timers_that_came_due_while_down_fire_once_after_a_restart(settings, login):
    admin = login("admin")
    assert (
        admin.post("/api/workflows", json={"key": "wait-an-hour", "draft": WAIT}).status_code == 201
    )
    assert admin.post("/api/workflows/wait-an-hour/publish").status_code == 201
    ids = [
        admin.post("/api/workflows/wait-an-hour/instances", json={"data": {}}).json()["id"]
        for _ in range(5)
    ]
    restarted = create_app(settings)  # a new process on the same database, two hours later
    later = restarted.state.clock.now() + timedelta(hours=2)
    try:
        fired, _ = tick(restarted.state.worker, now=later)
        again, _ = tick(restarted.state.worker, now=later + timedelta(minutes=1))
    finally:
        restarted.state.worker.client.close()
        restarted.state.engine.dispose()
    assert (fired, again) == (5, 0)
    statuses = {admin.get(f"/api/instances/{i}").json()["status"] for i in ids}
    assert statuses == {"completed"}
