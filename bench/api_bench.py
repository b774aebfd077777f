"""Workflow instances driven to the end through the HTTP API, per second.

The app runs as real ``stepwise serve`` subprocesses (uvicorn, one worker each) on free
loopback ports, with the in-process scheduler off, each setup on a fresh database:

- ``sqlite``: one process on a new SQLite file (WAL);
- ``sqlite_2proc``: two processes sharing that file;
- ``postgres``: one process on a new PostgreSQL database;
- ``postgres_2proc``: two processes on the same PostgreSQL database.

Setup goes through the API as the admin: log in, make an API token, create and publish
``bench-four-tasks`` (start, four user tasks assigned to the admin, end). The load
generator runs in this process, in one event loop: ``concurrency`` drivers spread over the
servers, each on its own HTTP/1.1 keep-alive connection (a minimal client, see
``RawConnection``: httpx costs this 2-core machine 1.1-1.5 ms of CPU a request, which the
servers then lack; ``STEPWISE_BENCH_CLIENT=httpx`` uses an ``httpx.AsyncClient``). A driver
starts an instance (its answer lists the first open task), then completes the four tasks in
order: five requests an instance. A completion's answer does not name the next task, so one
shared inbox poller (``GET /api/tasks?scope=mine&status=open``) looks up the next task of
every driver waiting at that moment; its requests are counted, and the ``setup`` string gives
the requests per instance honestly (5 + the amortised polls).

After a warm-up, the drivers run on while the figures are taken over several consecutive
windows of fixed length (the median is reported): instances finished in a window, and the
p50/p99 of the task completions started in it (client-side, so the load generator's own
scheduling is included). At the end every started instance must show up as completed in
``GET /api/instances?status=completed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_KEY = "bench-four-tasks"
TASKS = 4
PG_HOST = "127.0.0.1"
PG_PORT = 5432
CONCURRENCY = int(os.environ.get("STEPWISE_BENCH_CONCURRENCY", "32"))
"""Concurrent instance drivers, spread over the servers (override for experiments)."""
CLIENT = os.environ.get("STEPWISE_BENCH_CLIENT", "raw")
"""The load generator's HTTP client: ``raw`` (RawConnection) or ``httpx``."""
HEALTH_TIMEOUT_S = 60.0
WARMUP_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 30.0


def bench_definition() -> dict[str, Any]:
    """start → four user tasks for the admin (no forms, so no claim and no data) → end."""
    ids = ["start", *(f"task_{n}" for n in range(1, TASKS + 1)), "end"]
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start", "name": "Start"}]
    nodes += [
        {
            "id": f"task_{n}",
            "type": "user_task",
            "name": f"Step {n}",
            "assignee": {"user": "admin"},
        }
        for n in range(1, TASKS + 1)
    ]
    nodes.append({"id": "end", "type": "end", "name": "Done"})
    edges = [
        {"id": f"e{n}", "from": a, "to": b} for n, (a, b) in enumerate(itertools.pairwise(ids), 1)
    ]
    layout = {node: {"x": 200 * n, "y": 0} for n, node in enumerate(ids)}
    return {
        "format": 1,
        "key": WORKFLOW_KEY,
        "name": "Bench: four tasks",
        "nodes": nodes,
        "edges": edges,
        "layout": layout,
    }


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server on :{self.port} exited ({self.process.returncode}):\n{self.tail()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server on :{self.port} not healthy after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(env: dict[str, str], log: Path) -> Server:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl+C reaches us; we stop the servers in `finally`
        )
    return Server(port, log, process)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database ``stepwise_bench_<random>``, dropped afterwards; yields its URL."""
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


def postgres_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1.0):
            return True
    except OSError:
        return False


@contextmanager
def running_servers(backend: str, processes: int, password: str) -> Iterator[list[Server]]:
    """``processes`` servers on one fresh database; always stopped (and the database
    dropped) on the way out, also on errors."""
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="stepwise-bench-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        env = {
            **os.environ,
            "STEPWISE_DATA_DIR": str(tmp / "data"),
            "STEPWISE_ADMIN_PASSWORD": password,
            "STEPWISE_SCHEDULER": "0",
            "STEPWISE_SEED_DEMO": "1",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DATABASE_URL", None)
        if backend == "postgres":
            env["DATABASE_URL"] = stack.enter_context(postgres_database())
        servers: list[Server] = []

        def stop_all() -> None:
            for server in reversed(servers):
                server.stop()

        stack.callback(stop_all)
        for n in range(processes):
            # one after the other: the first migrates and seeds, the others find it done
            server = start_server(env, tmp / f"server-{n}.log")
            servers.append(server)
            server.wait_healthy()
        yield servers


# --- setup through the API ------------------------------------------------------------------


def check(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in (expected or (200,)):
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else None


def prepare(base_url: str, password: str) -> dict[str, str]:
    """Log in as the admin, publish the bench workflow; returns the headers for the load
    (a Bearer token when the admin API has tokens, else the session cookie + CSRF)."""
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        me = check(client.post("/api/auth/login", json={"username": "admin", "password": password}))
        csrf = {"X-CSRF-Token": me["csrf_token"]}
        check(
            client.post(
                "/api/workflows",
                json={"key": WORKFLOW_KEY, "name": "Bench", "draft": bench_definition()},
                headers=csrf,
            ),
            201,
        )
        check(client.post(f"/api/workflows/{WORKFLOW_KEY}/publish", headers=csrf), 201)
        made = client.post(
            "/api/admin/tokens",
            json={"name": "bench", "user": "admin", "scopes": ["*"]},
            headers=csrf,
        )
        if made.status_code == 201:
            return {"Authorization": f"Bearer {made.json()['token']}"}
        cookie = client.cookies.get("stepwise_session")
        return {**csrf, "Cookie": f"stepwise_session={cookie}"}


def count_instances(base_url: str, headers: dict[str, str], status: str) -> int:
    params = {"workflow": WORKFLOW_KEY, "status": status, "limit": "1"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
        total: int = check(client.get("/api/instances", params=params))["total"]
        return total


# --- the load -------------------------------------------------------------------------------


class RawConnection:
    """One HTTP/1.1 keep-alive connection, requests one at a time: the load generator's client.

    A hand-rolled client because the load generator shares the machine's two cores with the
    servers: ``httpx.AsyncClient`` spends about 1.1-1.5 ms of CPU per request here, this
    about a tenth of that (``STEPWISE_BENCH_CLIENT=httpx`` measures with httpx instead).
    Enough HTTP for this app's JSON answers: a Content-Length or a chunked body.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port or 80
        lines = [f"Host: {self.host}:{self.port}", *(f"{k}: {v}" for k, v in headers.items())]
        self.head = "\r\n".join(lines)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = b"" if body is None else json.dumps(body).encode()
        extra = f"\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
        message = (
            f"{method} {path} HTTP/1.1\r\n{self.head}{extra if body is not None else ''}\r\n\r\n"
        )
        self.writer.write(message.encode() + payload)
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, chunked, close = None, False, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    close = b"close" in value.lower()
            if chunked:
                parts = []
                while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    parts.append((await self.reader.readexactly(size + 2))[:-2])
                await self.reader.readuntil(b"\r\n")
                data = b"".join(parts)
            else:
                data = await self.reader.readexactly(length or 0)
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class HttpxConnection:
    """The same interface over a shared ``httpx.AsyncClient`` (HTTP/1.1, keep-alive)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        response = await self.client.request(method, path, json=body)
        return response.status_code, response.content

    async def close(self) -> None:
        return None


Connection = RawConnection | HttpxConnection


async def call(
    connection: Connection, method: str, path: str, body: Any = None, expected: int = 200
) -> Any:
    status, data = await connection.request(method, path, body)
    if status != expected:
        raise RuntimeError(f"{method} {path} -> {status}: {data[:500].decode(errors='replace')}")
    return json.loads(data)


@dataclass
class Window:
    instances_per_s: float
    p50_ms: float
    p99_ms: float
    completions: int


@dataclass
class Load:
    """Drivers, the shared inbox poller, and what they observed."""

    connect: Callable[[int], Connection]
    """A connection to server ``n % servers`` (each driver and the poller own theirs)."""
    servers: int
    stop: bool = False
    started: int = 0
    finished_at: list[float] = field(default_factory=list)
    completions: list[tuple[float, float]] = field(default_factory=list)  # (began, seconds)
    requests: int = 0
    polls: int = 0
    waiting: dict[str, tuple[str, asyncio.Future[str]]] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    failed: BaseException | None = None

    async def next_task(self, instance_id: str, done_task: str) -> str:
        if self.failed is not None:
            raise RuntimeError("the inbox poller failed") from self.failed
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting[instance_id] = (done_task, future)
        self.wake.set()
        return await future

    async def poller(self) -> None:
        """Hand every waiting driver its instance's next open task, one inbox read for all."""
        connections = [self.connect(n) for n in range(self.servers)]
        try:
            await self._poll(connections)
        except Exception as exc:  # the waiting drivers fail with it rather than hang
            self.failed = exc
            for _, future in self.waiting.values():
                future.set_exception(RuntimeError(f"the inbox poller failed: {exc}"))
            raise
        finally:
            for connection in connections:
                await connection.close()

    async def _poll(self, connections: list[Connection]) -> None:
        path = f"/api/tasks?scope=mine&status=open&workflow={WORKFLOW_KEY}&limit=200"
        turn = 0
        while True:
            await self.wake.wait()
            self.wake.clear()
            if not self.waiting:
                continue
            connection = connections[turn % len(connections)]
            turn += 1
            self.polls += 1
            self.requests += 1
            page = await call(connection, "GET", path)
            for item in page["items"]:
                found = self.waiting.get(item["instance_id"])
                # a read begun before the completion committed still lists the done task
                if found is not None and item["id"] != found[0]:
                    del self.waiting[item["instance_id"]]
                    found[1].set_result(item["id"])
            if self.waiting:
                self.wake.set()

    async def driver(self, n: int) -> None:
        connection = self.connect(n)
        clock = time.perf_counter
        try:
            while not self.stop:
                self.started += 1
                self.requests += 1
                instance = await call(
                    connection,
                    "POST",
                    f"/api/workflows/{WORKFLOW_KEY}/instances",
                    {"data": {"driver": n, "n": self.started}},
                    expected=201,
                )
                task_id = instance["open_tasks"][0]["id"]
                for step in range(TASKS):
                    began = clock()
                    self.requests += 1
                    await call(connection, "POST", f"/api/tasks/{task_id}/complete", {"data": {}})
                    self.completions.append((began, clock() - began))
                    if step < TASKS - 1:
                        task_id = await self.next_task(instance["id"], task_id)
                self.finished_at.append(clock())
        finally:
            await connection.close()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of unsorted ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


async def drive(
    urls: list[str],
    headers: dict[str, str],
    *,
    warmup: int,
    windows: int,
    seconds: float,
    concurrency: int = CONCURRENCY,
    client: str = CLIENT,
) -> tuple[list[Window], Load]:
    """Run ``concurrency`` drivers over the servers at ``urls``: a warm-up of ``warmup``
    instances, then ``windows`` consecutive windows of ``seconds``; then every driver
    finishes the instance it is on."""
    limits = httpx.Limits(
        max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2
    )
    shared = [
        httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT_S)
        for url in (urls if client == "httpx" else [])
    ]

    def connect(n: int) -> Connection:
        if shared:
            return HttpxConnection(shared[n % len(shared)])
        return RawConnection(urls[n % len(urls)], headers)

    load = Load(connect, len(urls))
    poller = asyncio.create_task(load.poller())
    drivers = [asyncio.create_task(load.driver(n)) for n in range(concurrency)]
    try:
        deadline = time.perf_counter() + WARMUP_TIMEOUT_S
        while len(load.finished_at) < warmup:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"warm-up: {len(load.finished_at)}/{warmup} instances")
            if any(d.done() for d in drivers):
                break  # a driver failed: gather below raises its error
            await asyncio.sleep(0.01)
        edges = [time.perf_counter()]
        for _ in range(windows):
            await asyncio.sleep(seconds)
            if any(d.done() for d in drivers):
                break
            edges.append(time.perf_counter())
        load.stop = True
        await asyncio.gather(*drivers)  # each finishes the instance it is driving
    finally:
        load.stop = True
        poller.cancel()
        for task in drivers:
            task.cancel()
        await asyncio.gather(poller, *drivers, return_exceptions=True)
        for shared_client in shared:
            await shared_client.aclose()
    out = []
    for begin, end in itertools.pairwise(edges):
        done = sum(1 for t in load.finished_at if begin <= t < end)
        latencies = [s * 1000 for t, s in load.completions if begin <= t < end]
        out.append(
            Window(
                done / (end - begin),
                percentile(latencies, 50),
                percentile(latencies, 99),
                len(latencies),
            )
        )
    return out, load


# --- the suite ------------------------------------------------------------------------------

SETUPS = [  # figure prefix, backend, processes
    ("sqlite", "sqlite", 1),
    ("sqlite_2proc", "sqlite", 2),
    ("postgres", "postgres", 1),
    ("postgres_2proc", "postgres", 2),
]


def measure_setup(
    backend: str, processes: int, *, warmup: int, windows: int, seconds: float
) -> tuple[list[Window], Load, int]:
    password = secrets.token_urlsafe(16)
    with running_servers(backend, processes, password) as servers:
        headers = prepare(servers[0].url, password)
        urls = [s.url for s in servers]
        found, load = asyncio.run(
            drive(urls, headers, warmup=warmup, windows=windows, seconds=seconds)
        )
        completed = count_instances(servers[-1].url, headers, "completed")
        running = count_instances(servers[-1].url, headers, "running")
    print(
        f"  {backend} x{processes}: {load.started} instances started, {completed} completed, "
        f"{running} running (checked via GET /api/instances)",
        flush=True,
    )
    if completed != load.started or running:
        raise RuntimeError(
            f"{backend} x{processes}: {load.started} started but {completed} completed"
        )
    return found, load, completed


def run(*, quick: bool = False) -> dict[str, dict[str, Any]]:
    warmup = 20 if quick else 100
    windows, seconds = (2, 2.0) if quick else (3, 10.0)
    machine = (
        f"{os.cpu_count()}-core machine, load generator on the same machine, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    figures: dict[str, dict[str, Any]] = {}
    for name, backend, processes in SETUPS:
        if backend == "postgres" and not postgres_available():
            print(f"  skipping {name}: no PostgreSQL at {PG_HOST}:{PG_PORT}")
            continue
        load_before = os.getloadavg()[0]
        print(
            f"  api.{name}: {processes} process(es), {backend}, load {load_before:.1f} ...",
            flush=True,
        )
        found, load, _ = measure_setup(
            backend, processes, warmup=warmup, windows=windows, seconds=seconds
        )
        per_instance = load.requests / max(1, len(load.finished_at))
        setup = (
            f"{processes} uvicorn process(es) on {backend}, loopback, {CONCURRENCY} concurrent "
            f"drivers ({CLIENT} HTTP/1.1 keep-alive client), {per_instance:.2f} requests/instance "
            f"(5 + shared inbox polls), "
            f"warm-up {warmup}, median of {len(found)} x {seconds:g} s windows, {machine}, "
            f"1-min load average {load_before:.1f} at start"
        )
        for window in found:
            print(
                f"    window: {window.instances_per_s:7.1f} instances/s, p50 {window.p50_ms:5.1f} ms, "
                f"p99 {window.p99_ms:5.1f} ms ({window.completions} completions)",
                flush=True,
            )
        figures[f"api.{name}.instances_per_s"] = {
            "value": round(statistics.median(w.instances_per_s for w in found), 1),
            "unit": "instances/s",
            "setup": setup,
        }
        figures[f"api.{name}.complete_p50_ms"] = {
            "value": round(statistics.median(w.p50_ms for w in found), 1),
            "unit": "ms",
            "setup": setup,
        }
        figures[f"api.{name}.complete_p99_ms"] = {
            "value": round(statistics.median(w.p99_ms for w in found), 1),
            "unit": "ms",
            "setup": setup,
        }
    return figures
