"""What the mandated stack itself does on this machine: the floor under the API and webhook
targets.

The servers run ``bench.floor_app`` (FastAPI on uvicorn, one worker a process, log level
warning, as ``stepwise serve`` runs) with no Stepwise code in them; the load generator is the
API bench's (``RawConnection``: one keep-alive HTTP/1.1 connection per driver, 32 drivers in
one event loop of this process, spread over the servers). Figures, each the median of
several fixed-length windows after a warm-up:

- ``floor.hello.<n>proc.requests_per_s``: ``GET /hello``, no database.
- ``floor.insert.<backend>_<n>proc.requests_per_s``: one SQLAlchemy Core insert committed a
  request — the issue's "FastAPI with one SQLAlchemy Core insert per request".
- ``floor.hook.<backend>_<n>proc.requests_per_s``: an order webhook's statements in Core (4
  reads, 5 inserts, one transaction), without signature, mapping, schema or engine.
- ``floor.hook_min.<backend>_<n>proc.requests_per_s``: the fewest writes a started instance
  needs to be durable and answerable (instance, audit event, outbox row, delivery key: 4
  inserts, one transaction), nothing read.

The API target (250 instances/s, five requests an instance) needs 1,250 requests/s; the
webhook target, 500 requests/s on PostgreSQL. Each floor figure is an upper bound for the
real route of that shape: the real one does the same and more.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.api_bench import (
    ROOT,
    RawConnection,
    free_port,
    postgres_available,
    postgres_database,
)
from bench.hooks_bench import shop_order

CONCURRENCY = 32
ORDER = shop_order(1)
EXPECTED = {"insert": 201, "hook": 202, "hook_min": 202}
# (route, backend or None for no database, processes)
SETUPS: list[tuple[str, str | None, int]] = [
    ("hello", None, 1),
    ("hello", None, 2),
    ("insert", "sqlite", 1),
    ("insert", "sqlite", 2),
    ("insert", "postgres", 1),
    ("insert", "postgres", 2),
    ("hook", "sqlite", 1),
    ("hook", "postgres", 1),
    ("hook", "postgres", 2),
    ("hook_min", "sqlite", 1),
    ("hook_min", "postgres", 1),
    ("hook_min", "postgres", 2),
]


@contextmanager
def _servers(backend: str | None, processes: int) -> Iterator[list[str]]:
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="stepwise-floor-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("DATABASE_URL", None)
        if backend == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{tmp / 'floor.db'}"
        elif backend == "postgres":
            env["DATABASE_URL"] = stack.enter_context(postgres_database())
        if backend is not None:
            from bench.floor_app import prepare

            prepare(env["DATABASE_URL"])
        urls: list[str] = []
        for n in range(processes):
            port = free_port()
            log = (tmp / f"server-{n}.log").open("wb")
            stack.callback(log.close)
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    *("-m", "uvicorn", "bench.floor_app:app", "--host", "127.0.0.1"),
                    *("--port", str(port), "--log-level", "warning"),
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            stack.callback(_stop, process)
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            _wait_healthy(url, tmp)
        yield urls


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _wait_healthy(url: str, tmp: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/hello", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp.glob("server-*.log"))
    raise RuntimeError(f"floor server {url} not up after 60 s:\n{logs}")


async def _measure(
    urls: list[str], route: str, *, warmup_s: float, window_s: float, windows: int
) -> list[float]:
    method, expected = ("GET", 200) if route == "hello" else ("POST", EXPECTED[route])
    connections = [RawConnection(urls[i % len(urls)], {}) for i in range(CONCURRENCY)]
    done = 0
    failures: list[int] = []
    stop = False

    async def driver(conn: RawConnection) -> None:
        nonlocal done
        while not stop:
            status, _ = await conn.request(method, f"/{route}", None if route == "hello" else ORDER)
            if status != expected:
                failures.append(status)
            done += 1

    tasks = [asyncio.create_task(driver(c)) for c in connections]
    try:
        await asyncio.sleep(warmup_s)
        rates = []
        for _ in range(windows):
            before, began = done, time.perf_counter()
            await asyncio.sleep(window_s)
            rates.append((done - before) / (time.perf_counter() - began))
        if failures:
            raise RuntimeError(f"{len(failures)} requests answered {sorted(set(failures))}")
        return rates
    finally:
        stop = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in connections:
            await c.close()


def run(*, quick: bool = False) -> dict[str, dict[str, Any]]:
    warmup_s, window_s, windows = (1.0, 2.0, 2) if quick else (3.0, 5.0, 3)
    machine = (
        f"{os.cpu_count()}-core machine, load generator on the same machine, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    figures: dict[str, dict[str, Any]] = {}
    for route, backend, processes in SETUPS:
        if backend == "postgres" and not postgres_available():
            print(f"  skipping floor.{route} on postgres: no PostgreSQL")
            continue
        where = f"{backend}_{processes}proc" if backend else f"{processes}proc"
        name = f"floor.{route}.{where}.requests_per_s"
        load = os.getloadavg()[0]
        with _servers(backend, processes) as urls:
            rates = asyncio.run(
                _measure(urls, route, warmup_s=warmup_s, window_s=window_s, windows=windows)
            )
        print(f"  {name}: " + ", ".join(f"{r:.0f}/s" for r in rates), flush=True)
        figures[name] = {
            "value": round(statistics.median(rates), 1),
            "unit": "requests/s",
            "setup": (
                f"bench.floor_app (FastAPI, no Stepwise code) {route} route, {processes} uvicorn "
                f"process(es){' on ' + backend if backend else ''}, {CONCURRENCY} keep-alive "
                f"raw HTTP/1.1 connections, warm-up {warmup_s:g} s, median of {windows} x "
                f"{window_s:g} s windows, {machine}, 1-min load {load:.1f} at start"
            ),
        }
    return figures


if __name__ == "__main__":
    for key, figure in run(quick="--quick" in sys.argv).items():
        print(f"{key}: {figure['value']} {figure['unit']}")
