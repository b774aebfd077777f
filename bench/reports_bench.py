"""Report endpoints on 100,000 finished order instances, SQLite and PostgreSQL.

Per database: a fresh one, migrated and given the first start's seed by ``create_app``, then
``seeding.seed_history`` (the ``stepwise seed-history`` command's function) writes 100,000
finished order-management instances (about 3.1 tasks and 14 audit events each, states of
about 5 KB as the engine leaves them) spread over a year, and 2,000 running ones waiting at a
task, and runs ``ANALYZE`` (PostgreSQL: ``VACUUM ANALYZE``, as autovacuum would). Each report
is then asked for by the admin through the app in this process (``TestClient``: routing,
the database, JSON or CSV out; no network), filtered to the order workflow as the dashboard
does: once to warm up, then ``RUNS`` times; the figure is the median, in milliseconds.

A report over its 1 s target has its statements' plans printed (``EXPLAIN QUERY PLAN`` on
SQLite, ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL), recorded as it ran.

``STEPWISE_BENCH_REPORT_INSTANCES`` changes the 100,000; ``--quick`` uses 5,000.
"""

from __future__ import annotations

import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.timer_bench import PG_HOST, PG_PORT, fresh_database, postgres_available

TARGET_MS = 1000.0
RUNS = 5
RUNNING = 2000
ORDER = "order-management"
Q = {"workflow": ORDER}
REPORTS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    # (figure name, method, path with query, JSON body)
    ("throughput", "GET", "/api/reports/throughput?workflow=order-management", None),
    ("throughput_csv", "GET", "/api/reports/throughput?workflow=order-management&format=csv", None),
    ("cycle_time", "GET", "/api/reports/cycle-time?workflow=order-management", None),
    ("steps", "GET", "/api/reports/steps?workflow=order-management", None),
    ("sla_by_step", "GET", "/api/reports/sla?workflow=order-management", None),
    ("sla_by_person", "GET", "/api/reports/sla?workflow=order-management&by=person", None),
    ("open_work_by_person", "GET", "/api/reports/open-work?workflow=order-management", None),
    ("open_work_by_role", "GET", "/api/reports/open-work?workflow=order-management&by=role", None),
    ("funnel", "GET", "/api/reports/funnel?workflow=order-management", None),
    (
        "query_count_by_stage",
        "POST",
        "/api/reports/query",
        {**Q, "measure": "count", "group_by": "stage"},
    ),
    (
        "query_time_in_step_by_week",
        "POST",
        "/api/reports/query",
        {**Q, "measure": "time_in_step", "group_by": "week"},
    ),
    (
        "query_sla_by_assignee",
        "POST",
        "/api/reports/query",
        {**Q, "measure": "sla_breach_rate", "group_by": "assignee"},
    ),
    (
        "query_cycle_time_by_data_field",
        "POST",
        "/api/reports/query",
        {**Q, "measure": "cycle_time", "group_by": "data.warehouse"},
    ),
    (
        "query_time_in_step_by_data_field",
        "POST",
        "/api/reports/query",
        {**Q, "measure": "time_in_step", "group_by": "data.warehouse"},
    ),
]


@contextmanager
def seeded_app(url: str, tmp: Path, instances: int) -> Iterator[tuple[Any, Any, float]]:
    """The app on ``url`` with the history seeded; yields (app, admin client, seed seconds)."""
    import warnings

    with warnings.catch_warnings():  # Starlette's TestClient-on-httpx notice, not ours
        warnings.filterwarnings("ignore", message="Using .httpx. with .starlette.testclient.")
        from fastapi.testclient import TestClient

    from app.main import create_app
    from app.services.seeding import seed_history
    from app.settings import Settings

    password = secrets.token_urlsafe(16)
    app = create_app(
        Settings(
            database_url=url, data_dir=tmp / "data", admin_password=password, run_scheduler=False
        )
    )
    try:
        began = time.perf_counter()
        seed_history(app.state.engine, finished=instances, running=RUNNING, now=datetime.now(UTC))
        seeded = time.perf_counter() - began
        with TestClient(app) as client:
            login = client.post("/api/auth/login", json={"username": "admin", "password": password})
            if login.status_code != 200:
                raise RuntimeError(f"login: {login.status_code} {login.text}")
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            yield app, client, seeded
    finally:
        app.state.worker.client.close()
        app.state.engine.dispose()


def ask(client: Any, method: str, path: str, body: dict[str, Any] | None) -> float:
    began = time.perf_counter()
    response = client.request(method, path, json=body)
    took = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return took


@contextmanager
def recorded(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    """The statements ``engine`` runs meanwhile, with their parameters."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def explain(app: Any, client: Any, method: str, path: str, body: dict[str, Any] | None) -> None:
    """Print the plans of the statements a report runs (the reports' own, not the login's)."""
    engine = app.state.engine
    with recorded(engine) as seen:
        ask(client, method, path, body)
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        for statement, parameters in seen:
            tables = ("audit_events", "instances", "tasks")
            if not any(t in statement for t in tables) or statement.startswith("BEGIN"):
                continue
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            plan = conn.exec_driver_sql(prefix + statement, parameters).all()
            print("    " + " ".join(statement.split())[:400])
            for line in plan:
                print("      " + (line[0] if postgres else " ".join(str(x) for x in line[1:])))


def run_backend(backend: str, instances: int) -> tuple[dict[str, float], float]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stepwise-reports-")))
        url = stack.enter_context(fresh_database(backend, tmp))
        app, client, seeded = stack.enter_context(seeded_app(url, tmp, instances))
        print(f"    seeded {instances:,} + {RUNNING:,} running in {seeded:.1f} s", flush=True)
        figures: dict[str, float] = {}
        for name, method, path, body in REPORTS:
            ask(client, method, path, body)  # warm-up: caches, the database's pages
            runs = [ask(client, method, path, body) for _ in range(RUNS)]
            figures[name] = statistics.median(runs)
            mark = "" if figures[name] < TARGET_MS else "   over the 1 s target"
            print(f"    {name:<34} {figures[name]:9.1f} ms{mark}", flush=True)
            if figures[name] >= TARGET_MS:
                explain(app, client, method, path, body)
        return figures, seeded


def run(*, quick: bool = False) -> dict[str, dict[str, Any]]:
    instances = 5000 if quick else int(os.environ.get("STEPWISE_BENCH_REPORT_INSTANCES", "100000"))
    machine = (
        f"{os.cpu_count()}-core machine, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"
    )
    out: dict[str, dict[str, Any]] = {}
    for backend in ("sqlite", "postgres"):
        if backend == "postgres" and not postgres_available():
            print(f"  skipping reports.postgres: no PostgreSQL at {PG_HOST}:{PG_PORT}")
            continue
        print(f"  reports.{backend}: {instances:,} finished order instances ...", flush=True)
        figures, seeded = run_backend(backend, instances)
        setup = (
            f"fresh {backend} database, {instances:,} finished + {RUNNING:,} running order "
            f"instances from seed_history, filtered to the order workflow, admin through the "
            f"app in-process (TestClient), median of {RUNS} after a warm-up, {machine}"
        )
        for name, ms in figures.items():
            out[f"reports.{backend}.{name}_ms"] = {
                "value": round(ms, 1),
                "unit": "ms",
                "setup": setup,
            }
        out[f"reports.{backend}.seed_instances_per_s"] = {
            "value": round((instances + RUNNING) / seeded, 1),
            "unit": "instances/s",
            "setup": (
                f"seed_history into a fresh {backend} database: instances with their tasks and "
                f"audit events, Core executemany in chunks of 2,000 instances, then ANALYZE, {machine}"
            ),
        }
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
