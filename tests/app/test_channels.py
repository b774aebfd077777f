"""Notification channels against real servers on 127.0.0.1: an aiosmtpd SMTP server (plain and
STARTTLS with a login), and small HTTP servers standing in for the SMS provider, Slack and
Teams. The outbox runs by explicit ticks with explicit times; nothing sleeps.

``Mailbox`` and ``recording_server`` are used by test_events.py and
test_order_end_to_end.py too.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.models import Outbox
from app.main import create_app
from app.services import channels, events
from app.services.outbox import tick
from app.settings import Settings
from tests.app.conftest import ADMIN_PASSWORD

# --- a real SMTP server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Mail:
    """One message as the SMTP server took it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        content: str = body.get_content()
        return content.replace("\r\n", "\n")


@dataclass
class Mailbox:
    """An aiosmtpd server on a fixed port, stopped and started at will (the port stays ours).

    ``refuse`` maps a recipient to the SMTP answer for its RCPT (``"550 …"``, ``"451 …"``);
    ``data_answer`` replaces the answer to DATA."""

    port: int = field(default_factory=free_port)
    received: list[Mail] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    data_answer: str | None = None
    tls_context: ssl.SSLContext | None = None
    credentials: tuple[str, str] | None = None
    controller: Controller | None = None

    def start(self) -> None:
        options: dict[str, Any] = {}
        if self.tls_context is not None:
            options.update(tls_context=self.tls_context, require_starttls=True)
        if self.credentials is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self.credentials == (
            data.login.decode(),
            data.password.decode(),
        )
        return AuthResult(success=ok, auth_data=data)

    def settings(self) -> dict[str, str]:
        return {"smtp_host": "127.0.0.1", "smtp_port": str(self.port)}


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.box.refuse:
            return self.box.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.box.data_answer is not None:
            return self.box.data_answer
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data.login.decode() if session.authenticated else None
        self.box.received.append(
            Mail(
                envelope.mail_from, list(envelope.rcpt_tos), parsed, session.ssl is not None, login
            )
        )
        return "250 Message accepted"


@contextmanager
def mailbox(**options: Any) -> Iterator[Mailbox]:
    box = Mailbox(**options)
    box.start()
    try:
        yield box
    finally:
        box.stop()


# --- a small HTTP server that records what it is sent ---------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Recorder:
    """Answers each request with the next of ``statuses`` (200 when there are none left)."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@contextmanager
def recording_server() -> Iterator[Recorder]:
    recorder = Recorder()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                recorder.requests.append(
                    Recorded(
                        "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                    )
                )
                status = recorder.statuses.pop(0) if recorder.statuses else 200
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


# --- workflows ------------------------------------------------------------------------------

CUSTOMER = {"order_id": "N-1", "customer": {"name": "Ada", "email": "ada@example.com"}}


def linear(key: str, *steps: dict[str, Any]) -> dict[str, Any]:
    """start → steps… → a task for sam → end."""
    nodes = [
        {"id": "start", "type": "start", "name": "Start"},
        *steps,
        {"id": "look", "type": "user_task", "name": "Look", "assignee": {"user": "sam"}},
        {"id": "end", "type": "end", "name": "Done"},
    ]
    ids = [node["id"] for node in nodes]
    edges = [
        {"id": f"e{i}", "from": a, "to": b} for i, (a, b) in enumerate(itertools.pairwise(ids))
    ]
    return {"format": 1, "key": key, "name": key, "nodes": nodes, "edges": edges}


def notify_step(
    channel: str, to: str, subject: str | None = None, body: str = ""
) -> dict[str, Any]:
    return {
        "id": "tell",
        "type": "notify",
        "name": "Tell",
        "channel": channel,
        "to": to,
        "subject": subject,
        "body": body,
    }


def publish(admin: Any, draft: dict[str, Any]) -> str:
    key: str = draft["key"]
    made = admin.post("/api/workflows", json={"key": key, "draft": draft})
    assert made.status_code == 201, made.text
    published = admin.post(f"/api/workflows/{key}/publish")
    assert published.status_code == 201, published.text
    return key


def start(admin: Any, key: str, data: dict[str, Any] | None = None) -> str:
    started = admin.post(f"/api/workflows/{key}/instances", json={"data": data or CUSTOMER})
    assert started.status_code == 201, started.text
    instance_id: str = started.json()["id"]
    return instance_id


def rows(app: Any, instance_id: str, kind: str = "send_notification") -> list[Outbox]:
    with app.state.sessionmaker() as session:
        found = session.scalars(
            select(Outbox)
            .where(Outbox.instance_id == instance_id, Outbox.kind == kind)
            .order_by(Outbox.id)
        )
        return list(found)


def open_incidents(admin: Any, instance_id: str) -> list[dict[str, Any]]:
    instance = admin.get(f"/api/instances/{instance_id}").json()
    return [x for x in instance["incidents"] if x["status"] == "open"]


def open_nodes(admin: Any, instance_id: str) -> list[str]:
    return [t["node"] for t in admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]]


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def box() -> Iterator[Mailbox]:
    with mailbox() as running:
        yield running


@pytest.fixture
def provider() -> Iterator[Recorder]:
    with recording_server() as running:
        yield running


@pytest.fixture
def configure(settings: Settings) -> Iterator[Callable[..., Any]]:
    """Make the app with these ``extra`` settings and ``secrets``."""
    made: list[Any] = []

    def make(extra: dict[str, str], secrets: dict[str, str] | None = None) -> Any:
        application = create_app(replace(settings, extra=extra, secrets=secrets or {}))
        made.append(application)
        return application

    yield make
    for application in made:
        application.state.worker.client.close()
        application.state.engine.dispose()


@pytest.fixture
def app(configure: Callable[..., Any], box: Mailbox, provider: Recorder) -> Any:
    return configure(
        {
            **box.settings(),
            "mail_from": "Shop <orders@shop.example>",
            "sms_url": f"{provider.url}/sms",
            "sms_from": "+15005550006",
            "sms_account_sid": "AC123",
            "webhook_url": f"{provider.url}/hook",
        },
        {
            "sms_auth_token": "token-xyz",
            "ops_slack": f"{provider.url}/slack",
            "ops_teams": f"{provider.url}/teams",
        },
    )


# --- email ----------------------------------------------------------------------------------


def test_email_arrives_with_recipient_subject_and_body_rendered_from_the_instance_data(
    app, login, box
):
    admin = login("admin")
    key = publish(
        admin,
        linear(
            "mail-one",
            notify_step(
                "email",
                "{{ customer.email }}",
                "Order {{ order_id }} for {{ customer.name }}",
                "Dear {{ customer.name }},\nyour order {{ order_id }} is in ({{ instance.id }}).",
            ),
        ),
    )
    instance_id = start(admin, key)
    tick(app.state.worker, now=datetime.now(UTC))

    (mail,) = box.received
    assert mail.rcpt_tos == ["ada@example.com"]
    assert mail.mail_from == "orders@shop.example"
    assert mail.message["Subject"] == "Order N-1 for Ada"
    assert mail.message["From"] == "Shop <orders@shop.example>"
    assert mail.message["To"] == "ada@example.com"
    assert mail.text == f"Dear Ada,\nyour order N-1 is in ({instance_id}).\n"
    assert mail.tls is False
    (row,) = rows(app, instance_id)
    assert row.status == "done"
    assert mail.message["Message-ID"] == channels.message_id(
        row.idempotency_key, "orders@shop.example"
    )
    assert mail.message["Message-ID"].endswith("@shop.example>")


def test_an_email_goes_to_whoever_started_the_instance_by_their_name(app, login, box):
    sam = login("sam")
    body = "{{ instance.business_key }} ({{ instance.workflow_key }}) is {{ instance.status }}"
    key = publish(
        login("admin"),
        linear(
            "mail-starter", notify_step("email", "user:{{ instance.started_by }}", "Yours", body)
        ),
    )
    started = sam.post(f"/api/workflows/{key}/instances", json={"data": CUSTOMER})
    assert started.status_code == 201, started.text
    tick(app.state.worker, now=datetime.now(UTC))

    (mail,) = box.received
    assert mail.rcpt_tos == ["sam@stepwise.example"]
    assert mail.text == "N-1 (mail-starter) is running\n"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603 - a fixed command line
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_email_goes_over_starttls_with_a_login_from_settings_and_secrets(configure, certificate):
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with mailbox(tls_context=server_tls, credentials=("shop", "s3cret")) as secure:
        app = configure(
            {
                **secure.settings(),
                "smtp_starttls": "true",
                "smtp_ca_file": str(cert),
                "smtp_user": "shop",
                "mail_from": "orders@shop.example",
            },
            {"smtp_password": "s3cret"},
        )
        with app_client(app) as admin:
            key_ = publish(admin, linear("mail-tls", notify_step("email", "ada@example.com", "Hi")))
            start(admin, key_)
        tick(app.state.worker, now=datetime.now(UTC))
        (mail,) = secure.received
    assert (mail.tls, mail.login, mail.rcpt_tos) == (True, "shop", ["ada@example.com"])


@contextmanager
def app_client(app: Any) -> Iterator[TestClient]:
    """The admin's client for an app made inside a test (``login`` serves the fixture's)."""
    with TestClient(app) as client:
        answer = client.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        yield client


def test_smtp_down_for_a_while_is_retried_with_backoff_nothing_lost_and_the_instance_goes_on(
    app, login, box
):
    worker, admin, sam = app.state.worker, login("admin"), login("sam")
    key = publish(
        admin,
        linear("mail-down", notify_step("email", "{{ customer.email }}", "Order {{ order_id }}")),
    )
    box.stop()
    instance_id = start(admin, key)
    t0 = datetime.now(UTC)

    tick(worker, now=t0)  # connection refused
    (row,) = rows(app, instance_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in (row.last_error or "")
    assert row.next_attempt_at == t0 + channels.backoff(1)
    assert open_nodes(admin, instance_id) == ["look"]  # not blocked by the email
    task = sam.get("/api/tasks").json()["items"][0]
    assert sam.post(f"/api/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    assert admin.get(f"/api/instances/{instance_id}").json()["status"] == "completed"

    tick(worker, now=t0 + timedelta(seconds=10))  # before the backoff: not tried
    assert rows(app, instance_id)[0].attempts == 1
    tick(worker, now=t0 + timedelta(seconds=31))  # tried again: still down, waits twice as long
    (row,) = rows(app, instance_id)
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.next_attempt_at == t0 + timedelta(seconds=31) + channels.backoff(2)

    box.start()
    tick(worker, now=t0 + timedelta(seconds=31) + channels.backoff(2))
    tick(worker, now=t0 + timedelta(hours=2))  # nothing more goes out
    (mail,) = box.received
    assert mail.message["Subject"] == "Order N-1"
    (row,) = rows(app, instance_id)
    assert (row.status, row.attempts, row.last_error) == ("done", 3, None)
    assert open_incidents(admin, instance_id) == []


def test_smtp_down_past_the_last_attempt_becomes_an_incident(app, login, box):
    worker, admin = app.state.worker, login("admin")
    key = publish(admin, linear("mail-gone", notify_step("email", "ada@example.com", "Hi")))
    box.stop()
    instance_id = start(admin, key)
    at = datetime.now(UTC)
    for attempt in range(1, channels.MAX_ATTEMPTS + 1):
        tick(worker, now=at)
        at += channels.backoff(attempt)
    (row,) = rows(app, instance_id)
    assert (row.status, row.attempts) == ("failed", channels.MAX_ATTEMPTS)
    (incident,) = open_incidents(admin, instance_id)
    assert incident["code"] == "notification_failed"
    assert incident["node"] == "tell"
    assert f"gave up after {channels.MAX_ATTEMPTS} attempts" in incident["message"]
    assert open_nodes(admin, instance_id) == ["look"]


def test_a_temporary_smtp_refusal_is_retried(app, login, box):
    worker, admin = app.state.worker, login("admin")
    key = publish(admin, linear("mail-451", notify_step("email", "ada@example.com", "Hi")))
    box.data_answer = "451 4.3.0 try again later"
    instance_id = start(admin, key)
    t0 = datetime.now(UTC)
    tick(worker, now=t0)
    (row,) = rows(app, instance_id)
    assert (row.status, row.last_error) == ("pending", "SMTP 451: 4.3.0 try again later")
    box.data_answer = None
    tick(worker, now=t0 + channels.backoff(1))
    assert len(box.received) == 1
    assert rows(app, instance_id)[0].status == "done"


def test_a_refused_recipient_is_an_incident_and_not_retried(app, login, box):
    worker, admin = app.state.worker, login("admin")
    key = publish(admin, linear("mail-550", notify_step("email", "{{ customer.email }}", "Hi")))
    box.refuse["ada@example.com"] = "550 5.1.1 no such user"
    instance_id = start(admin, key)
    tick(worker, now=datetime.now(UTC))
    tick(worker, now=datetime.now(UTC) + timedelta(hours=3))
    (row,) = rows(app, instance_id)
    assert (row.status, row.attempts) == ("failed", 1)
    (incident,) = open_incidents(admin, instance_id)
    assert incident["code"] == "notification_refused"
    assert "550" in incident["message"]
    assert "no such user" in incident["message"]
    assert admin.get(f"/api/instances/{instance_id}").json()["open_incidents"] == 1
    assert open_nodes(admin, instance_id) == ["look"]


def test_a_template_error_is_an_incident_and_the_other_paths_go_on(app, login, box):
    worker, admin = app.state.worker, login("admin")
    bad = notify_step("email", "{{ customer.email }}", "Order {{ shipment.tracking_number }}")
    key = publish(admin, linear("mail-bad", bad))
    instance_id = start(admin, key)
    tick(worker, now=datetime.now(UTC))
    assert box.received == []
    (row,) = rows(app, instance_id)
    assert row.status == "failed"
    (incident,) = open_incidents(admin, instance_id)
    assert incident["code"] == "notification_template"
    assert "shipment" in incident["message"]
    assert open_nodes(admin, instance_id) == ["look"]
    tick(worker, now=datetime.now(UTC) + timedelta(hours=1))  # the incident is raised once
    assert len(open_incidents(admin, instance_id)) == 1


def test_a_channel_that_is_not_configured_is_skipped(configure):
    app = configure({})
    with app_client(app) as admin:
        key = publish(admin, linear("mail-off", notify_step("email", "ada@example.com", "Hi")))
        instance_id = start(admin, key)
        tick(app.state.worker, now=datetime.now(UTC))
        (row,) = rows(app, instance_id)
        assert (row.status, row.last_error) == (
            "skipped",
            "no email channel is configured (smtp_host)",
        )
        assert open_incidents(admin, instance_id) == []


# --- SMS, Slack, Teams ----------------------------------------------------------------------


def test_sms_is_a_twilio_style_form_with_basic_auth_and_one_idempotency_key_for_every_attempt(
    app, login, provider
):
    worker, admin = app.state.worker, login("admin")
    key = publish(
        admin,
        linear(
            "sms-one",
            notify_step("sms", "{{ customer.phone }}", None, "Order {{ order_id }} has shipped"),
        ),
    )
    data = {**CUSTOMER, "customer": {**CUSTOMER["customer"], "phone": "+4915100000"}}
    instance_id = start(admin, key, data)
    provider.statuses = [503]
    t0 = datetime.now(UTC)
    tick(worker, now=t0)
    assert rows(app, instance_id)[0].status == "pending"
    tick(worker, now=t0 + channels.backoff(1))

    first, second = provider.requests
    (row,) = rows(app, instance_id)
    assert row.status == "done"
    for request in (first, second):
        assert request.path == "/sms"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.form() == {
            "To": "+4915100000",
            "From": "+15005550006",
            "Body": "Order N-1 has shipped",
        }
        assert (
            request.headers["authorization"]
            == "Basic " + base64.b64encode(b"AC123:token-xyz").decode()
        )
        assert request.headers["idempotency-key"] == row.idempotency_key


@pytest.mark.parametrize(
    ("target", "path", "expected"),
    [
        ("slack:ops_slack", "/slack", {"text": "*Stock low*\nMUG-01 has 3 left"}),
        (
            "teams:OPS_TEAMS",
            "/teams",
            {
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": "Stock low",
                "title": "Stock low",
                "text": "MUG-01 has 3 left",
            },
        ),
    ],
)
def test_slack_and_teams_get_their_json_through_webhook_urls_kept_as_secrets(
    app, login, provider, target, path, expected
):
    admin = login("admin")
    step = notify_step("webhook", target, "Stock low", "{{ sku }} has {{ left }} left")
    key = publish(admin, linear(f"chat-{path.strip('/')}", step))
    instance_id = start(admin, key, {"sku": "MUG-01", "left": 3})
    tick(app.state.worker, now=datetime.now(UTC))
    (request,) = provider.requests
    assert request.path == path
    assert json.loads(request.body) == expected
    (row,) = rows(app, instance_id)
    assert request.headers["idempotency-key"] == row.idempotency_key
    assert row.status == "done"


def test_the_plain_webhook_channel_posts_json_with_an_idempotency_key(app, login, provider):
    admin = login("admin")
    key = publish(
        admin, linear("hook-plain", notify_step("webhook", "crm", "New", "{{ order_id }}"))
    )
    instance_id = start(admin, key)
    tick(app.state.worker, now=datetime.now(UTC))
    (request,) = provider.requests
    assert request.path == "/hook"
    assert request.body == b'{"to":"crm","subject":"New","body":"N-1"}'
    assert request.headers["idempotency-key"] == rows(app, instance_id)[0].idempotency_key


@pytest.mark.parametrize(
    ("target", "status", "words"),
    [
        ("slack:ops_slack", 404, "HTTP 404"),
        ("slack:nobody_made_this", 200, "no secret named 'nobody_made_this'"),
    ],
)
def test_a_provider_refusal_or_an_unknown_secret_is_an_incident(
    app, login, provider, target, status, words
):
    admin = login("admin")
    key = publish(admin, linear(f"chat-{status}", notify_step("webhook", target, "Hi", "there")))
    provider.statuses = [status]
    instance_id = start(admin, key)
    tick(app.state.worker, now=datetime.now(UTC))
    (incident,) = open_incidents(admin, instance_id)
    assert incident["code"] == "notification_refused"
    assert words in incident["message"]
    assert rows(app, instance_id)[0].status == "failed"


def test_secrets_come_from_their_own_variables_and_not_from_template_settings(monkeypatch):
    monkeypatch.setenv("STEPWISE_SECRET_OPS_SLACK", "https://hooks.slack.example/T/B/x")
    monkeypatch.setenv("STEPWISE_SETTING_SMTP_HOST", "mail.example")
    settings = Settings.from_env()
    assert channels.secret(settings, "ops_slack") == "https://hooks.slack.example/T/B/x"
    assert channels.secret(settings, " OPS_SLACK ") == "https://hooks.slack.example/T/B/x"
    assert channels.secret(settings, "smtp_host") is None
    assert "ops_slack" not in settings.extra
    assert "hooks.slack" not in repr(settings)


def test_message_ids_are_stable_per_outbox_row_and_valid():
    first = channels.message_id("0af3:msg7", "Shop <orders@shop.example>")
    assert first == channels.message_id("0af3:msg7", "Shop <orders@shop.example>")
    assert first == "<stepwise.0af3.msg7@shop.example>"
    assert channels.message_id("a b<c>", "nobody") == "<stepwise.a.b.c@stepwise.localhost>"


def test_emails_carry_an_html_part_unless_it_is_turned_off(configure, box):
    for extra, parts in (
        ({}, ["text/plain", "text/html"]),
        ({"email_html": "off"}, ["text/plain"]),
    ):
        box.received.clear()
        application = configure({**box.settings(), **extra})
        with app_client(application) as admin:
            step = notify_step("email", "ada@example.com", "Hi", "Hello")
            key = publish(admin, linear(f"mail-html-{len(parts)}", step))
            start(admin, key)
            tick(application.state.worker, now=datetime.now(UTC))
        (mail,) = box.received
        assert [p.get_content_type() for p in mail.message.walk() if not p.is_multipart()] == parts


def test_the_plain_webhook_channel_is_signed_when_a_signing_secret_is_set(configure, provider):
    key = events.new_secret()
    application = configure(
        {"webhook_url": f"{provider.url}/hook"}, {"webhook_signing_secret": key}
    )
    with app_client(application) as admin:
        flow = publish(admin, linear("hook-signed", notify_step("webhook", "crm", "New", "x")))
        instance_id = start(admin, flow)
        tick(application.state.worker, now=datetime.now(UTC))
    (request,) = provider.requests
    (row,) = rows(application, instance_id)
    headers = request.headers
    assert headers["webhook-id"] == row.idempotency_key == headers["idempotency-key"]
    expected = events.signature(
        key, headers["webhook-id"], headers["webhook-timestamp"], request.body.decode()
    )
    assert headers["webhook-signature"] == expected
    assert json.loads(request.body) == {"to": "crm", "subject": "New", "body": "x"}
