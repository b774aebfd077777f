"""Due timers shared by several app processes on one PostgreSQL: each fires exactly once.

The workers are real OS processes (``python -c`` on ``create_app`` and
``app.services.outbox.fire_due_timers``), not threads: two fire 1,000 due timers at
once, and a process killed (SIGKILL) in the middle of firing a timer loses nothing —
PostgreSQL rolls its transaction back when the connection drops, which releases the
``FOR UPDATE SKIP LOCKED`` claim, and another process fires the timer.

PostgreSQL only (SQLite has no row locks; one process serialises its writers), on a
copy of the session's seeded template database like conftest's ``database`` fixture.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, text
from sqlalchemy import select as sql_select

from app.db.models import AuditEvent, Instance, Timer
from app.main import create_app
from app.services import runner
from app.services.outbox import fire_due_timers
from app.settings import Settings
from tests.app.conftest import ADMIN_PASSWORD, PG_ADMIN_URL, Template, _pg_admin

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = "timer-burst"
BURST = 1000
PROCESS_TIMEOUT_S = 120.0
TIMER_BURST = {
    "format": 1,
    "key": WORKFLOW,
    "name": "Timer burst",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {"id": "wait", "type": "timer", "name": "Wait a second", "duration": "PT1S"},
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "wait"},
        {"id": "e2", "from": "wait", "to": "end"},
    ],
}

WORKER = """
import json, os, sys, time
from datetime import datetime
from sqlalchemy import func, select
from app.db.models import Timer
from app.main import create_app
from app.services import runner
from app.services.outbox import fire_due_timers
from app.settings import Settings
from engine import FireTimer

mode, url, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
app = create_app(Settings(database_url=url, run_scheduler=False, seed_demo=False))
worker = app.state.worker
due = (Timer.status == "pending", Timer.due_at <= now)

if mode == "claim":
    # fire_due_timers' first transaction, stopped before its commit: claimed, fired, not committed
    session = worker.sessionmaker()
    timer = session.scalar(
        select(Timer).where(*due).order_by(Timer.due_at).limit(1).with_for_update(skip_locked=True)
    )
    instance = runner.lock_instance(session, timer.instance_id)
    timer.status, timer.fired_at = "fired", now
    runner.run_command(session, cache=worker.cache, instance=instance,
                       command=FireTimer(timer.engine_id), actor="scheduler", now=now)
    session.flush()
    print(json.dumps({"timer": timer.id, "instance": instance.id, "status": instance.status}),
          flush=True)
    sys.stdin.readline()  # the test kills this process here
    os._exit(2)

# "drain": fire until no due timer is left (rows another process holds are waited for)
print("ready", flush=True)
sys.stdin.readline()
fired, rounds, deadline = 0, 0, time.monotonic() + float(sys.argv[4])
while True:
    n = fire_due_timers(worker, now=now)
    fired += n
    rounds += 1
    if n:
        continue
    with worker.sessionmaker() as session:
        left = session.scalar(select(func.count()).select_from(Timer).where(*due))
    if not left:
        break
    if time.monotonic() > deadline:
        print(json.dumps({"fired": fired, "left": left}), flush=True)
        sys.exit(3)
    time.sleep(0.005)  # bounded: until the holder commits or its connection drops
print(json.dumps({"fired": fired, "rounds": rounds, "pid": os.getpid()}), flush=True)
worker.client.close()
app.state.engine.dispose()
"""


# --- database and app -------------------------------------------------------------------------


@pytest.fixture
def pg_database(pg_template: Template) -> Iterator[str]:
    """A fresh copy of the seeded PostgreSQL template (``CREATE DATABASE ... TEMPLATE``)."""
    name = f"stepwise_t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(
            text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template.url.rsplit("/", 1)[1]}"')
        )
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def app(pg_database: str, tmp_path: Path) -> Iterator[FastAPI]:
    """The app on that database, with ``timer-burst`` published by the admin through the API."""
    application = create_app(
        Settings(
            database_url=pg_database,
            data_dir=tmp_path / "data",
            admin_password=ADMIN_PASSWORD,
            run_scheduler=False,
        )
    )
    with TestClient(application) as client:
        login = client.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        created = client.post("/api/workflows", json={"key": WORKFLOW, "draft": TIMER_BURST})
        assert created.status_code == 201, created.text
        published = client.post(f"/api/workflows/{WORKFLOW}/publish")
        assert published.status_code == 201, published.text
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def start_instances(app: FastAPI, count: int, *, now: datetime) -> list[str]:
    """``count`` instances of ``timer-burst``, each waiting on its timer (due ``now`` + 1 s)."""
    with app.state.sessionmaker() as session:
        ids = [
            runner.start_instance(
                session,
                cache=app.state.definitions,
                workflow_key=WORKFLOW,
                data={"n": n},
                actor="admin",
                now=now,
            ).id
            for n in range(count)
        ]
        session.commit()
    return ids


# --- processes --------------------------------------------------------------------------------


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``WORKER`` processes; every one still running at the end is killed."""
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", WORKER, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=PROCESS_TIMEOUT_S)


def read_line(process: subprocess.Popen[str], timeout: float = PROCESS_TIMEOUT_S) -> str:
    """The process's next line of output, waiting at most ``timeout`` seconds for it."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        _, err = process.communicate(timeout=PROCESS_TIMEOUT_S)
        pytest.fail(f"worker {process.pid} said nothing within {timeout}s:\n{err[-3000:]}")
    return line.strip()


def go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait (bounded) for a drain worker to exit 0; returns its final report."""
    try:
        out, err = process.communicate(timeout=PROCESS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=PROCESS_TIMEOUT_S)
        pytest.fail(
            f"worker {process.pid} still running after {PROCESS_TIMEOUT_S}s:\n{err[-3000:]}"
        )
    assert process.returncode == 0, f"worker {process.pid} exited {process.returncode}:\n{err}"
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


# --- what the database says -------------------------------------------------------------------


def counts(app: FastAPI) -> dict[str, int]:
    with app.state.sessionmaker() as session:

        def count(model: Any, *where: Any) -> int:
            return int(session.scalar(sql_select(func.count()).select_from(model).where(*where)))

        finished = AuditEvent.action == "instance.finished"
        return {
            "timers": count(Timer),
            "timers_fired": count(Timer, Timer.status == "fired"),
            "instances": count(Instance, Instance.workflow_key == WORKFLOW),
            "instances_completed": count(
                Instance, Instance.workflow_key == WORKFLOW, Instance.status == "completed"
            ),
            "finished_events": count(AuditEvent, finished),
            "instances_finished": int(
                session.scalar(
                    sql_select(func.count(func.distinct(AuditEvent.instance_id))).where(finished)
                )
            ),
        }


def all_done(n: int) -> dict[str, int]:
    return {
        "timers": n,
        "timers_fired": n,
        "instances": n,
        "instances_completed": n,
        "finished_events": n,
        "instances_finished": n,
    }


# --- the tests --------------------------------------------------------------------------------


def test_two_processes_fire_a_thousand_due_timers_each_exactly_once(
    app: FastAPI, pg_database: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    start_instances(app, BURST, now=started)
    assert counts(app)["timers_fired"] == 0
    fire_at = started + timedelta(hours=1)

    workers = [spawn("drain", pg_database, fire_at.isoformat(), "60") for _ in range(2)]
    for worker in workers:
        assert read_line(worker) == "ready"
    for worker in workers:  # both are up and connected: let them race for the same rows
        go(worker)
    reports = [finish(worker) for worker in workers]

    fired = [r["fired"] for r in reports]
    assert sum(fired) == BURST, fired  # a timer fired twice would count twice
    assert all(n > 0 for n in fired), f"one process did all the work: {fired}"
    assert counts(app) == all_done(BURST)
    with app.state.sessionmaker() as session:
        assert set(session.scalars(sql_select(Timer.fired_at).distinct())) == {fire_at}
        actors = set(
            session.scalars(
                sql_select(AuditEvent.actor)
                .where(AuditEvent.action == "instance.finished")
                .distinct()
            )
        )
    assert actors == {"scheduler"}


def test_a_process_killed_mid_claim_loses_nothing(
    app: FastAPI, pg_database: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    count = 20
    started = datetime.now(UTC).replace(microsecond=0)
    start_instances(app, count, now=started)
    first, second = started + timedelta(hours=1), started + timedelta(hours=2)

    # one process claims the first due timer and fires it, but has not committed yet
    doomed = spawn("claim", pg_database, first.isoformat())
    claim = json.loads(read_line(doomed))
    assert claim["status"] == "completed"  # inside its uncommitted transaction

    # meanwhile the others are not held up: this process fires them and skips the claimed one
    assert fire_due_timers(app.state.worker, now=first) == count - 1
    with app.state.sessionmaker() as session:
        claimed = session.get(Timer, claim["timer"])
        instance = session.get(Instance, claim["instance"])
        assert claimed is not None
        assert instance is not None
        assert (claimed.status, instance.status) == ("pending", "running")
    assert counts(app)["timers_fired"] == count - 1

    doomed.kill()  # SIGKILL mid-claim: no commit, no rollback, no goodbye
    doomed.communicate(timeout=PROCESS_TIMEOUT_S)
    assert doomed.returncode == -signal.SIGKILL

    # another process finds the claim gone with the connection and fires the timer
    rescuer = spawn("drain", pg_database, second.isoformat(), "60")
    assert read_line(rescuer) == "ready"
    go(rescuer)
    assert finish(rescuer)["fired"] == 1

    assert counts(app) == all_done(count)
    with app.state.sessionmaker() as session:
        claimed = session.get(Timer, claim["timer"])
        assert claimed is not None
        assert (claimed.status, claimed.fired_at) == ("fired", second)
        others = session.scalars(sql_select(Timer.fired_at).where(Timer.id != claim["timer"]))
        assert set(others) == {first}
