"""Notification channels: email over SMTP, SMS through a Twilio-style provider, Slack and
Microsoft Teams through their incoming webhooks, and a plain JSON webhook.

The outbox worker (``outbox._notify``) renders a ``notify`` step's ``to``, ``subject`` and
``body`` and hands the result here as a ``Message``; each channel either returns (sent) or
raises one of three exceptions, which decide what becomes of the outbox row:

| raised | means | the row |
|---|---|---|
| ``NotConfigured`` | the channel is off (no ``smtp_host``, no ``sms_url``, ...) | ``skipped`` |
| ``Transient`` | try again: connection refused or timed out, SMTP 4xx, HTTP 429 or 5xx | retried with backoff, then an incident |
| ``Refused`` | it will not go: SMTP 5xx (a bounce at the door), HTTP 4xx, no recipient, an unknown secret | ``failed`` and an incident on the instance |

Every delivery carries the row's idempotency key, so that a send repeated after a crash can
be recognised: the email's ``Message-ID`` is derived from it, HTTP providers get it as
``Idempotency-Key``.

Credentials and webhook URLs are secrets (``Settings.secrets``, from
``STEPWISE_SECRET_<NAME>``), which workflows may name but not read: ``settings.*`` is visible
to every template, so a password there would be one ``{{ settings.smtp_password }}`` away
from a customer's inbox. Slack and Teams targets are written ``slack:<secret name>`` and
``teams:<secret name>`` in a ``webhook`` step's ``to`` (the workflow format has no ``slack``
channel of its own; the channels ``slack`` and ``teams``, with the secret's name as ``to``,
are understood too).

Rejected: sending from inside the step's transaction (a slow SMTP server would hold the
instance's lock, and a rollback could not take back a sent email); a bounce-address parser
for asynchronous bounces (delivery status notifications arrive later at the sender's
mailbox, not to us; only refusals during the SMTP dialogue are seen here).
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Incident, Instance
from app.services.events import signature
from app.services.records import audit, tell_admins_of_incident
from app.settings import Settings

SMTP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 10.0
RETRY_BASE = timedelta(seconds=30)
"""A transient failure is tried again this much later, doubling with every attempt ..."""
RETRY_MAX = timedelta(hours=1)
"""... up to this much between attempts ..."""
MAX_ATTEMPTS = 10
"""... and after this many attempts (about three hours) it becomes an incident."""

_TRUE = frozenset({"1", "true", "yes", "on"})


class NotConfigured(Exception):
    """The channel is not set up in this installation: the notification is skipped."""


class Transient(Exception):
    """The delivery failed in a way that may pass: try again later."""


class Refused(Exception):
    """The delivery was refused for good (or cannot be made): an incident for a person.

    ``delivered`` is true when some recipients got it and others were refused; the message
    is then not sent again."""

    def __init__(self, message: str, *, delivered: bool = False) -> None:
        super().__init__(message)
        self.delivered = delivered


@dataclass(frozen=True)
class Message:
    """A rendered notification. ``key`` is the outbox row's idempotency key; ``html``, for an
    email, its HTML part (``app/services/mailhtml.py``)."""

    channel: str
    to: str
    subject: str
    body: str
    key: str
    html: str | None = None


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    wait: timedelta = RETRY_BASE * 2 ** min(max(attempts - 1, 0), 30)
    return min(wait, RETRY_MAX)


def secret(settings: Settings, name: str) -> str | None:
    """The secret called ``name`` (``STEPWISE_SECRET_<NAME>``; names are not case-sensitive)."""
    return settings.secrets.get(secret_name(name)) or None


def secret_name(name: str) -> str:
    """A secret's name as ``Settings.secrets`` keys it, however a step spells it."""
    return name.strip().lower()


def send(message: Message, *, settings: Settings, client: httpx.Client, now: datetime) -> None:
    """Send ``message`` by its channel (not ``inbox``, which the outbox writes itself)."""
    target, _, name = message.to.partition(":")
    if message.channel == "email":
        send_email(settings, message, now=now)
    elif message.channel == "sms":
        send_sms(client, settings, message)
    elif message.channel in ("slack", "teams"):
        url = _webhook_secret(settings, message.to)
        (send_slack if message.channel == "slack" else send_teams)(client, url, message)
    elif message.channel == "webhook" and target.strip() in ("slack", "teams") and name:
        url = _webhook_secret(settings, name)
        (send_slack if target.strip() == "slack" else send_teams)(client, url, message)
    elif message.channel == "webhook":
        send_webhook(client, settings, message, now=now)
    else:
        raise Refused(f"there is no notification channel {message.channel!r}")


# --- email ----------------------------------------------------------------------------------


def message_id(key: str, mail_from: str) -> str:
    """A ``Message-ID`` that is the same for every attempt at one outbox row."""
    local = re.sub(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+", ".", key).strip(".") or "message"
    domain = mail_from.rpartition("@")[2].strip(" >")
    if "@" not in mail_from or not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        domain = "stepwise.localhost"
    return f"<stepwise.{local}@{domain}>"


def send_email(settings: Settings, message: Message, *, now: datetime) -> None:
    """One email over SMTP (plain text, and its HTML part when it has one), with STARTTLS and login when the settings say so.

    Settings: ``smtp_host`` (the channel is off without it), ``smtp_port`` (25),
    ``smtp_starttls`` (``1``/``true``: upgrade the connection before logging in; refused by a
    server that does not offer it), ``smtp_ca_file`` (a CA bundle to trust instead of the
    system's), ``smtp_user`` with the secret ``smtp_password``, ``mail_from``."""
    extra = settings.extra
    host = extra.get("smtp_host", "").strip()
    if not host:
        raise NotConfigured("no email channel is configured (smtp_host)")
    try:
        port = int(extra.get("smtp_port", "25"))
    except ValueError:
        raise Refused(f"smtp_port is not a number: {extra.get('smtp_port')!r}") from None
    sender = extra.get("mail_from", "stepwise@localhost")
    recipients = _addresses(message.to)
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Subject"] = " ".join(message.subject.split())  # no line breaks in a header
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id(message.key, sender)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    try:
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.ehlo()
            if extra.get("smtp_starttls", "").strip().lower() in _TRUE:
                smtp.starttls(context=_tls_context(extra.get("smtp_ca_file")))
                smtp.ehlo()
            user = extra.get("smtp_user", "").strip()
            if user:
                smtp.login(user, secret(settings, "smtp_password") or "")
            refused = smtp.send_message(email, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refused_recipients(exc.recipients, delivered=False) from exc
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, login, 421
        text = f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}"
        if 400 <= exc.smtp_code < 500:
            raise Transient(text) from exc
        raise Refused(text) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise Refused(f"the SMTP server does not support this: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, dropped, TLS
        raise Transient(f"{type(exc).__name__}: {exc}") from exc
    if refused:
        raise _refused_recipients(refused, delivered=True)


def _addresses(to: str) -> list[str]:
    if "\r" in to or "\n" in to:
        raise Refused("the recipient contains a line break")
    found = [address for _, address in getaddresses([to]) if address]
    if not found:
        raise Refused(f"no email recipient (to rendered as {to!r})")
    bad = [address for address in found if "@" not in address]
    if bad:
        raise Refused(f"not an email address: {', '.join(bad)}")
    return found


def _refused_recipients(refused: dict[str, tuple[int, bytes]], *, delivered: bool) -> Exception:
    described = "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in refused.items())
    if not delivered and any(400 <= code < 500 for code, _ in refused.values()):
        return Transient(f"recipients deferred: {described}")
    return Refused(f"recipients refused: {described}", delivered=delivered)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file.strip() if ca_file else None)


# --- over HTTP ------------------------------------------------------------------------------


def send_sms(client: httpx.Client, settings: Settings, message: Message) -> None:
    """A Twilio-style form POST to ``sms_url``: ``To``, ``From`` (``sms_from``), ``Body``, with
    basic auth (``sms_account_sid`` and the secret ``sms_auth_token``) when an account is
    set."""
    url = settings.extra.get("sms_url", "").strip()
    if not url:
        raise NotConfigured("no SMS channel is configured (sms_url)")
    to = message.to.strip()
    if not to:
        raise Refused("no SMS recipient (to rendered empty)")
    form = {"To": to, "From": settings.extra.get("sms_from", ""), "Body": message.body}
    if not message.body.strip():
        form["Body"] = message.subject
    account = settings.extra.get("sms_account_sid", "").strip()
    auth = (account, secret(settings, "sms_auth_token") or "") if account else None
    _post(client, url, message.key, data=form, auth=auth)


def send_slack(client: httpx.Client, url: str, message: Message) -> None:
    """Slack's incoming webhook: ``{"text": ...}``, the subject in bold on the first line."""
    text = f"*{message.subject}*\n{message.body}" if message.subject else message.body
    _post(client, url, message.key, json={"text": text})


def send_teams(client: httpx.Client, url: str, message: Message) -> None:
    """A Microsoft Teams incoming webhook: a MessageCard (its ``text`` is what the newer
    Workflows webhooks read too)."""
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": (message.subject or message.body)[:200],
        "text": message.body,
    }
    if message.subject:
        card["title"] = message.subject
    _post(client, url, message.key, json=card)


def send_webhook(
    client: httpx.Client, settings: Settings, message: Message, *, now: datetime | None = None
) -> None:
    """JSON ``{to, subject, body}`` to ``webhook_url``; signed the Standard Webhooks way, as
    event webhooks are, when the secret ``webhook_signing_secret`` is set (``webhook-id`` is
    the outbox row's key, the same on every attempt)."""
    url = settings.extra.get("webhook_url", "").strip()
    if not url:
        raise NotConfigured("no webhook channel is configured (webhook_url)")
    payload = {"to": message.to, "subject": message.subject, "body": message.body}
    key = secret(settings, "webhook_signing_secret")
    if not key:
        _post(client, url, message.key, json=payload)
        return
    body = json.dumps(payload, separators=(",", ":"))
    stamp = str(int((now or datetime.now(UTC)).timestamp()))
    try:
        signed = signature(key, message.key, stamp, body)
    except ValueError:
        raise Refused("the secret webhook_signing_secret is not a whsec_ key (base64)") from None
    headers = {
        "content-type": "application/json",
        "webhook-id": message.key,
        "webhook-timestamp": stamp,
        "webhook-signature": signed,
    }
    _post(client, url, message.key, content=body.encode(), headers=headers)


def _webhook_secret(settings: Settings, name: str) -> str:
    url = secret(settings, name)
    if url is None:
        raise Refused(f"there is no secret named {name.strip()!r} (STEPWISE_SECRET_<NAME>)")
    return url


def _post(
    client: httpx.Client,
    url: str,
    key: str,
    headers: dict[str, str] | None = None,
    **content: Any,
) -> None:
    if not url.startswith(("http://", "https://")):
        raise Refused("the provider's URL must start with http:// or https://")
    try:
        response = client.post(
            url,
            headers={"Idempotency-Key": key, **(headers or {})},
            timeout=HTTP_TIMEOUT_S,
            **content,
        )
    except httpx.InvalidURL as exc:
        raise Refused(f"the provider's URL is not valid: {exc}") from exc
    except httpx.HTTPError as exc:
        raise Transient(f"{type(exc).__name__}: {exc}") from exc
    if response.is_success:
        return
    text = f"HTTP {response.status_code}: {response.text[:300]}"
    if response.status_code == 429 or response.status_code >= 500:
        raise Transient(text)
    raise Refused(text)


# --- incidents ------------------------------------------------------------------------------


def raise_incident(
    session: Session,
    *,
    instance_id: str,
    engine_id: str,
    node: str,
    code: str,
    message: str,
    details: dict[str, Any],
    now: datetime,
) -> bool:
    """An incident on the instance for something the engine does not know about (a
    notification that cannot be sent). Once per ``engine_id``; False if it was there or the
    instance is gone. The caller commits."""
    instance = session.scalar(select(Instance).where(Instance.id == instance_id).with_for_update())
    if instance is None:
        return False
    exists = session.scalar(
        select(Incident.id).where(
            Incident.instance_id == instance_id, Incident.engine_id == engine_id
        )
    )
    if exists is not None:
        return False
    session.add(
        Incident(
            instance_id=instance_id,
            engine_id=engine_id,
            node=node,
            code=code,
            message=message[:2000],
            details=details,
            created_at=now,
        )
    )
    instance.open_incidents += 1
    audit(session, "incident.raised", actor="worker", instance_id=instance_id, now=now, code=code)
    tell_admins_of_incident(
        session,
        workflow_key=instance.workflow_key,
        instance_id=instance_id,
        node=node,
        code=code,
        message=message,
        now=now,
    )
    return True
