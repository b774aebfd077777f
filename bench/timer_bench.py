"""Due timers fired per second from the database, and the lag between due time and firing.

The workflow ``bench-timer`` is start → timer (``PT1S``) → end: firing its timer is one
``FireTimer`` step that completes the instance (timer row, instance row, message waits and
an audit event, in one transaction). It is published through the API as the admin on a
fresh, migrated and seeded database per setup; its instances are started in this process
with ``app.services.runner.start_instance`` (500 a transaction). The workers are separate
OS processes (``python -m bench.timer_bench worker ...``, ``create_app`` with the scheduler
off) calling ``app.services.outbox.fire_due_timers`` — the function the scheduler's tick
calls — so several of them share the rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL.

Throughput (``timers.<setup>.fired_per_s``): ``burst`` timers, all due, fired by the
setup's worker processes at once with a fixed ``now`` an hour ahead; the figure is
timers / (last worker done - first worker started), from the workers' own clocks, median
over rounds (each round new instances in the same database). Setups: ``sqlite`` (1
process on a SQLite file, WAL), ``postgres`` (1 process), ``postgres_2proc`` (2 processes).

Lag (``timers.postgres_2proc.lag_p50_ms``/``lag_p99_ms``): timers whose due times are
spread evenly at 500 a second over a few seconds. They are created ahead, with due times
far in the future, then moved in one ``UPDATE`` so the first is due 1 s after both worker
processes are polling. Each worker loops ``fire_due_timers(now=<system clock>)`` and, when
nothing was due, sleeps ``POLL_S``. A timer's firing time is the moment its transaction
committed (a SQLAlchemy ``after_commit`` hook in the worker, wall clock): lag = commit time -
due time. The same is measured with the shipped in-process scheduler instead of the short
loop (``timers.postgres_2proc_scheduler.*``: the app's APScheduler timer job, every
``scheduler.TIMER_INTERVAL_S``, firing 100-timer batches for up to ``outbox.TICK_BUDGET_S``).

Everything on 127.0.0.1; PostgreSQL databases are dropped and worker processes killed on
the way out, also on errors.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_KEY = "bench-timer"
PG_HOST = "127.0.0.1"
PG_PORT = 5432
PACE_PER_S = int(os.environ.get("STEPWISE_BENCH_TIMER_PACE", "500"))
"""Timers due per second in the lag measurement (override for experiments)."""
POLL_S = 0.02
"""How long a short-loop worker sleeps when nothing was due."""
LEAD_S = 1.0
"""The first paced timer is due this long after the workers are polling."""
READY_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 180.0
"""The most a run may take to fire everything after the last timer came due."""
CREATE_BATCH = 500
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def bench_definition() -> dict[str, Any]:
    """start → wait a second → end."""
    return {
        "format": 1,
        "key": WORKFLOW_KEY,
        "name": "Bench: one timer",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "wait", "type": "timer", "name": "Wait a second", "duration": "PT1S"},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "wait"},
            {"id": "e2", "from": "wait", "to": "end"},
        ],
        "layout": {
            "start": {"x": 0, "y": 0},
            "wait": {"x": 200, "y": 0},
            "end": {"x": 400, "y": 0},
        },
    }


# --- databases and the app in this process ---------------------------------------------------


def postgres_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1.0):
            return True
    except OSError:
        return False


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """A new SQLite file or PostgreSQL database ``stepwise_bench_<random>`` (dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    import psycopg

    name = f"stepwise_bench_{secrets.token_hex(6)}"
    conninfo = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_app(url: str, tmp: Path) -> Iterator[Any]:
    """The app on ``url`` (migrated, seeded) with ``bench-timer`` published by the admin."""
    import warnings

    with warnings.catch_warnings():  # Starlette's TestClient-on-httpx notice, not ours
        warnings.filterwarnings("ignore", message="Using .httpx. with .starlette.testclient.")
        from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    password = secrets.token_urlsafe(16)
    app = create_app(
        Settings(
            database_url=url,
            data_dir=tmp / "data",
            admin_password=password,
            run_scheduler=False,
        )
    )
    try:
        with TestClient(app) as client:
            login = client.post("/api/auth/login", json={"username": "admin", "password": password})
            if login.status_code != 200:
                raise RuntimeError(f"login: {login.status_code} {login.text}")
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            for path, body in (
                ("/api/workflows", {"key": WORKFLOW_KEY, "draft": bench_definition()}),
                (f"/api/workflows/{WORKFLOW_KEY}/publish", None),
            ):
                response = client.post(path, json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text}")
        yield app
    finally:
        app.state.worker.client.close()
        app.state.engine.dispose()


def start_instances(app: Any, dues: list[datetime]) -> None:
    """One instance per due time, each waiting on a timer due then (started a second before)."""
    from app.services import runner

    for first in range(0, len(dues), CREATE_BATCH):
        with app.state.sessionmaker() as session:
            for due in dues[first : first + CREATE_BATCH]:
                runner.start_instance(
                    session,
                    cache=app.state.definitions,
                    workflow_key=WORKFLOW_KEY,
                    data={},
                    actor="bench",
                    now=due - timedelta(seconds=1),
                )
            session.commit()


def timer_counts(app: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from app.db.models import AuditEvent, Instance, Timer

    with app.state.sessionmaker() as session:
        rows = session.execute(select(Timer.status, func.count()).group_by(Timer.status))
        found = {f"timers_{status}": int(n) for status, n in rows}
        found["completed"] = int(
            session.scalar(
                select(func.count()).select_from(Instance).where(Instance.status == "completed")
            )
            or 0
        )
        found["finished_events"] = int(
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "instance.finished")
            )
            or 0
        )
        return found


def check_all_fired(app: Any, total: int, what: str) -> None:
    found = timer_counts(app)
    expected = {
        "timers_fired": total,
        "completed": total,
        "finished_events": total,
    }
    if found != expected:
        raise RuntimeError(f"{what}: expected {expected}, the database says {found}")


# --- worker processes ------------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen[str]
    log: Path

    def read_line(self, timeout: float) -> str:
        if self.process.stdout is None:
            raise RuntimeError("no pipe to read from")
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"worker {self.process.pid} said nothing:\n{self.tail()}")
        return line.strip()

    def go(self, command: str) -> None:
        if self.process.stdin is None:
            raise RuntimeError("no pipe to write to")
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def report(self, timeout: float) -> dict[str, Any]:
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"worker {self.process.pid} did not finish:\n{self.tail()}"
            ) from None
        if self.process.returncode != 0:
            raise RuntimeError(
                f"worker {self.process.pid} exited {self.process.returncode}:\n{self.tail()}"
            )
        found: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return found

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with suppress(subprocess.TimeoutExpired, ValueError):
            self.process.communicate(timeout=10)


@contextmanager
def workers(count: int, tmp: Path, mode: str, url: str) -> Iterator[list[Worker]]:
    """``count`` worker processes, each up and connected; always killed on the way out."""
    with ExitStack() as stack:
        found: list[Worker] = []
        for n in range(count):
            log = tmp / f"worker-{n}-{secrets.token_hex(3)}.log"
            err = stack.enter_context(log.open("w"))
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bench.timer_bench", "worker", mode, url],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,  # a Ctrl+C reaches us; we kill the workers ourselves
            )
            worker = Worker(process, log)
            stack.callback(worker.stop)
            found.append(worker)
        for worker in found:
            if worker.read_line(READY_TIMEOUT_S) != "ready":
                raise RuntimeError(f"worker {worker.process.pid}: unexpected output")
        yield found


def worker_main(argv: list[str]) -> None:
    """A worker process (``MODE URL``): says "ready" once connected, then waits for a line
    "go ARG". ``burst`` fires every timer due at ARG (a time) until none is left; ``loop``
    and ``scheduler`` fire on the system clock (a short loop, or the app's APScheduler job)
    until ARG (epoch seconds) has passed and no timer is pending. Prints a JSON report."""
    import logging

    from sqlalchemy import event, func, select
    from sqlalchemy.orm import Session

    from app.db.models import Timer
    from app.main import create_app
    from app.scheduler import start as start_scheduler
    from app.services.outbox import fire_due_timers
    from app.settings import Settings

    logging.basicConfig(level=logging.WARNING)
    mode, url = argv
    tmp = Path(tempfile.mkdtemp(prefix="stepwise-timer-worker-"))
    app = create_app(Settings(database_url=url, data_dir=tmp, run_scheduler=False, seed_demo=False))
    worker = app.state.worker
    commits: list[tuple[str, float]] = []

    @event.listens_for(worker.sessionmaker, "after_commit")
    def fired_now(session: Session) -> None:
        stamp = time.time()
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Timer) and obj.status == "fired":
                commits.append((obj.id, stamp))

    def pending(*where: Any) -> int:
        with worker.sessionmaker() as session:
            query = select(func.count()).select_from(Timer).where(Timer.status == "pending", *where)
            return int(session.scalar(query) or 0)

    print("ready", flush=True)
    go = sys.stdin.readline().split()
    began = time.time()
    fired = 0
    if mode == "burst":
        now = datetime.fromisoformat(go[1])
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            n = fire_due_timers(worker, now=now)
            fired += n
            if n:
                continue
            if not pending(Timer.due_at <= now):
                break
            if time.monotonic() > deadline:
                sys.exit(3)
            time.sleep(0.002)  # the other process holds the last rows; it commits shortly
    else:
        until = float(go[1])
        deadline = until + DRAIN_TIMEOUT_S
        scheduler = start_scheduler(app) if mode == "scheduler" else None
        while True:
            n = 0 if scheduler else fire_due_timers(worker, now=datetime.now(UTC))
            fired += n
            if n:
                continue
            if time.time() > until and not pending():
                break
            if time.time() > deadline:
                sys.exit(3)
            time.sleep(POLL_S if scheduler is None else 0.2)
        if scheduler is not None:
            scheduler.shutdown(wait=True)
            fired = len(commits)
    ended = time.time()
    print(json.dumps({"fired": fired, "began": began, "ended": ended, "commits": commits}))
    worker.client.close()
    app.state.engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


# --- measurements ----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def burst_round(app: Any, url: str, tmp: Path, processes: int, burst: int, total: int) -> float:
    """Fire ``burst`` new due timers with ``processes`` workers; returns timers per second."""
    now = datetime.now(UTC)
    start_instances(app, [now] * burst)
    fire_at = now + timedelta(hours=1)
    with workers(processes, tmp, "burst", url) as found:
        for worker in found:
            worker.go(f"go {fire_at.isoformat()}")
        reports = [w.report(DRAIN_TIMEOUT_S + 60) for w in found]
    fired = sum(r["fired"] for r in reports)
    if fired != burst:
        raise RuntimeError(f"{processes} worker(s) fired {fired} timers, not {burst}")
    check_all_fired(app, total, f"burst of {burst}")
    elapsed = float(max(r["ended"] for r in reports) - min(r["began"] for r in reports))
    split = "/".join(str(r["fired"]) for r in reports)
    rate = burst / elapsed
    print(f"    {burst} timers in {elapsed:.2f} s: {rate:7.1f}/s (split {split})", flush=True)
    return rate


def throughput(backend: str, processes: int, *, burst: int, rounds: int) -> list[float]:
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="stepwise-timer-bench-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        url = stack.enter_context(fresh_database(backend, tmp))
        app = stack.enter_context(bench_app(url, tmp))
        return [
            burst_round(app, url, tmp, processes, burst, burst * (n + 1)) for n in range(rounds)
        ]


def paced(mode: str, processes: int, *, seconds: float) -> tuple[list[float], float]:
    """Lags (ms) of timers due at ``PACE_PER_S`` for ``seconds``, fired by live workers;
    and the rate at which they were fired (first due → last fired)."""
    from sqlalchemy import select, text

    from app.db.models import Timer

    count = int(PACE_PER_S * seconds)
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="stepwise-timer-bench-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        url = stack.enter_context(fresh_database("postgres", tmp))
        app = stack.enter_context(bench_app(url, tmp))
        start_instances(app, [FAR_FUTURE + timedelta(seconds=n / PACE_PER_S) for n in range(count)])
        with workers(processes, tmp, mode, url) as found:
            # move the timers so that the first is due LEAD_S from now, then let the workers go
            first_due = datetime.now(UTC) + timedelta(seconds=LEAD_S)
            with app.state.sessionmaker() as session:
                session.execute(
                    text(
                        "UPDATE timers SET due_at = due_at - make_interval(secs => :s) "
                        "WHERE status = 'pending'"
                    ),
                    {"s": (FAR_FUTURE - first_due).total_seconds()},
                )
                session.commit()
            until = first_due.timestamp() + seconds
            for worker in found:
                worker.go(f"go {until!r}")
            reports = [w.report(until - time.time() + DRAIN_TIMEOUT_S + 60) for w in found]
        check_all_fired(app, count, f"{mode}: {count} paced timers")
        with app.state.sessionmaker() as session:
            due = {i: d.timestamp() for i, d in session.execute(select(Timer.id, Timer.due_at))}
    fired: dict[str, float] = {}
    for report in reports:
        for timer_id, stamp in report["commits"]:
            if timer_id in fired:
                raise RuntimeError(f"timer {timer_id} committed as fired twice")
            fired[timer_id] = stamp
    if set(fired) != set(due):
        raise RuntimeError(f"{len(fired)} firings seen for {len(due)} timers")
    lags = [(fired[i] - due[i]) * 1000 for i in due]
    rate = count / (max(fired.values()) - min(due.values()))
    split = "/".join(str(r["fired"]) for r in reports)
    print(
        f"    {count} timers due at {PACE_PER_S}/s: fired at {rate:.1f}/s (split {split}), "
        f"lag p50 {percentile(lags, 50):.1f} ms, p99 {percentile(lags, 99):.1f} ms, "
        f"max {max(lags):.1f} ms",
        flush=True,
    )
    return lags, rate


THROUGHPUT = [
    ("sqlite", "sqlite", 1),
    ("postgres", "postgres", 1),
    ("postgres_2proc", "postgres", 2),
]
LAG = [
    (
        "postgres_2proc",
        "loop",
        2,
        f"a short loop on the system clock, {POLL_S * 1000:g} ms sleep when idle",
    ),
    (
        "postgres_2proc_scheduler",
        "scheduler",
        2,
        "the app's APScheduler timer job, every 0.2 s, 100-timer batches for up to 2 s a tick",
    ),
]


def run(*, quick: bool = False) -> dict[str, dict[str, Any]]:
    burst, rounds = (300, 1) if quick else (2000, 3)
    seconds = 2.0 if quick else 10.0
    machine = (
        f"{os.cpu_count()}-core machine, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"
    )
    figures: dict[str, dict[str, Any]] = {}
    have_pg = postgres_available()
    for name, backend, processes in THROUGHPUT:
        if backend == "postgres" and not have_pg:
            print(f"  skipping timers.{name}: no PostgreSQL at {PG_HOST}:{PG_PORT}")
            continue
        print(f"  timers.{name}: {processes} worker process(es) on {backend} ...", flush=True)
        rates = throughput(backend, processes, burst=burst, rounds=rounds)
        figures[f"timers.{name}.fired_per_s"] = {
            "value": round(statistics.median(rates), 1),
            "unit": "timers/s",
            "setup": (
                f"{processes} worker process(es) calling fire_due_timers on a fresh {backend} "
                f"database, {burst} due timers at once (start → timer → end: each firing "
                f"completes its instance), median of {rounds} round(s), {machine}"
            ),
        }
    for name, mode, processes, how in LAG:
        if not have_pg:
            print(f"  skipping timers.{name} lag: no PostgreSQL at {PG_HOST}:{PG_PORT}")
            continue
        print(f"  timers.{name}: lag at {PACE_PER_S}/s, {how} ...", flush=True)
        lags, rate = paced(mode, processes, seconds=seconds)
        setup = (
            f"{processes} worker processes on a fresh PostgreSQL database, {how}; "
            f"{int(PACE_PER_S * seconds)} timers due evenly at {PACE_PER_S}/s over "
            f"{seconds:g} s (fired at {rate:.0f}/s); lag = commit time of the firing - due "
            f"time, {machine}"
        )
        for q in (50, 99):
            figures[f"timers.{name}.lag_p{q}_ms"] = {
                "value": round(percentile(lags, q), 1),
                "unit": "ms",
                "setup": setup,
            }
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker_main(sys.argv[2:])
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
