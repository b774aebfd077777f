"""Signed webhooks accepted into started instances per second, and outbox deliveries per second.

Webhooks (``hooks.<setup>.started_per_s``): real ``stepwise serve`` processes (scheduler off)
on a fresh database per setup — ``sqlite`` (one process), ``postgres`` (one), ``postgres_2proc``
(two on one database). The admin makes a webhook secret for the shipped order-management
workflow (generic scheme: HMAC-SHA256 over timestamp and body). The load generator, in this
process, keeps ``CONCURRENCY`` keep-alive connections busy with shop orders, each signed, each
with its own ``Idempotency-Key``; an answer 202 means the instance was started (mapping, schema
check, the engine's first step to the payment call, all committed). After a warm-up, the figure
is accepted deliveries over the wall time of a fixed number of them, median of several rounds;
every delivery must be accepted.

Outbox (``outbox.<setup>.deliveries_per_s``): in this process, on a fresh SQLite file or
PostgreSQL database, an admin registers an event endpoint (a small HTTP server on 127.0.0.1
answering 204); instances of a one-step workflow are started, each queueing its
``instance.started``/``instance.completed`` events; then ``deliver_outbox`` — what the
scheduler's outbox job runs — sends them (Standard Webhooks signature, egress checks, the row
marked done). Figure: rows delivered / time, median of rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.api_bench import postgres_available, postgres_database, running_servers

CONCURRENCY = int(os.environ.get("STEPWISE_BENCH_HOOK_CONCURRENCY", "32"))
SETUPS = [("sqlite", "sqlite", 1), ("postgres", "postgres", 1), ("postgres_2proc", "postgres", 2)]


def shop_order(n: int) -> dict[str, Any]:
    """The ``n``-th order a shop sends (also the floor bench's request body)."""
    return {
        "order_id": f"W-{n:07d}",
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "items": [{"sku": "MUG-01", "quantity": 1, "price": 20}],
        "total": 20,
        "payment": {"method": "card", "reference": f"pi_{n}"},
    }


def _order(n: int) -> bytes:
    return json.dumps(shop_order(n)).encode()


def _secret(base_url: str, password: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        me = client.post("/api/auth/login", json={"username": "admin", "password": password})
        me.raise_for_status()
        made = client.post(
            "/api/admin/webhooks/order-management/secrets",
            headers={"X-CSRF-Token": me.json()["csrf_token"]},
        )
        made.raise_for_status()
        return str(made.json()["secret"])


class Sender:
    """One keep-alive connection sending signed webhook deliveries, one at a time."""

    def __init__(self, url: str, secret: str) -> None:
        parsed = httpx.URL(url)
        self.host, self.port, self.secret = parsed.host, parsed.port or 80, secret
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, n: int) -> int:
        from app.services.signatures import sign

        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = _order(n)
        headers = {
            "Host": f"{self.host}:{self.port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Idempotency-Key": f"bench-{n}",
            **sign("generic", self.secret, body, now=datetime.now(UTC)),
        }
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"POST /hooks/order-management HTTP/1.1\r\n{head}\r\n".encode() + body)
        answer = await self.reader.readuntil(b"\r\n\r\n")
        status = int(answer[9:12])
        length = 0
        for line in answer.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _burst(senders: list[Sender], first: int, count: int) -> float:
    """Send ``count`` deliveries over all senders; returns the wall time. All must be 202."""
    numbers = iter(range(first, first + count))
    failures: list[int] = []

    async def worker(sender: Sender) -> None:
        for n in numbers:
            status = await sender.send(n)
            if status != 202:
                failures.append(status)

    started = time.perf_counter()
    await asyncio.gather(*(worker(s) for s in senders))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} deliveries refused: {sorted(set(failures))}")
    return elapsed


def measure_hooks(
    backend: str, processes: int, *, warmup: int, per_round: int, rounds: int
) -> list[float]:
    password = secrets.token_urlsafe(16)
    with running_servers(backend, processes, password) as servers:
        secret = _secret(servers[0].url, password)

        async def go() -> list[float]:
            senders = [Sender(servers[i % len(servers)].url, secret) for i in range(CONCURRENCY)]
            try:
                await _burst(senders, 0, warmup)
                rates = []
                for r in range(rounds):
                    elapsed = await _burst(senders, warmup + r * per_round, per_round)
                    rates.append(per_round / elapsed)
                return rates
            finally:
                for s in senders:
                    await s.close()

        return asyncio.run(go())


@contextmanager
def _sink() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/events"
    finally:
        server.shutdown()
        server.server_close()


ONE_STEP = {
    "format": 1,
    "key": "bench-events",
    "name": "Bench events",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [{"id": "e1", "from": "start", "to": "end"}],
}


def measure_outbox(backend: str, *, instances: int, rounds: int) -> list[float]:
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from app.db.models import Outbox
    from app.main import create_app
    from app.services.outbox import deliver_outbox
    from app.settings import Settings

    rates: list[float] = []
    folder = Path(tempfile.mkdtemp(prefix="stepwise-bench-outbox-"))
    try:
        with _sink() as url, _database(backend, folder) as db_url:
            password = secrets.token_urlsafe(12)
            app = create_app(
                Settings(
                    database_url=db_url,
                    data_dir=folder / "data",
                    admin_password=password,
                    run_scheduler=False,
                    http_allow="127.0.0.1",
                )
            )
            with TestClient(app) as client:
                me = client.post(
                    "/api/auth/login", json={"username": "admin", "password": password}
                )
                client.headers["X-CSRF-Token"] = me.json()["csrf_token"]
                client.post("/api/workflows", json={"key": "bench-events", "draft": ONE_STEP})
                client.post("/api/workflows/bench-events/publish")
                made = client.post(
                    "/api/admin/event-endpoints",
                    json={"url": url, "event_types": ["instance.started", "instance.completed"]},
                )
                made.raise_for_status()
                worker = app.state.worker
                for _ in range(rounds):
                    for _ in range(instances):
                        client.post("/api/workflows/bench-events/instances", json={"data": {}})
                    with app.state.sessionmaker() as session:
                        due = session.scalar(
                            select(func.count())
                            .select_from(Outbox)
                            .where(Outbox.status == "pending")
                        )
                    started = time.perf_counter()
                    sent = 0
                    while handled := deliver_outbox(worker, now=datetime.now(UTC), limit=500):
                        sent += handled
                    elapsed = time.perf_counter() - started
                    if sent != due:
                        raise RuntimeError(f"{due} rows due but {sent} delivered")
                    rates.append(sent / elapsed)
            app.state.worker.client.close()
            app.state.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rates


@contextmanager
def _database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'stepwise.db'}"
    else:
        with postgres_database() as url:
            yield url


def run(*, quick: bool = False) -> dict[str, dict[str, Any]]:
    warmup, per_round, rounds = (50, 200, 2) if quick else (200, 1000, 3)
    machine = (
        f"{os.cpu_count()}-core machine, load generator on the same machine, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    figures: dict[str, dict[str, Any]] = {}
    for name, backend, processes in SETUPS:
        if backend == "postgres" and not postgres_available():
            print(f"  skipping hooks.{name}: no PostgreSQL")
            continue
        load = os.getloadavg()[0]
        print(
            f"  hooks.{name}: {processes} process(es), {backend}, load {load:.1f} ...", flush=True
        )
        rates = measure_hooks(backend, processes, warmup=warmup, per_round=per_round, rounds=rounds)
        print("    rounds: " + ", ".join(f"{r:.1f}/s" for r in rates), flush=True)
        figures[f"hooks.{name}.started_per_s"] = {
            "value": round(statistics.median(rates), 1),
            "unit": "instances/s",
            "setup": (
                f"{processes} uvicorn process(es) on {backend}, order-management webhook "
                f"(generic HMAC, idempotency key each), {CONCURRENCY} keep-alive connections, "
                f"warm-up {warmup}, median of {rounds} x {per_round}, {machine}, "
                f"1-min load {load:.1f} at start"
            ),
        }
    for backend in ("sqlite", "postgres"):
        if backend == "postgres" and not postgres_available():
            continue
        instances = 100 if quick else 500
        rates = measure_outbox(backend, instances=instances, rounds=2 if quick else 3)
        print(f"  outbox.{backend}: " + ", ".join(f"{r:.1f}/s" for r in rates), flush=True)
        figures[f"outbox.{backend}.deliveries_per_s"] = {
            "value": round(statistics.median(rates), 1),
            "unit": "deliveries/s",
            "setup": (
                f"deliver_outbox in one process on {backend}: event webhooks (2 per instance, "
                f"{instances} instances a round) to a local HTTP server answering 204, signed, "
                f"egress-checked, median of rounds, {machine}"
            ),
        }
    return figures


if __name__ == "__main__":
    for key, figure in run(quick=True).items():
        print(f"{key}: {figure['value']} {figure['unit']}")
