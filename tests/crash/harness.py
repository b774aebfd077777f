"""The crash test: real app processes on SQLite or PostgreSQL, orders driven through signed
webhooks, task completions and carrier messages, local fake payment / carrier / SMTP / SMS
servers, and ``kill -9`` of an app process at random moments, each time restarted.

At the end it checks, and prints: every order finished ("Delivered"); no task completed twice;
each idempotency key's effect seen once by the payment gateway and the carrier (repeats of a
key are deduplicated by the receiver, as real providers do, and counted); each customer email
and SMS delivered (repeats carry the same Message-ID / key); no timer left due and unfired; the
audit log agrees with the state (one start and one finish per order).

    python -m tests.crash.harness --db sqlite --orders 40 --kills 6
    python -m tests.crash.harness --db postgresql --orders 40 --kills 6 --nodes 2

The drivers poll the service the way another system would (there is no clock to drive in a
separate process); every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from sqlalchemy import create_engine, text

from app.services.outbox import LEASE
from app.services.signatures import sign
from tests.app.fakes import FakeEdge, fake_edge

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "crash-admin-password"
PG_ADMIN_URL = os.environ.get(
    "STEPWISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
STAGES = ["Received", "Paid", "Being prepared", "Ready for shipment", "Shipped", "Delivered"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pause(seconds: float) -> None:
    """Polling another process, which has no clock we could move: the one kind of wait here."""
    time.sleep(seconds)


# --- the world's edge -----------------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            parsed = message_from_bytes(envelope.content)
            box.messages.append(
                {
                    "to": ",".join(envelope.rcpt_tos),
                    "subject": str(parsed.get("Subject", "")),
                    "id": str(parsed.get("Message-ID", "")),
                }
            )
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


@dataclass
class SmsProvider:
    url: str = ""
    sent: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def sms_provider() -> Iterator[SmsProvider]:
    provider = SmsProvider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            provider.sent.append({**form, "key": self.headers.get("idempotency-key", "")})
            payload = b'{"sid": "SM1", "status": "queued"}'
            self.send_response(201)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/messages"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


# --- the app processes ----------------------------------------------------------------------


@dataclass
class Node:
    """One app process, restarted on the same port and database after each kill."""

    name: str
    env: dict[str, str]
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[str] | None = None
    first_start: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", "app.cli", "run", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            if found := re.match(r"^  (\w+)\s+(\S+)$", line):
                self.first_start[found[1]] = found[2]
            if line.startswith("Stepwise on http"):
                break
        else:
            raise RuntimeError(f"{self.name} did not start: {self.process.wait()}")
        threading.Thread(target=self._drain, args=(stdout,), daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                _pause(0.05)
        raise RuntimeError(f"{self.name} is not answering")

    def _drain(self, stdout: Any) -> None:
        for line in stdout:
            self.log.append(line)
            del self.log[:-200]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


# --- a person or a system talking to the service, through crashes ---------------------------


class Caller:
    """A logged-in client that goes to any live node and tries again when one dies."""

    def __init__(self, nodes: list[Node], username: str, password: str) -> None:
        self.nodes, self.username, self.password = nodes, username, password
        self.client = httpx.Client(timeout=15)
        self.csrf = ""
        self._login()

    def _base(self) -> str:
        return random.choice(self.nodes).url

    def _login(self) -> None:
        response = self.call(
            "POST",
            "/api/auth/login",
            json={"username": self.username, "password": self.password},
            login=False,
        )
        self.csrf = response.json()["csrf_token"]

    def call(self, method: str, path: str, *, login: bool = True, **kwargs: Any) -> httpx.Response:
        deadline = time.monotonic() + 120
        extra = kwargs.pop("headers", {})
        while True:
            try:
                headers = {"X-CSRF-Token": self.csrf, **extra}
                response = self.client.request(
                    method, self._base() + path, headers=headers, **kwargs
                )
                if response.status_code == 401 and login:
                    self._login()
                    continue
                if response.status_code < 500:
                    return response
            except httpx.TransportError:
                pass  # the node is down or restarting
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path} kept failing")
            _pause(0.2)


@dataclass
class Tally:
    completed_retries: int = 0
    webhook_retries: int = 0
    errors: list[str] = field(default_factory=list)


def _order(n: int) -> dict[str, Any]:
    return {
        "order_id": f"C-{n:05d}-{uuid.uuid4().hex[:6]}",
        "customer": {"name": f"Customer {n}", "email": f"c{n}@example.com", "phone": "+4915100000"},
        "items": [{"sku": "MUG-01", "quantity": 1, "price": 20}],
        "total": 20,
        "payment": {"method": "card", "reference": f"pi_{n}"},
    }


def drive_order(n: int, callers: dict[str, Caller], secret: str, tally: Tally) -> str:
    """One order from the shop's webhook to "Delivered"; returns its instance id."""
    admin = callers["admin"]
    order = _order(n)
    body = json.dumps(order).encode()
    instance_id = ""
    for attempt in range(50):  # the shop retries its webhook until it is accepted
        headers = {
            "content-type": "application/json",
            "Idempotency-Key": order["order_id"],
            **sign("generic", secret, body, now=datetime.now(UTC)),
        }
        response = admin.call("POST", "/hooks/order-management", content=body, headers=headers)
        if response.status_code in (200, 201, 202):
            instance_id = response.json()["instance_id"]
            tally.webhook_retries += attempt
            break
    else:
        raise RuntimeError(f"order {n}: the webhook was never accepted")
    picked_by = ""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        instance = admin.call("GET", f"/api/instances/{instance_id}").json()
        if instance["status"] != "running":
            return instance_id
        tasks = admin.call(
            "GET", "/api/tasks", params={"scope": "all", "instance": instance_id, "status": "open"}
        ).json()["items"]
        for task in tasks:
            picked_by = _work(task, callers, picked_by, tally)
        if not tasks and instance["stage"] == "Shipped":
            tracking = (instance["data"].get("shipment") or {}).get("tracking_number")
            if tracking:
                admin.call(
                    "POST",
                    "/api/messages",
                    json={"message": "delivered", "correlation": tracking, "data": {}},
                )
        _pause(0.1)
    raise RuntimeError(f"order {n} ({instance_id}) did not finish")


FORMS = {
    "pick": {"picked": True},
    "pack": {"items_checked": True, "weight_kg": 1.2},
    "hand_over": {"handed_over": True},
}


def _work(task: dict[str, Any], callers: dict[str, Caller], picked_by: str, tally: Tally) -> str:
    """Complete one open task as a person it is offered to; returns who picked."""
    node = task["node"]
    if node not in FORMS:
        tally.errors.append(f"unexpected task {node}")
        return picked_by
    people = [task["assignee"]] if task["assignee"] else task["candidate_users"]
    if not people:
        role = task["candidate_roles"][0] if task["candidate_roles"] else ""
        people = {"warehouse": ["mia", "walt", "wendy"], "shipping": ["shay"]}.get(role, [])
    people = [p for p in people if p in callers and p != (picked_by if node == "pack" else "")]
    if not people:
        tally.errors.append(f"nobody to do {node}: {task}")
        return picked_by
    who = callers[people[0]]
    if not task["assignee"]:
        who.call("POST", f"/api/tasks/{task['id']}/claim")
    answer = who.call("POST", f"/api/tasks/{task['id']}/complete", json={"data": FORMS[node]})
    if answer.status_code == 409:  # completed before a crash ate our answer
        tally.completed_retries += 1
    elif answer.status_code != 200:
        tally.errors.append(f"{node}: {answer.status_code} {answer.text[:200]}")
    return who.username if node == "pick" else picked_by


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Report:
    database: str
    nodes: int
    orders: int
    kills: int
    finished: int
    delivered: int
    duplicate_completions: int
    captures: int
    capture_repeats: int
    labels: int
    label_repeats: int
    emails: int
    email_repeats: int
    sms: int
    sms_repeats: int
    timers_lost: int
    audit_mismatches: int
    completion_retries: int
    errors: list[str]
    seconds: float
    outbox_left: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"crash test on {self.database}, {self.nodes} node(s), {self.seconds:.0f} s",
            f"  orders driven            {self.orders}",
            f"  kill -9                  {self.kills}",
            f"  finished / delivered     {self.finished} / {self.delivered}",
            f"  lost                     {self.orders - self.finished}",
            f"  duplicate completions    {self.duplicate_completions}",
            f"  payment captures         {self.captures} keys ({self.capture_repeats} repeats deduplicated)",
            f"  shipping labels          {self.labels} keys ({self.label_repeats} repeats deduplicated)",
            f"  customer emails          {self.emails} ({self.email_repeats} repeats, same Message-ID)",
            f"  SMS                      {self.sms} ({self.sms_repeats} repeats, same key)",
            f"  timers lost              {self.timers_lost}",
            f"  audit mismatches         {self.audit_mismatches}",
            f"  completions retried after a crash: {self.completion_retries}",
            f"  errors                   {len(self.errors)}",
            *(f"  outbox row not done: {row}" for row in self.outbox_left),
        ]

    @property
    def ok(self) -> bool:
        return (
            self.finished == self.orders
            and self.delivered == self.orders
            and self.duplicate_completions == 0
            and self.captures == self.orders
            and self.labels == self.orders
            and self.emails == 3 * self.orders
            and self.sms == self.orders
            and self.timers_lost == 0
            and self.audit_mismatches == 0
            and not self.errors
        )


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'stepwise.db'}"
        return
    name = f"stepwise_crash_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(
    kind: str, orders: int, kills: int, nodes: int, folder: Path, *, workers: int = 6
) -> Report:
    started = time.monotonic()
    with ExitStack() as stack:
        url = stack.enter_context(database(kind, folder))
        edge: FakeEdge = stack.enter_context(fake_edge())
        smtp_port, mailbox = stack.enter_context(smtp_server())
        sms = stack.enter_context(sms_provider())
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "STEPWISE_DATA_DIR": str(folder / "data"),
            "STEPWISE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "STEPWISE_HTTP_ALLOW": "127.0.0.1",
            "STEPWISE_SETTING_PAYMENT_URL": edge.url,
            "STEPWISE_SETTING_CARRIER_URL": edge.url,
            "STEPWISE_SETTING_SMTP_HOST": "127.0.0.1",
            "STEPWISE_SETTING_SMTP_PORT": str(smtp_port),
            "STEPWISE_SETTING_SMS_URL": sms.url,
            "STEPWISE_SETTING_SMS_FROM": "+15550000",
            "PYTHONUNBUFFERED": "1",
        }
        cluster = [Node(f"node{i + 1}", env) for i in range(nodes)]
        cluster[0].start()  # the first start migrates and seeds, alone
        for node in cluster[1:]:
            node.start()
        stack.callback(lambda: [n.stop() for n in cluster])
        passwords = {**cluster[0].first_start, "admin": ADMIN_PASSWORD}
        callers = {
            name: Caller(cluster, name, passwords[name])
            for name in ("admin", "mia", "walt", "wendy", "shay")
        }
        for caller in callers.values():
            stack.callback(caller.client.close)
        secret = (
            callers["admin"]
            .call("POST", "/api/admin/webhooks/order-management/secrets")
            .json()["secret"]
        )
        tally = Tally()
        todo: queue.Queue[int] = queue.Queue()
        for n in range(orders):
            todo.put(n)
        ids: list[str] = []
        done = threading.Event()

        def worker() -> None:
            while True:
                try:
                    n = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    ids.append(drive_order(n, callers, secret, tally))
                except Exception as exc:
                    tally.errors.append(f"order {n}: {exc}")

        killed = 0

        def killer() -> None:
            nonlocal killed
            rng = random.Random()
            while killed < kills:  # every kill happens; most while orders are in flight
                done.wait(rng.uniform(0.3, 1.5))
                victim = rng.choice(cluster)
                victim.kill()
                killed += 1
                if nodes == 1 or killed < kills:
                    victim.start()  # with two nodes the last one killed stays dead

        threads = [threading.Thread(target=worker) for _ in range(workers)]
        chaos = threading.Thread(target=killer)
        for t in (*threads, chaos):
            t.start()
        for t in threads:
            t.join()
        done.set()
        chaos.join()
        _settle(mailbox, sms, orders)
        report = _check(kind, nodes, orders, killed, url, ids, edge, mailbox, sms, tally, started)
    return report


def _settle(mailbox: Mailbox, sms: SmsProvider, orders: int) -> None:
    """Wait for the last messages. A message claimed by a node that was killed goes out when its
    claim's lease runs out and a live node takes it again, so the wait outlasts a lease."""
    deadline = time.monotonic() + LEASE.total_seconds() + 30
    while time.monotonic() < deadline:
        if (
            len({m["id"] for m in mailbox.messages}) >= 3 * orders
            and len({s["key"] for s in sms.sent}) >= orders
        ):
            return
        _pause(0.25)


def _check(
    kind: str,
    nodes: int,
    orders: int,
    killed: int,
    url: str,
    ids: list[str],
    edge: FakeEdge,
    mailbox: Mailbox,
    sms: SmsProvider,
    tally: Tally,
    started: float,
) -> Report:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, stage FROM instances")).all()
        finished = sum(1 for r in rows if r.id in ids and r.status == "completed")
        delivered = sum(1 for r in rows if r.id in ids and r.stage == "Delivered")
        duplicate = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT task_id FROM audit_events "
                "WHERE action = 'task.completed' GROUP BY task_id HAVING count(*) > 1) d"
            )
        ).scalar_one()
        lost = conn.execute(
            text(
                "SELECT count(*) FROM timers t JOIN instances i ON i.id = t.instance_id "
                "WHERE t.status = 'pending' AND i.status = 'running'"
            )
        ).scalar_one()
        per_instance = Counter(
            (r.instance_id, r.action)
            for r in conn.execute(
                text(
                    "SELECT instance_id, action FROM audit_events "
                    "WHERE action IN ('instance.started', 'instance.finished')"
                )
            )
        )
        outbox_left = [
            f"#{r.id} {r.kind} {r.status}, {r.attempts} attempt(s), next {r.next_attempt_at}, "
            f"{(r.last_error or '')[:120]}"
            for r in conn.execute(
                text(
                    "SELECT id, kind, status, attempts, next_attempt_at, last_error FROM outbox "
                    "WHERE status <> 'done' ORDER BY id"
                )
            )
        ]
    engine.dispose()
    mismatches = sum(
        1
        for i in ids
        if per_instance[(i, "instance.started")] != 1 or per_instance[(i, "instance.finished")] != 1
    )
    keys = Counter((r["path"].rsplit("/", 1)[-1], r["key"]) for r in edge.requests)
    captures = [k for (path, k) in keys if path == "captures"]
    labels = [k for (path, k) in keys if path == "labels"]
    mail_ids = Counter(m["id"] for m in mailbox.messages)
    sms_keys = Counter(s["key"] for s in sms.sent)
    return Report(
        database=kind,
        nodes=nodes,
        orders=orders,
        kills=killed,
        finished=finished,
        delivered=delivered,
        duplicate_completions=int(duplicate),
        captures=len(captures),
        capture_repeats=sum(c - 1 for (p, _), c in keys.items() if p == "captures"),
        labels=len(labels),
        label_repeats=sum(c - 1 for (p, _), c in keys.items() if p == "labels"),
        emails=len(mail_ids),
        email_repeats=sum(c - 1 for c in mail_ids.values()),
        sms=len(sms_keys),
        sms_repeats=sum(c - 1 for c in sms_keys.values()),
        timers_lost=int(lost),
        audit_mismatches=mismatches,
        completion_retries=tally.completed_retries,
        errors=tally.errors,
        seconds=time.monotonic() - started,
        outbox_left=outbox_left,
    )


def main(argv: list[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--nodes", type=int, default=1)
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="stepwise-crash-") as folder:
        report = run(args.db, args.orders, args.kills, args.nodes, Path(folder))
    for line in report.lines():
        out(line)
    for error in report.errors[:20]:
        out(f"  ! {error}")
    out("OK" if report.ok else "FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
