"""Outgoing events, delivered to the endpoints admins register, the Standard Webhooks way.

An event (``instance.started``, ``instance.stage_changed``, ``instance.completed``,
``instance.cancelled``, ``instance.rejected``, ``task.created``, ``task.overdue``) is written to the outbox by ``emit``, in the transaction
of the change that caused it, one row per subscribed endpoint: if the change rolls back, so
does the event, and once it commits the event is sent at least once.

Each delivery is a ``POST`` of ``{"type", "timestamp", "data"}`` with the headers of
https://www.standardwebhooks.com:

| header | value |
|---|---|
| ``webhook-id`` | the event's id (``msg_…``), the same on every attempt and for every endpoint: receivers deduplicate by it |
| ``webhook-timestamp`` | unix seconds of this attempt |
| ``webhook-signature`` | ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed with the base64-decoded part of the endpoint's ``whsec_`` secret; while a rotated secret is still valid, one signature per secret, space-separated |

A 2xx answer is a delivery. 410 Gone disables the endpoint (its other queued events are
skipped). Anything else (another status, a timeout, a refused connection) is tried again
after 30 s, doubling up to 6 h between attempts, 12 attempts in all (about 14 hours).

Who subscribes is read once a second per process, not in every transaction (that query,
and the early flush it forced, cost every step of every instance several per cent of its
time even with no endpoint at all): a change to an endpoint counts at once on the node that
made it (its commit drops the list) and within ``SUBSCRIBERS_TTL_S`` on the others.

Rejected: one outbox row per event fanned out at send time (an endpoint registered between
the event and its delivery would get events from before it existed, and one slow endpoint
would hold up the others' retries); a query per transaction (see above).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random_secrets
import threading
import time
import weakref
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db.models import EventEndpoint, Instance, Outbox, Task, new_id
from app.services import egress
from app.services.records import audit

if TYPE_CHECKING:
    from app.services.outbox import Worker

EVENT_TYPES = (
    "instance.started",
    "instance.stage_changed",
    "instance.completed",
    "instance.cancelled",
    "instance.rejected",
    "task.created",
    "task.overdue",
)
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks marker, not a secret
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=6)
MAX_ATTEMPTS = 12
TIMEOUT_S = 10.0
SUBSCRIBERS_TTL_S = 1.0
"""How long a process keeps the list of enabled endpoints before reading it again."""
_CHANGED = "stepwise.event_endpoints_changed"
"""``session.info`` key: this transaction changed an endpoint (its commit drops the list)."""


def new_secret() -> str:
    """``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def signature(secret: str, event_id: str, timestamp: str, body: str) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{event_id}.{timestamp}.{body}``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{event_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signing_secrets(endpoint: EventEndpoint, *, now: datetime) -> list[str]:
    """The current secret, and the previous one while it is still valid."""
    keys = [endpoint.secret]
    expires = endpoint.previous_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        keys.append(endpoint.previous_secret)
    return keys


# --- writing events -------------------------------------------------------------------------


def emit(
    session: Session,
    event_type: str,
    *,
    now: datetime,
    instance_id: str | None,
    data: dict[str, Any],
) -> int:
    """Queue ``event_type`` for every enabled endpoint that wants it, in the caller's
    transaction. Returns how many deliveries were queued."""
    wanted = [ep for ep, types in _subscribers(session) if event_type in types]
    if not wanted:
        return 0
    event_id = f"msg_{new_id()}"
    body = json.dumps(
        {"type": event_type, "timestamp": now.isoformat(), "data": data},
        separators=(",", ":"),
        default=str,
    )
    for endpoint_id in wanted:
        session.add(
            Outbox(
                instance_id=instance_id,
                kind="deliver_event",
                idempotency_key=f"{event_id}:{endpoint_id}",
                payload={
                    "endpoint_id": endpoint_id,
                    "event_id": event_id,
                    "type": event_type,
                    "body": body,
                },
                next_attempt_at=now,
                created_at=now,
            )
        )
    return len(wanted)


Subscribers = list[tuple[str, frozenset[str]]]


class _SubscriberCache:
    """The enabled endpoints and their event types, per database, kept ``SUBSCRIBERS_TTL_S``."""

    def __init__(self) -> None:
        self._lists: weakref.WeakKeyDictionary[Engine, tuple[float, Subscribers]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self, session: Session) -> Subscribers:
        engine = _engine_of(session)
        if session.info.get(_CHANGED):  # this transaction's own changes count at once
            return self._read(session)
        now = time.monotonic()
        found = self._lists.get(engine)
        if found is not None and found[0] > now:
            return found[1]
        subscribers = self._read(session)
        with self._lock:
            self._lists[engine] = (now + SUBSCRIBERS_TTL_S, subscribers)
        return subscribers

    def forget(self, engine: Engine) -> None:
        with self._lock:
            self._lists.pop(engine, None)

    @staticmethod
    def _read(session: Session) -> Subscribers:
        with session.no_autoflush:  # a read of configuration: nothing pending bears on it
            rows = session.execute(
                select(EventEndpoint.id, EventEndpoint.event_types).where(EventEndpoint.enabled)
            )
            return [(ep_id, frozenset(str(t) for t in types)) for ep_id, types in rows]


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


_subscriber_cache = _SubscriberCache()


def _subscribers(session: Session) -> Subscribers:
    return _subscriber_cache.get(session)


def forget_subscribers(session: Session) -> None:
    """Endpoints changed in this session's transaction: read them afresh until it ends, and
    drop the process's list when it commits (see the listeners below)."""
    session.info[_CHANGED] = True


@event.listens_for(EventEndpoint, "after_insert")
@event.listens_for(EventEndpoint, "after_update")
@event.listens_for(EventEndpoint, "after_delete")
def _endpoint_written(mapper: Any, connection: Any, target: EventEndpoint) -> None:
    session = Session.object_session(target)
    if session is not None:
        forget_subscribers(session)


@event.listens_for(Session, "after_commit")
def _drop_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, None):
        _subscriber_cache.forget(_engine_of(session))


def instance_summary(instance: Instance, **changes: Any) -> dict[str, Any]:
    """What events say about an instance (its data stays in Stepwise)."""
    return {
        "id": instance.id,
        "workflow": instance.workflow_key,
        "version": instance.workflow_version,
        "business_key": instance.business_key,
        "status": instance.status,
        "stage": instance.stage,
        "started_by": instance.started_by,
        "started_at": instance.started_at.isoformat() if instance.started_at else None,
        **changes,
    }


def task_summary(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        "workflow": task.workflow_key,
        "node": task.node,
        "name": task.name,
        "assignee": task.assignee,
        "candidate_users": list(task.candidate_users),
        "candidate_roles": list(task.candidate_roles),
        "priority": task.priority,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "created_at": task.created_at.isoformat() if task.created_at else None,
    }


# --- delivering them ------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    wait: timedelta = RETRY_BASE * 2 ** min(max(attempts - 1, 0), 30)
    return min(wait, RETRY_MAX)


def deliver(
    worker: Worker, row_id: int, payload: dict[str, Any], attempts: int, *, now: datetime
) -> None:
    """Send one queued event to its endpoint (an outbox row of kind ``deliver_event``)."""
    with worker.sessionmaker() as session:  # read, then let go: the send holds no transaction
        endpoint = session.get(EventEndpoint, payload["endpoint_id"])
        if endpoint is None or not endpoint.enabled:
            why = "the endpoint was deleted" if endpoint is None else "the endpoint is disabled"
            url = None
        else:
            url, keys = endpoint.url, signing_secrets(endpoint, now=now)
    if url is None:
        _finish(worker, row_id, "skipped", why, now=now)
        return
    body: str = payload["body"]
    timestamp = str(int(now.timestamp()))
    headers = {
        "content-type": "application/json",
        "user-agent": "Stepwise-Webhooks/1",
        "webhook-id": payload["event_id"],
        "webhook-timestamp": timestamp,
        "webhook-signature": " ".join(
            signature(key, payload["event_id"], timestamp, body) for key in keys
        ),
    }
    try:
        response = egress.send(
            worker.client,
            "POST",
            url,
            allow=egress.AllowList.parse(worker.settings.http_allow),
            content=body.encode(),
            headers=headers,
            deadline_s=TIMEOUT_S,
            max_bytes=64 * 1024,
        )
    except (egress.EgressRefused, egress.ResponseTooLarge) as exc:
        _finish(worker, row_id, "failed", str(exc), now=now)
        return
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        _again(worker, row_id, attempts, f"{type(exc).__name__}: {exc}", now=now)
        return
    if response.is_success:
        _finish(worker, row_id, "done", None, now=now)
    elif response.status_code == 410:
        _gone(worker, row_id, payload["endpoint_id"], now=now)
    else:
        _again(worker, row_id, attempts, f"HTTP {response.status_code}", now=now)


def _again(worker: Worker, row_id: int, attempts: int, error: str, *, now: datetime) -> None:
    if attempts >= MAX_ATTEMPTS:
        _finish(worker, row_id, "failed", f"gave up after {attempts} attempts: {error}", now=now)
        return
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is not None and row.status == "pending":
            row.next_attempt_at = now + backoff(attempts)
            row.last_error = error[:2000]
            session.commit()


def _gone(worker: Worker, row_id: int, endpoint_id: str, *, now: datetime) -> None:
    with worker.sessionmaker() as session:
        endpoint = session.get(EventEndpoint, endpoint_id)
        if endpoint is not None and endpoint.enabled:
            endpoint.enabled = False
            endpoint.disabled_reason = f"answered 410 Gone at {now.isoformat()}"
            endpoint.updated_at = now
            audit(session, "event_endpoint.disabled", actor="worker", now=now, endpoint=endpoint_id)
        row = session.get(Outbox, row_id)
        if row is not None:
            row.status, row.last_error = "failed", "HTTP 410: the endpoint is gone; disabled"
        session.commit()


def _finish(worker: Worker, row_id: int, status: str, error: str | None, *, now: datetime) -> None:
    with worker.sessionmaker() as session:
        row = session.get(Outbox, row_id)
        if row is not None:
            row.status, row.last_error = status, error
            row.done_at = now if status == "done" else None
            session.commit()
