"""The workers: due timers become engine commands; outbox rows leave as HTTP calls,
notifications and child workflows, and their answers come back as commands.

A row is claimed by pushing its ``next_attempt_at`` a lease ahead (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so several processes share the work); the call is
made outside any transaction; the answer is recorded in a new one. A crash
between the two leaves the row to be claimed again when the lease runs out: at
least once, with the row's idempotency key sent along for receivers to
deduplicate.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.clock import Clock
from app.db.models import Outbox, OutOfOffice, Timer, User
from app.services import runner
from app.services.people import deliver_inbox, sweep_windows
from app.services.runner import DefinitionCache, lock_instance
from app.settings import Settings
from engine import FireTimer, HttpFailed, HttpResult, SubworkflowFinished, parse_duration

log = logging.getLogger("stepwise.worker")
LEASE = timedelta(seconds=60)
_jinja = ImmutableSandboxedEnvironment(autoescape=False)


@dataclass
class Worker:
    """What the workers need; one per app process."""

    sessionmaker: sessionmaker[Session]
    cache: DefinitionCache
    settings: Settings
    client: httpx.Client
    clock: Clock | None = None


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside ``value`` as a sandboxed Jinja2 template."""
    if isinstance(value, str):
        return _jinja.from_string(value).render(context) if "{" in value else value
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


def _context(worker: Worker, row: Outbox, data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "instance": {"id": row.instance_id}, "settings": dict(worker.settings.extra)}


def _locking(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def fire_due_timers(worker: Worker, *, now: datetime, limit: int = 100) -> int:
    """Fire every timer due by ``now``, each in its own transaction. Returns how many fired."""
    fired = 0
    for _ in range(limit):
        with worker.sessionmaker() as session:
            query = (
                select(Timer)
                .where(Timer.status == "pending", Timer.due_at <= now)
                .order_by(Timer.due_at)
                .limit(1)
            )
            if _locking(session):
                query = query.with_for_update(skip_locked=True)
            timer = session.scalar(query)
            if timer is None:
                return fired
            instance = lock_instance(session, timer.instance_id)
            timer.status, timer.fired_at = "fired", now
            if instance.status == "running" and not instance.suspended:
                runner.run_command(
                    session,
                    cache=worker.cache,
                    instance=instance,
                    command=FireTimer(timer.engine_id),
                    actor="scheduler",
                    now=now,
                )
            elif instance.suspended:
                timer.status = "pending"  # fires on resume
                timer.due_at = now + timedelta(minutes=1)
            session.commit()
            fired += 1
    return fired


def _claim(worker: Worker, *, now: datetime) -> tuple[int, str, dict[str, Any], int] | None:
    with worker.sessionmaker() as session:
        query = (
            select(Outbox)
            .where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
            .order_by(Outbox.id)
            .limit(1)
        )
        if _locking(session):
            query = query.with_for_update(skip_locked=True)
        row = session.scalar(query)
        if row is None:
            return None
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        claimed = (row.id, row.kind, dict(row.payload), row.attempts)
        session.commit()
        return claimed


def deliver_outbox(worker: Worker, *, now: datetime, limit: int = 100) -> int:
    """Send what is due in the outbox. Returns how many rows were handled."""
    handled = 0
    for _ in range(limit):
        claimed = _claim(worker, now=now)
        if claimed is None:
            break
        row_id, kind, payload, attempts = claimed
        try:
            if kind == "call_http":
                _http(worker, row_id, payload, attempts, now=now)
            elif kind == "send_notification":
                _notify(worker, row_id, payload, now=now)
            elif kind == "start_subworkflow":
                _start_child(worker, row_id, payload, now=now)
            elif kind == "subworkflow_finished":
                _child_finished(worker, row_id, payload, now=now)
            else:
                _finish_row(worker, row_id, "failed", f"unknown outbox kind {kind}", now=now)
        except Exception as exc:  # one bad row must not stop the others
            log.exception("outbox row %s failed", row_id)
            _finish_row(worker, row_id, "pending" if attempts < 5 else "failed", repr(exc), now=now)
        handled += 1
    return handled


def _finish_row(
    worker: Worker, row_id: int, status: str, error: str | None, *, now: datetime
) -> None:
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is not None:
            row.status = status
            row.last_error = error
            if status == "done":
                row.done_at = now
            elif status == "pending":
                row.next_attempt_at = now + timedelta(seconds=30)
            session.commit()


def _answer(
    worker: Worker,
    row_id: int,
    instance_id: str,
    command: Any,
    *,
    now: datetime,
    act: Callable[[Session], Any] | None = None,
) -> None:
    """Record the answer: mark the row done and step the instance, in one transaction
    (with ``act``'s own writes, when the call is an action on Stepwise itself)."""
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is None or row.status == "done":
            return
        instance = lock_instance(session, instance_id)
        if act is not None:
            command = act(session)
        row.status, row.done_at = "done", now
        if instance.status == "running" and request_waits(instance, command):
            runner.run_command(
                session,
                cache=worker.cache,
                instance=instance,
                command=command,
                actor="worker",
                now=now,
            )
        session.commit()


def request_waits(instance: Any, command: Any) -> bool:
    """Whether the instance still waits for this answer (it may have been cancelled or timed out)."""
    return getattr(command, "request_id", None) in instance.state.get("waits", {})


def _http(
    worker: Worker, row_id: int, payload: dict[str, Any], attempts: int, *, now: datetime
) -> None:
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is None:
            return
        instance_id = row.instance_id or ""
        context = _context(worker, row, payload.get("data", {}))
        idempotency_key = row.idempotency_key
    request = payload["request"]
    if str(request["url"]).startswith("stepwise:"):
        _internal(worker, row_id, instance_id, payload, context, now=now)
        return
    try:
        url = render(request["url"], context)
        headers = {
            "Idempotency-Key": idempotency_key,
            **render(request.get("headers", {}), context),
        }
        body = render(request.get("body"), context)
        response = worker.client.request(
            request.get("method", "POST"),
            url,
            headers=headers,
            json=body if request.get("method", "POST") != "GET" else None,
            timeout=float(request.get("timeout_s", 10)),
        )
    except (httpx.HTTPError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        _retry_or_fail(worker, row_id, instance_id, payload, attempts, error, now=now)
        return
    if response.status_code >= 500 or response.status_code == 429:
        _retry_or_fail(
            worker, row_id, instance_id, payload, attempts, f"HTTP {response.status_code}", now=now
        )
        return
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text
    command = HttpResult(
        payload["request_id"], response.status_code, answer, dict(response.headers)
    )
    _answer(worker, row_id, instance_id, command, now=now)


INTERNAL_ACTIONS = ("out-of-office",)


def _internal(
    worker: Worker,
    row_id: int,
    instance_id: str,
    payload: dict[str, Any],
    context: dict[str, Any],
    *,
    now: datetime,
) -> None:
    """Calls to ``stepwise:<action>``: actions on Stepwise itself, done in-process, no credentials."""
    action = str(payload["request"]["url"]).removeprefix("stepwise:")
    body = render(payload["request"].get("body") or {}, context)

    def act(session: Session) -> Any:
        if action != "out-of-office":
            known = ", ".join(INTERNAL_ACTIONS)
            return HttpFailed(
                payload["request_id"], f"unknown action stepwise:{action} (known: {known})", 404
            )
        try:
            window = OutOfOffice(
                username=str(body["user"]),
                delegate=str(body["delegate"]),
                starts_at=datetime.fromisoformat(str(body["starts_at"])),
                ends_at=datetime.fromisoformat(str(body["ends_at"])),
                return_tasks=bool(body.get("return_tasks", True)),
                note=str(body.get("note", "")),
                created_by="workflow",
                created_at=now,
            )
            if window.ends_at <= window.starts_at:
                raise ValueError("the window must end after it starts")
            names = {window.username, window.delegate}
            found = set(
                session.scalars(
                    select(User.username).where(User.username.in_(names), User.is_active)
                )
            )
            if found != names:
                raise ValueError(f"no active user {', '.join(sorted(names - found))}")
        except (KeyError, ValueError, TypeError) as exc:
            return HttpFailed(payload["request_id"], f"cannot set out of office: {exc}", 422)
        session.add(window)
        session.flush()
        return HttpResult(payload["request_id"], 201, {"id": window.id, "user": window.username})

    _answer(worker, row_id, instance_id, None, now=now, act=act)


def _retry_or_fail(
    worker: Worker,
    row_id: int,
    instance_id: str,
    payload: dict[str, Any],
    attempts: int,
    error: str,
    *,
    now: datetime,
) -> None:
    if attempts < int(payload.get("attempts", 3)):
        backoff = parse_duration(payload.get("backoff", "PT10S")).time * (2 ** (attempts - 1))
        with worker.sessionmaker() as session:
            row = session.get(Outbox, row_id)
            if row is not None:
                row.next_attempt_at = now + backoff
                row.last_error = error
                session.commit()
        return
    _answer(worker, row_id, instance_id, HttpFailed(payload["request_id"], error), now=now)


def _notify(worker: Worker, row_id: int, payload: dict[str, Any], *, now: datetime) -> None:
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is None:
            return
        context = _context(worker, row, payload.get("data", {}))
    to = render(payload["to"], context)
    subject = render(payload.get("subject") or "", context)
    text = render(payload.get("body") or "", context)
    extra = worker.settings.extra
    channel = payload["channel"]
    if channel == "inbox":
        with worker.sessionmaker() as session:
            row = session.get(Outbox, row_id)
            if row is not None and row.status != "done":
                deliver_inbox(
                    session, {**payload, "to": to, "subject": subject, "body": text}, now=now
                )
                row.status, row.done_at = "done", now
                session.commit()
    elif channel == "email" and extra.get("smtp_host"):
        message = EmailMessage()
        message["From"] = extra.get("mail_from", "stepwise@localhost")
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        with smtplib.SMTP(
            extra["smtp_host"], int(extra.get("smtp_port", "25")), timeout=10
        ) as smtp:
            smtp.send_message(message)
        _finish_row(worker, row_id, "done", None, now=now)
    elif channel in ("sms", "webhook") and extra.get(f"{channel}_url"):
        response = worker.client.post(
            extra[f"{channel}_url"], json={"to": to, "subject": subject, "body": text}
        )
        response.raise_for_status()
        _finish_row(worker, row_id, "done", None, now=now)
    else:
        _finish_row(worker, row_id, "skipped", f"no {channel} channel is configured", now=now)


def _start_child(worker: Worker, row_id: int, payload: dict[str, Any], *, now: datetime) -> None:
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is None or row.status == "done":
            return
        runner.start_instance(
            session,
            cache=worker.cache,
            workflow_key=payload["workflow"],
            data=payload.get("input", {}),
            actor="worker",
            now=now,
            parent_id=row.instance_id,
            parent_request=payload["request_id"],
        )
        row.status, row.done_at = "done", now
        session.commit()


def _child_finished(worker: Worker, row_id: int, payload: dict[str, Any], *, now: datetime) -> None:
    with worker.sessionmaker() as session:
        from app.db.models import Instance

        child = session.get(Instance, payload["child_id"])
        data = child.state.get("data", {}) if child else {}
    command = SubworkflowFinished(payload["request_id"], payload["outcome"], data)
    _answer(worker, row_id, payload["parent_id"], command, now=now)


def tick(worker: Worker, *, now: datetime | None = None) -> tuple[int, int]:
    """One round of work: due timers, then the outbox. The scheduler calls this; tests too."""
    if worker.clock is not None:
        clock.use(worker.clock)
    now = now or clock.now()
    with worker.sessionmaker() as session:
        if sweep_windows(session, now=now):
            session.commit()
    return fire_due_timers(worker, now=now), deliver_outbox(worker, now=now)
