"""The first page of a busy person's inbox: ``GET /api/inbox`` latency.

Setups ``sqlite`` and ``postgres``: a fresh, migrated and seeded database each, then written
straight to the tables (SQLAlchemy Core, in batches): the person ``benchy`` in the role
``bench_pool``, whose pool holds ``POOL`` (10,000) open tasks, one instance each, with due
times spread over overdue, at risk, fine and none; ``HELD`` more tasks held by benchy; and,
around them, ``OTHER`` open tasks (half in another role's pool, half in benchy's role but
taken by someone else) and ``DONE`` completed tasks of benchy's role (10 an instance), which
the inbox must pass over. Tasks carry the order template's forms and instructions. The app then runs as a real ``stepwise
serve`` process (uvicorn, one worker, scheduler off) and this process asks for the first page
(``limit=50``, default sort: overdue, then at risk, then priority and due time, with the total
count) with benchy's API token, one request at a time, ``WARMUP`` times unmeasured and then
``RUNS`` times; the figures are the client-side p50 and p95. The answer's ``total`` is checked
against ``POOL + HELD``.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert

from bench.api_bench import percentile, postgres_available, start_server
from bench.timer_bench import ROOT, fresh_database

POOL = 10_000
HELD = 200
OTHER = 10_000
DONE = 20_000
BATCH = 2_000
ROLE = "bench_pool"
USERNAME = "benchy"
WORKFLOW_KEY = "bench-inbox"


def populate(engine: Engine, *, pool: int, other: int, done: int) -> str:
    """Write the people, the workflow, the instances and the tasks; returns benchy's token."""
    from app.db.models import (
        ApiToken,
        Instance,
        Membership,
        Role,
        Task,
        TaskCandidate,
        User,
        Workflow,
        new_id,
    )
    from app.security import token_hash

    now = datetime.now(UTC)
    token = f"sw_{secrets.token_urlsafe(32)}"
    template = json.loads((ROOT / "templates" / "order-management.json").read_text())
    forms = {n["id"]: n.get("form") for n in template["nodes"] if n["type"] == "user_task"}
    with engine.begin() as conn:
        conn.execute(insert(Role), [{"name": ROLE}, {"name": "bench_other"}])
        user_id = new_id()
        conn.execute(insert(User), [{"id": user_id, "username": USERNAME, "display_name": "B"}])
        conn.execute(
            insert(Membership), [{"user_id": user_id, "role": r} for r in (ROLE, "employee")]
        )
        conn.execute(
            insert(ApiToken),
            [
                {
                    "name": "bench",
                    "token_hash": token_hash(token),
                    "prefix": token[:8],
                    "user_id": user_id,
                    "scopes": ["*"],
                }
            ],
        )
        conn.execute(
            insert(Workflow),
            [{"key": WORKFLOW_KEY, "name": "Bench inbox", "draft": {}, "published_version": 1}],
        )

    def instance(n: int) -> dict[str, Any]:
        return {
            "id": new_id(),
            "workflow_key": WORKFLOW_KEY,
            "workflow_version": 1,
            "status": "running",
            "stage": ("Received", "Being prepared", "Ready for shipment")[n % 3],
            "state": {"data": {"order_id": f"B-{n}"}},
            "business_key": f"B-{n}",
            "tracking_token": secrets.token_urlsafe(24),
            "started_by": "admin",
            "started_at": now - timedelta(minutes=n % 5000),
            "updated_at": now,
        }

    def task(instance_id: str, n: int, **values: Any) -> dict[str, Any]:
        created = now - timedelta(minutes=(n * 7) % 3000)
        kind = n % 10  # 1 in 10 overdue, 1 in 10 at risk, 2 in 10 without a due time
        due: datetime | None = created + timedelta(hours=8)
        if kind == 0:
            due = now - timedelta(minutes=n % 600 + 1)
        elif kind == 1:
            due = now + timedelta(minutes=n % 60 + 1)
        elif kind in (2, 3):
            due = None
        elif due is not None and due <= now + timedelta(hours=3):
            due = now + timedelta(hours=4, minutes=n % 600)
        return {
            "id": new_id(),
            "instance_id": instance_id,
            "engine_id": f"t{n}",
            "workflow_key": WORKFLOW_KEY,
            "node": ("pick", "pack", "label_manually")[n % 3],
            "name": ("Pick items", "Pack and verify", "Create label by hand")[n % 3],
            "form": forms[("pick", "pack", "label_manually")[n % 3]],
            "instructions": "Check every item against the order, pack it and weigh the parcel.",
            "status": "open",
            "candidate_roles": [ROLE],
            "role": ROLE,
            "created_at": created,
            "due_at": due,
            "priority": 1 if n % 97 == 0 else 0,
            "assignee": None,
            "claimed_at": None,
            "completed_by": None,
            "completed_at": None,
            **values,
        }

    def write(instances: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> None:
        with engine.begin() as conn:
            conn.execute(insert(Instance), instances)
            conn.execute(insert(Task), tasks)
            roles = [
                {"task_id": t["id"], "kind": "role", "name": t["candidate_roles"][0]}
                for t in tasks
                if t.get("assignee") != USERNAME
            ]
            if roles:
                conn.execute(insert(TaskCandidate), roles)

    n = 0
    for first in range(0, pool + HELD, BATCH):
        instances, tasks = [], []
        for _ in range(min(BATCH, pool + HELD - first)):
            row = instance(n)
            instances.append(row)
            held = n >= pool
            tasks.append(
                task(row["id"], n, assignee=USERNAME if held else None, claimed_at=now)
                if held
                else task(row["id"], n)
            )
            n += 1
        write(instances, tasks)
    for kind, count in (("other", other), ("done", done)):
        for first in range(0, count, BATCH * 10):
            instances, tasks = [], []
            for k in range(min(BATCH * 10, count - first)):
                if k % 10 == 0:
                    instances.append(instance(n))
                extra: dict[str, Any]
                if kind == "done":
                    extra = {
                        "status": "completed",
                        "assignee": "admin",
                        "completed_by": "admin",
                        "completed_at": now,
                    }
                elif k % 2:  # another role's pool
                    extra = {"candidate_roles": ["bench_other"], "role": "bench_other"}
                else:  # benchy's role, but someone else took it
                    extra = {"assignee": "admin", "claimed_at": now}
                tasks.append(task(instances[-1]["id"], n, **extra))
                n += 1
            write(instances, tasks)
    return token


@contextmanager
def prepared(backend: str, *, pool: int, other: int, done: int) -> Iterator[tuple[str, str]]:
    """A served database with the inbox written; yields (server URL, benchy's token)."""
    from app.db.engine import make_engine, make_sessionmaker
    from app.db.migrate import upgrade
    from app.seed import seed
    from app.settings import Settings

    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="stepwise-inbox-bench-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        url = stack.enter_context(fresh_database(backend, tmp))
        engine = make_engine(url)
        try:
            upgrade(engine)
            seed(make_sessionmaker(engine), Settings(database_url=url, admin_password="x" * 16))
            began = time.perf_counter()
            token = populate(engine, pool=pool, other=other, done=done)
            print(f"    written in {time.perf_counter() - began:.1f} s", flush=True)
        finally:
            engine.dispose()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "STEPWISE_DATA_DIR": str(tmp / "data"),
            "STEPWISE_SCHEDULER": "0",
            "PYTHONUNBUFFERED": "1",
        }
        server = start_server(env, tmp / "server.log")
        stack.callback(server.stop)
        server.wait_healthy()
        yield server.url, token


def measure(url: str, token: str, *, warmup: int, runs: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    timings: list[float] = []
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
        for n in range(warmup + runs):
            began = time.perf_counter()
            answer = client.get("/api/inbox", params={"limit": 50})
            elapsed = time.perf_counter() - began
            if answer.status_code != 200:
                raise RuntimeError(f"GET /api/inbox -> {answer.status_code}: {answer.text[:300]}")
            page = answer.json()
            if page["total"] != POOL + HELD or len(page["items"]) != 50:
                raise RuntimeError(f"expected {POOL + HELD} tasks, the inbox says {page['total']}")
            if n >= warmup:
                timings.append(elapsed * 1000)
    return timings


def run(*, quick: bool = False) -> dict[str, dict[str, Any]]:
    warmup, runs = (10, 50) if quick else (20, 300)
    other, done = (2_000, 4_000) if quick else (OTHER, DONE)
    machine = (
        f"{os.cpu_count()}-core machine, client on the same machine, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    figures: dict[str, dict[str, Any]] = {}
    for backend in ("sqlite", "postgres"):
        if backend == "postgres" and not postgres_available():
            print("  skipping inbox.postgres: no PostgreSQL at 127.0.0.1:5432")
            continue
        print(f"  inbox.{backend}: {POOL:,} pool tasks ...", flush=True)
        with prepared(backend, pool=POOL, other=other, done=done) as (url, token):
            load_before = os.getloadavg()[0]
            timings = measure(url, token, warmup=warmup, runs=runs)
        setup = (
            f"GET /api/inbox?limit=50 (first page, default SLA sort, with total) for a person "
            f"with {POOL:,} open tasks in their role's pool and {HELD} held, beside {other:,} "
            f"open tasks of others (half another role's pool, half taken) and {done:,} "
            f"completed ones; 1 `stepwise serve` "
            f"process on {backend}, API token, sequential requests, {warmup} warm-up + "
            f"{runs} measured, {machine}, 1-min load average {load_before:.1f} at start and "
            f"{os.getloadavg()[0]:.1f} at end"
        )
        p50, p95 = percentile(timings, 50), percentile(timings, 95)
        print(f"    p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)
        figures[f"inbox.{backend}.first_page_p50_ms"] = {
            "value": round(p50, 1),
            "unit": "ms",
            "setup": setup,
        }
        figures[f"inbox.{backend}.first_page_p95_ms"] = {
            "value": round(p95, 1),
            "unit": "ms",
            "setup": setup,
        }
    return figures


if __name__ == "__main__":
    for key, figure in run(quick=True).items():
        print(key, figure["value"], figure["unit"])
