"""The workers: due timers become engine commands; outbox rows leave as HTTP calls,
notifications and child workflows, and their answers come back as commands.

A row is claimed by pushing its ``next_attempt_at`` a lease ahead (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so several processes share the work); the call is
made outside any transaction; the answer is recorded in a new one. A crash
between the two leaves the row to be claimed again when the lease runs out: at
least once, with the row's idempotency key sent along for receivers to
deduplicate.

Due timers are claimed a batch at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)
and fired in the transaction that claimed them, so a crash before its commit leaves
them pending for the next worker: each fires once.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from jinja2 import TemplateError
from sqlalchemy import delete, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from app import clock
from app.clock import Clock
from app.db.models import (
    AuditEvent,
    Instance,
    MessageWait,
    Outbox,
    OutOfOffice,
    Task,
    Timer,
    User,
)
from app.errors import ApiError
from app.services import actionlinks, channels, egress, events, mailhtml, notices, runner, tracking
from app.services.people import deliver_inbox, sweep_windows
from app.services.records import audit
from app.services.runner import DefinitionCache, lock_instance
from app.services.schedules import start_due_runs
from app.services.templates import render
from app.settings import Settings
from engine import (
    CommandError,
    FireTimer,
    HttpFailed,
    HttpResult,
    SubworkflowFinished,
    parse_duration,
)
from engine.model import MAX_HTTP_TIMEOUT_S

log = logging.getLogger("stepwise.worker")
LEASE = timedelta(seconds=60)
"""A claimed row is left alone this long: longer than any call may take (MAX_HTTP_TIMEOUT_S)."""
MAX_ROW_ATTEMPTS = 5
"""Tries of a row that fails for a reason other than its call (a bug, a URL httpx cannot
read, the database going away); then ``_give_up``."""


@dataclass
class Worker:
    """What the workers need; one per app process."""

    sessionmaker: sessionmaker[Session]
    cache: DefinitionCache
    settings: Settings
    client: httpx.Client
    clock: Clock | None = None


_OFF = ("0", "false", "no", "off")


def _context(
    worker: Worker, row: Outbox, data: dict[str, Any], session: Session | None = None
) -> dict[str, Any]:
    """What templates see: the instance data, ``settings``, and ``instance``: its ``id`` and,
    given a ``session`` to read it with, who started it and where it is (``started_by``,
    ``started_at``, ``workflow_key``, ``business_key``, ``stage``, ``status``)."""
    about: dict[str, Any] = {"id": row.instance_id}
    if session is not None and row.instance_id:
        names = ("started_by", "started_at", "workflow_key", "business_key", "stage", "status")
        found = session.execute(  # the columns only: not the instance's state
            select(*(getattr(Instance, name) for name in names)).where(
                Instance.id == row.instance_id
            )
        ).first()
        if found is not None:
            about |= dict(zip(names, found, strict=True))
            about["started_at"] = about["started_at"].isoformat()
    context = {**data, "instance": about, "settings": dict(worker.settings.extra)}
    public = worker.settings.extra.get("public_url", "").rstrip("/")
    link = context.get("tracking_url")
    if public and isinstance(link, str) and link.startswith("/"):
        context["tracking_url"] = public + link  # a link a customer can open from an email
    return context


def _locking(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


TIMER_BATCH = 100
"""Due timers claimed, fired and committed together."""
TICK_BUDGET_S = 2.0
"""How long one tick keeps firing batches while they come back full."""
SUSPENDED_DELAY = timedelta(minutes=1)
"""A suspended instance's due timers are looked at again this much later (they fire on resume)."""
TIMER_RETRY = timedelta(seconds=30)
"""A timer whose firing failed is due again this much later, doubling with every attempt ..."""
TIMER_RETRY_MAX = timedelta(hours=1)
"""... up to this much ..."""
TIMER_MAX_ATTEMPTS = 8
"""... and after this many failed attempts it is left ``failed`` (each one is audited)."""


def fire_due_timers(
    worker: Worker,
    *,
    now: datetime,
    limit: int | None = None,
    budget_s: float | None = None,
    batch_size: int = TIMER_BATCH,
) -> int:
    """Fire the timers due by ``now``, ``batch_size`` a transaction, until a batch comes back
    short (or ``limit`` timers were handled, or ``budget_s`` seconds have passed).

    Returns how many timers were handled: fired; fired without a step because their
    instance had finished; put off a minute because their instance is suspended; or put off
    because firing failed. A timer whose instance another transaction holds is left for
    the next batch.
    """
    handled = 0
    started = time.monotonic()
    while limit is None or handled < limit:
        size = batch_size if limit is None else min(batch_size, limit - handled)
        claimed, done = _fire_batch(worker, now=now, size=size)
        handled += done
        if claimed < size or done == 0:
            break
        if budget_s is not None and time.monotonic() - started >= budget_s:
            break
    return handled


def _fire_batch(worker: Worker, *, now: datetime, size: int) -> tuple[int, int]:
    """One batch, one transaction. Returns (timers claimed, timers handled).

    First every instance in one go, with one flush at the commit. If anything in it fails,
    the transaction is rolled back and the same timers are claimed again and fired with a
    savepoint per instance, so that a bad instance puts off only its own timer."""
    with worker.sessionmaker() as session:
        timers = _claim_timers(session, now=now, size=size)
        if not timers:
            return 0, 0
        ids = [timer.id for timer in timers]
        try:
            handled = _fire_claimed(session, worker, timers, now=now, careful=False)
            session.commit()
            return len(ids), handled
        except Exception as exc:
            session.rollback()
            log.warning(
                "a batch of %d timers failed (%s: %s); firing it one instance at a time",
                len(ids),
                type(exc).__name__,
                exc,
            )
    with worker.sessionmaker() as session:
        timers = _claim_timers(session, now=now, size=len(ids), ids=ids)
        handled = _fire_claimed(session, worker, timers, now=now, careful=True) if timers else 0
        session.commit()
    return len(ids), handled


def _claim_timers(
    session: Session, *, now: datetime, size: int, ids: list[str] | None = None
) -> list[Timer]:
    """The next due timers, locked (``SKIP LOCKED``: other workers take the next ones). On
    SQLite the session's write transaction (``BEGIN IMMEDIATE``) already excludes them."""
    query = select(Timer).where(Timer.status == "pending", Timer.due_at <= now)
    if ids is not None:
        query = query.where(Timer.id.in_(ids))
    query = query.order_by(Timer.due_at).limit(size)
    if _locking(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _fire_claimed(
    session: Session, worker: Worker, timers: list[Timer], *, now: datetime, careful: bool
) -> int:
    """Lock the timers' instances in one statement (in id order, skipping those another
    transaction holds) and fire each instance's timers in due order. Returns timers handled."""
    by_instance: dict[str, list[Timer]] = {}
    for timer in timers:  # in due order: instances go by their first due timer
        by_instance.setdefault(timer.instance_id, []).append(timer)
    query = select(Instance).where(Instance.id.in_(list(by_instance))).order_by(Instance.id)
    if _locking(session):
        # never wait for an instance while holding timer rows: its holder may be waiting for
        # one of them (firing a timer cancels its siblings); its timers are left for later
        query = query.with_for_update(skip_locked=True)
    instances = {instance.id: instance for instance in session.scalars(query)}
    fired: list[Timer] = []
    handled = 0
    if careful:
        for instance_id, queue in by_instance.items():
            if instance_id in instances:
                handled += _fire_instance_safely(
                    session, worker, instances[instance_id], queue, now=now, fired=fired
                )
    else:
        finished: list[str] = []
        session.info[runner.BATCH] = finished
        try:
            for instance_id, queue in by_instance.items():
                if instance_id in instances:
                    handled += _fire_instance(
                        session, worker, instances[instance_id], queue, now=now, fired=fired
                    )
        finally:
            del session.info[runner.BATCH]
        if finished:
            session.execute(delete(MessageWait).where(MessageWait.instance_id.in_(finished)))
    _mark_fired(session, fired, now=now)
    return handled


def _fire_instance(
    session: Session,
    worker: Worker,
    instance: Instance,
    queue: list[Timer],
    *,
    now: datetime,
    fired: list[Timer],
    current: list[Timer] | None = None,
) -> int:
    """Fire one locked instance's claimed timers in due order; ``fired`` collects them (and
    ``current`` the one being fired). Returns how many were handled."""
    if instance.suspended:
        for timer in queue:
            timer.due_at = now + SUSPENDED_DELAY  # fires on resume
        return len(queue)
    pending = sorted(queue, key=lambda timer: timer.due_at)
    handled = 0
    while pending:
        timer = pending.pop(0)
        if timer.status != "pending":  # cancelled by firing an earlier one of this batch
            continue
        if current is not None:
            current.append(timer)
        fired.append(timer)
        handled += 1
        if instance.status != "running":
            continue  # late news for a finished instance: marked fired, nothing to step
        before = set(instance.state.get("timers", {}))
        runner.run_command(
            session,
            cache=worker.cache,
            instance=instance,
            command=FireTimer(timer.engine_id),
            actor="scheduler",
            now=now,
        )
        chained = _new_due_timers(session, instance, before, now=now)
        if chained:  # scheduled by this firing and already due: they fire in turn
            pending = sorted([*pending, *chained], key=lambda timer: timer.due_at)
    return handled


def _new_due_timers(
    session: Session, instance: Instance, before: set[str], *, now: datetime
) -> list[Timer]:
    """Timers the last step scheduled that are due by ``now`` already (zero durations, dates
    in the past); rare, so found with a query."""
    due = [
        engine_id
        for engine_id, timer in instance.state.get("timers", {}).items()
        if engine_id not in before and datetime.fromisoformat(timer["at"]) <= now
    ]
    if not due:
        return []
    query = select(Timer).where(
        Timer.instance_id == instance.id, Timer.engine_id.in_(due), Timer.status == "pending"
    )
    return list(session.scalars(query))


def _fire_instance_safely(
    session: Session,
    worker: Worker,
    instance: Instance,
    queue: list[Timer],
    *,
    now: datetime,
    fired: list[Timer],
) -> int:
    """``_fire_instance`` in a savepoint. When a firing fails, the savepoint is rolled back,
    that timer is put off (``_timer_failed``) and the instance's other timers are fired
    again without it."""
    remaining = list(queue)
    handled = 0
    while remaining:
        done: list[Timer] = []
        current: list[Timer] = []
        try:
            with session.begin_nested():
                count = _fire_instance(
                    session, worker, instance, remaining, now=now, fired=done, current=current
                )
        except Exception as exc:
            failed = current[-1] if current else remaining[0]
            log.exception("firing timer %s of instance %s failed", failed.id, instance.id)
            session.expire(instance)  # reloaded as the savepoint left it (still locked)
            for timer in remaining:
                session.expire(timer)
            _timer_failed(session, failed, exc, now=now)
            remaining.remove(failed)
            handled += 1
            continue
        fired.extend(done)
        return handled + count
    return handled


def _timer_failed(session: Session, timer: Timer, exc: Exception, *, now: datetime) -> None:
    """Put a timer whose firing failed off, longer each attempt; give up after
    ``TIMER_MAX_ATTEMPTS``. Every failure is an audit event, which is where attempts are
    counted."""
    details = session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.instance_id == timer.instance_id, AuditEvent.action == "timer.failed"
        )
    )
    attempt = 1 + sum(1 for earlier in details if earlier.get("timer") == timer.id)
    retry_at: datetime | None = None
    if attempt >= TIMER_MAX_ATTEMPTS:
        timer.status = "failed"
        log.error("timer %s failed %d times; giving up on it", timer.id, attempt)
    else:
        retry_at = now + min(TIMER_RETRY * 2 ** (attempt - 1), TIMER_RETRY_MAX)
        timer.due_at = retry_at
    audit(
        session,
        "timer.failed",
        actor="scheduler",
        instance_id=timer.instance_id,
        now=now,
        timer=timer.id,
        engine_id=timer.engine_id,
        attempt=attempt,
        error=f"{type(exc).__name__}: {exc}"[:1000],
        retry_at=retry_at.isoformat() if retry_at else None,
    )


def _mark_fired(session: Session, fired: list[Timer], *, now: datetime) -> None:
    """One UPDATE for the batch's stored timers (kept in step in the session, not re-read);
    timers created in this transaction and not flushed yet are inserted as fired."""
    stored: list[Timer] = []
    for timer in fired:
        if inspect(timer).pending:
            timer.status, timer.fired_at = "fired", now
        else:
            stored.append(timer)
    if not stored:
        return
    session.execute(
        update(Timer)
        .where(Timer.id.in_([timer.id for timer in stored]))
        .values(status="fired", fired_at=now),
        execution_options={"synchronize_session": False},
    )
    for timer in stored:
        set_committed_value(timer, "status", "fired")
        set_committed_value(timer, "fired_at", now)


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
            if "answer" in payload:  # answered while its instance was suspended: deliver it now
                target = payload.get("parent_id") or _row_instance(worker, row_id)
                _answer(worker, row_id, target, _kept(payload["answer"]), now=now)
            elif kind == "call_http":
                _http(worker, row_id, payload, attempts, now=now)
            elif kind == "send_notification":
                _notify(worker, row_id, payload, attempts, now=now)
            elif kind == "deliver_event":
                events.deliver(worker, row_id, payload, attempts, now=now)
            elif kind == "start_subworkflow":
                _start_child(worker, row_id, payload, now=now)
            elif kind == "subworkflow_finished":
                _child_finished(worker, row_id, payload, now=now)
            else:
                _finish_row(worker, row_id, "failed", f"unknown outbox kind {kind}", now=now)
        except Exception as exc:  # one bad row must not stop the others
            log.exception("outbox row %s failed", row_id)
            if attempts < MAX_ROW_ATTEMPTS:
                _finish_row(worker, row_id, "pending", repr(exc), now=now)
            else:
                _give_up(
                    worker,
                    row_id,
                    kind,
                    payload,
                    f"gave up after {attempts} attempts: {exc!r}",
                    now=now,
                )
        handled += 1
    return handled


def _give_up(
    worker: Worker, row_id: int, kind: str, payload: dict[str, Any], error: str, *, now: datetime
) -> None:
    """The row is over: the step waiting for it is answered with the failure (its error
    path, else an incident) rather than left waiting for ever."""
    command: Any = None
    if kind == "call_http":
        command = HttpFailed(payload.get("request_id", ""), error=error[:2000])
    elif kind == "start_subworkflow":
        command = SubworkflowFinished(payload.get("request_id", ""), "failed", {})
    if command is None:
        _finish_row(worker, row_id, "failed", error[:2000], now=now)
        return
    _note_error(worker, row_id, error)
    try:  # done, or kept with its answer while the instance is suspended
        _answer(worker, row_id, _row_instance(worker, row_id), command, now=now)
    except Exception:
        log.exception("answering the instance of outbox row %s failed", row_id)
        _finish_row(worker, row_id, "failed", error[:2000], now=now)


def _note_error(worker: Worker, row_id: int, error: str) -> None:
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is not None:
            row.last_error = error[:2000]
            session.commit()


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
        if instance.suspended and instance.status == "running":
            # keep the answer until the instance is resumed (an action is done later instead)
            if act is None:
                row.payload = {**row.payload, "answer": _keep(command)}
            row.next_attempt_at = now + SUSPENDED_RETRY
            session.commit()
            return
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


SUSPENDED_RETRY = timedelta(minutes=1)


def _row_instance(worker: Worker, row_id: int) -> str:
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        return row.instance_id or "" if row is not None else ""


_ANSWERS: dict[str, Any] = {
    "HttpResult": HttpResult,
    "HttpFailed": HttpFailed,
    "SubworkflowFinished": SubworkflowFinished,
}


def _keep(command: Any) -> dict[str, Any]:
    return {"type": type(command).__name__, "fields": dataclasses.asdict(command)}


def _kept(answer: dict[str, Any]) -> Any:
    return _ANSWERS[answer["type"]](**answer["fields"])


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
        context = _context(worker, row, payload.get("data", {}), session)
        idempotency_key = row.idempotency_key
    request = payload["request"]
    if str(request["url"]).startswith("stepwise:"):
        _internal(worker, row_id, instance_id, payload, context, now=now)
        return
    try:
        url = render(request["url"], context)
        headers = {"Idempotency-Key": idempotency_key, **_headers(worker, payload, context)}
        body = render(request.get("body"), context)
        response = egress.send(
            worker.client,
            request.get("method", "POST"),
            url,
            allow=egress.AllowList.parse(worker.settings.http_allow),
            headers=headers,
            json=body if request.get("method", "POST") != "GET" else None,
            deadline_s=min(float(request.get("timeout_s", 10)), MAX_HTTP_TIMEOUT_S),
            max_bytes=worker.settings.http_max_response_bytes,
        )
    except (egress.EgressRefused, egress.ResponseTooLarge) as exc:  # trying again cannot help
        _answer(worker, row_id, instance_id, HttpFailed(payload["request_id"], str(exc)), now=now)
        return
    except TemplateError as exc:
        # refused, or {{ shipment.id }} without a shipment: no better the next time
        error = f"the request does not render: {type(exc).__name__}: {exc}"
        _answer(worker, row_id, instance_id, HttpFailed(payload["request_id"], error), now=now)
        return
    except (httpx.HTTPError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        _retry_or_fail(worker, row_id, instance_id, payload, attempts, error, now=now)
        return
    if response.status_code >= 500 or response.status_code == 429:
        _retry_or_fail(
            worker,
            row_id,
            instance_id,
            payload,
            attempts,
            f"HTTP {response.status_code}",
            now=now,
            wait_s=egress.retry_after(response.headers),
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


def _headers(worker: Worker, payload: dict[str, Any], context: dict[str, Any]) -> dict[str, str]:
    """The request's headers. The secret the step names (from the server's store, never from the
    definition) is ``{{ secret }}`` in header templates only; when none uses it, it is sent as
    ``Authorization: Bearer <secret>``."""
    templates: dict[str, str] = payload["request"].get("headers", {})
    name = payload.get("secret")
    if not name:
        return dict(render(templates, context))
    value = channels.secret(worker.settings, name)
    if value is None:
        raise egress.EgressRefused(f"the secret {name!r} is not set on the server")
    headers = dict(render(templates, {**context, "secret": value}))
    if not any("secret" in template for template in templates.values()):
        headers["Authorization"] = f"Bearer {value}"
    return headers


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
    wait_s: float | None = None,
) -> None:
    """Try again later (exponential backoff with jitter, or as long as the server's Retry-After
    asks, up to an hour), or fail after the last attempt."""
    if attempts < int(payload.get("attempts", 3)):
        backoff = parse_duration(payload.get("backoff", "PT10S")).clock_time * (2 ** (attempts - 1))
        backoff *= 1 + random.random() * 0.25  # noqa: S311 - jitter, not a secret
        if wait_s is not None:
            backoff = max(backoff, timedelta(seconds=min(wait_s, 3600)))
        with worker.sessionmaker() as session:
            row = session.get(Outbox, row_id)
            if row is not None:
                row.next_attempt_at = now + backoff
                row.last_error = error
                session.commit()
        return
    _answer(worker, row_id, instance_id, HttpFailed(payload["request_id"], error), now=now)


def _notify(
    worker: Worker, row_id: int, payload: dict[str, Any], attempts: int, *, now: datetime
) -> None:
    """Render a notification and send it by its channel (``app/services/channels.py``). A
    template that does not render, a refusal, or the last failed attempt is an incident on the
    instance; the instance itself never waits for a notification."""
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is None:
            return
        # the service's own text is final, not a template: nothing to look up for it
        literal = bool(payload.get("literal"))
        context = _context(worker, row, payload.get("data", {}), None if literal else session)
        key = row.idempotency_key
        to = str(payload.get("to", ""))
        # a task notice is for one person (``person``), whatever address it goes to
        person = payload.get("person") or (
            to.removeprefix("user:") if to.startswith("user:") else None
        )
        if payload.get("person") and not literal:
            context["person"] = notices.person(session, str(payload["person"]))
        stored_brand = tracking.stored_brand(session) if payload.get("channel") == "email" else None
        task_id = payload.get("task_id")
        public = worker.settings.extra.get("public_url", "").rstrip("/")
        task_url = f"{public}/tasks/{task_id}" if task_id else None
        task = session.get(Task, task_id) if task_id and not literal else None
        if task is not None:
            # {{ task.links.approve }}: signed, single-use action links
            context["task"] = actionlinks.task_context(session, task, now, user=person)
            context["task"]["url"] = task_url
            session.commit()  # the links' rows
    channel = str(payload["channel"])
    # the service's own notifications are final text (they quote what people typed); only a
    # workflow's notify step has templates
    shown = (lambda value, _: value) if literal else render
    try:
        to = str(shown(payload["to"], context))
        subject = str(shown(payload.get("subject") or "", context))
        text = str(shown(payload.get("body") or "", context))
    except TemplateError as exc:
        error = f"the {channel} notification does not render: {type(exc).__name__}: {exc}"
        _notification_failed(worker, row_id, payload, "notification_template", error, now=now)
        return
    if payload.get("link"):  # the service's own email about a task (``notices.tell``)
        if worker.settings.extra.get("task_emails", "1").strip().lower() in _OFF:
            _finish_row(worker, row_id, "skipped", "task emails are off (task_emails)", now=now)
            return
        if task_url is not None:
            text = f"{text}\n\nOpen the task: {task_url}" if text else f"Open the task: {task_url}"
    if channel in ("email", "sms") and to.startswith("user:"):  # the person's own address
        username = to.removeprefix("user:")
        with worker.sessionmaker() as session:
            found = notices.address(session, username, channel)
        if found is None:
            what = "email address" if channel == "email" else "phone number"
            _finish_row(worker, row_id, "skipped", f"{username} has no {what}", now=now)
            return
        to = found
    if channel == "inbox":
        with worker.sessionmaker() as session:
            row = session.get(Outbox, row_id)
            if row is not None and row.status != "done":
                deliver_inbox(
                    session, {**payload, "to": to, "subject": subject, "body": text}, now=now
                )
                row.status, row.done_at = "done", now
                session.commit()
        return
    html = None
    extra = worker.settings.extra
    if stored_brand is not None and extra.get("email_html", "1").strip().lower() not in _OFF:
        brand = tracking.brand(worker.settings, stored_brand)
        html = mailhtml.render(text, brand, public_url=extra.get("public_url", ""))
    message = channels.Message(
        channel=channel, to=to, subject=subject, body=text, key=key, html=html
    )
    try:
        channels.send(message, settings=worker.settings, client=worker.client, now=now)
    except channels.NotConfigured as exc:
        _finish_row(worker, row_id, "skipped", str(exc), now=now)
    except channels.Refused as exc:
        code = "notification_refused"
        _notification_failed(worker, row_id, payload, code, str(exc), now=now, sent=exc.delivered)
    except channels.Transient as exc:
        if attempts >= channels.MAX_ATTEMPTS:
            error = f"gave up after {attempts} attempts: {exc}"
            _notification_failed(worker, row_id, payload, "notification_failed", error, now=now)
            return
        with worker.sessionmaker() as session:
            row = session.get(Outbox, row_id)
            if row is not None and row.status == "pending":
                row.next_attempt_at = now + channels.backoff(attempts)
                row.last_error = str(exc)[:2000]
                session.commit()
    else:
        _finish_row(worker, row_id, "done", None, now=now)


def _notification_failed(
    worker: Worker,
    row_id: int,
    payload: dict[str, Any],
    code: str,
    error: str,
    *,
    now: datetime,
    sent: bool = False,
) -> None:
    """The row is over (``failed``, or ``done`` when part of it went out) and its instance
    gets an incident saying why, in one transaction."""
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is None or row.status != "pending":
            return
        row.status, row.last_error = ("done" if sent else "failed"), error[:2000]
        row.done_at = now if sent else None
        if row.instance_id is not None:
            channels.raise_incident(
                session,
                instance_id=row.instance_id,
                engine_id=f"outbox:{row_id}",
                node=str(payload.get("node") or "notification"),
                code=code,
                message=error,
                details={"channel": payload.get("channel"), "outbox_id": row_id},
                now=now,
            )
        session.commit()


def _start_child(worker: Worker, row_id: int, payload: dict[str, Any], *, now: datetime) -> None:
    """Start the child instance. One that cannot start (no such workflow, not published, its
    data schema or start form refuses the input) will not start on a retry either: the
    parent's step fails at once, with the reason in its audit log and on the row."""
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is None or row.status == "done":
            return
        parent = row.instance_id
        try:
            runner.start_instance(
                session,
                cache=worker.cache,
                workflow_key=payload["workflow"],
                data=payload.get("input", {}),
                actor="worker",
                now=now,
                parent_id=parent,
                parent_request=payload["request_id"],
            )
        except (ApiError, CommandError) as exc:
            session.rollback()
            reason = f"{exc.code}: {exc.message}"
        else:
            row.status, row.done_at = "done", now
            session.commit()
            return
    with worker.sessionmaker() as session:
        audit(
            session,
            "subworkflow.not_started",
            actor="worker",
            instance_id=parent,
            now=now,
            workflow=payload["workflow"],
            reason=reason,
        )
        session.commit()
    _note_error(worker, row_id, f"the child could not start: {reason}")
    _answer(
        worker,
        row_id,
        parent or "",
        SubworkflowFinished(payload["request_id"], "failed", {}),
        now=now,
    )


def _child_finished(worker: Worker, row_id: int, payload: dict[str, Any], *, now: datetime) -> None:
    with worker.sessionmaker() as session:
        from app.db.models import Instance

        child = session.get(Instance, payload["child_id"])
        data = child.state.get("data", {}) if child else {}
    command = SubworkflowFinished(payload["request_id"], payload["outcome"], data)
    _answer(worker, row_id, payload["parent_id"], command, now=now)


def _tick_now(worker: Worker, now: datetime | None) -> datetime:
    if worker.clock is not None:
        clock.use(worker.clock)
    return now or clock.now()


def _sweep(worker: Worker, *, now: datetime) -> None:
    """Out-of-office windows that start or end, and workflows started by the clock. A failure
    here is logged and must not hold up the timers and the outbox."""
    try:
        with worker.sessionmaker() as session:
            if sweep_windows(session, now=now):
                session.commit()
    except Exception:
        log.exception("out-of-office sweep failed")
    try:
        start_due_runs(worker.sessionmaker, worker.cache, now=now)
    except Exception:
        log.exception("scheduled starts failed")


def tick(worker: Worker, *, now: datetime | None = None) -> tuple[int, int]:
    """One round of work: out-of-office windows, every due timer (for at most
    ``TICK_BUDGET_S``), then the outbox. Tests and ``stepwise worker`` call this; the
    scheduler runs its two halves as separate jobs (``tick_timers``, ``tick_outbox``)."""
    now = _tick_now(worker, now)
    _sweep(worker, now=now)
    return (
        fire_due_timers(worker, now=now, budget_s=TICK_BUDGET_S),
        deliver_outbox(worker, now=now),
    )


def tick_timers(worker: Worker, *, now: datetime | None = None) -> int:
    """The timer half of ``tick``: every due timer, for at most ``TICK_BUDGET_S``."""
    return fire_due_timers(worker, now=_tick_now(worker, now), budget_s=TICK_BUDGET_S)


def tick_outbox(worker: Worker, *, now: datetime | None = None) -> int:
    """The rest of ``tick``: out-of-office windows, then the outbox."""
    now = _tick_now(worker, now)
    _sweep(worker, now=now)
    return deliver_outbox(worker, now=now)
