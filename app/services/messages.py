"""Messages from outside, matched to the instance waiting for them (a carrier's "delivered"
for a tracking number), delivered once however often they arrive, and held for a while when
they come before anyone waits.

Both doors use this: ``POST /api/messages`` (a system's token) and
``POST /hooks/messages/{name}`` (a signed delivery). Each message is a ``message_deliveries``
row keyed by (message, idempotency key); the key is the sender's ``Idempotency-Key`` or else
derived from the body, so the same message twice finds its row and moves nothing.

A message nobody waits for is refused (404) unless a ``receive`` node for it declares
``keep_early``: then it is held for the longest such window, and handed to the first
instance that starts waiting for it with that correlation value while it is within that
node's own window (``take_held``, called where the runner records a wait). Held messages
past their time are ignored and deleted.

On PostgreSQL a message and a wait for it can cross: the message, finding no committed
wait, is held, while the wait, finding no committed message, is recorded. So each new wait
takes a shared advisory lock on (message, correlation) until its step commits, and a message
that was held looks again after its own commit, under the same lock taken exclusively: it
waits for the steps recording such a wait to commit, then finds them and is delivered at once
(``_deliver_late``); a step that begins after that finds the held message itself. The lock is
never held while waiting for an instance's row lock, so the two cannot deadlock. SQLite runs
one writer at a time, where the two cannot cross.

Rejected: holding early messages in the outbox (they are not side effects leaving the
service, and the worker would have to poll for waits); matching held messages by the raw
correlation value (waits are found by its text, as ``correlation_key`` writes it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import Instance, MessageDelivery, MessageWait, Workflow
from app.errors import ApiError
from app.services import runner
from app.services.records import audit
from app.services.runner import DefinitionCache, correlation_key, lock_instance
from engine import (
    CommandError,
    ExpressionError,
    ReceiveMessage,
    WaitForMessage,
    add_duration,
    compile_expression,
)
from engine.expressions import MissingNameError
from engine.model import ReceiveNode

HELD = "held"
DELIVERED = "delivered"
MAX_KEY = 200
"""Longer idempotency keys are kept as their SHA-256."""


@dataclass(frozen=True)
class Receipt:
    """What became of a message: delivered to ``instance_id``, or held until ``held_until``."""

    delivery_id: str
    instance_id: str | None
    status: str | None
    """The instance's status after the message (None while held)."""
    stage: str | None
    held_until: datetime | None
    duplicate: bool

    @property
    def held(self) -> bool:
        return self.instance_id is None

    def to_json(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "instance_id": self.instance_id,
            "status": self.status,
            "stage": self.stage,
            "held": self.held,
            "held_until": self.held_until.isoformat() if self.held_until else None,
            "duplicate": self.duplicate,
        }


# --- reading deliveries ---------------------------------------------------------------------


def digest(value: Any) -> str:
    """The SHA-256 of a JSON value's canonical text: the same message gives the same digest."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotency_key(given: str | None, fallback: str) -> str:
    """The sender's key when there is one, else ``fallback`` (derived from the body)."""
    key = given or fallback
    return key if len(key) <= MAX_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def delivery_names(
    payload: Any, headers: Mapping[str, str], query: Mapping[str, str]
) -> dict[str, Any]:
    """What mapping expressions see: ``body``, ``headers`` (lower-case names) and ``query``."""
    return {
        "body": payload,
        "headers": {k.lower(): v for k, v in headers.items()},
        "query": dict(query),
    }


def evaluate(label: str, source: str, names: Mapping[str, Any]) -> Any:
    """``source`` over ``names``; 422 ``invalid_payload`` naming ``label`` when it fails."""
    try:
        return compile_expression(source).evaluate(dict(names))
    except MissingNameError as exc:  # what the sender left out, not what the instance lacks
        raise ApiError(
            422,
            "invalid_payload",
            f"{label}: the delivery has no {exc.name!r} (mapping {source!r})",
        ) from None
    except ExpressionError as exc:
        raise ApiError(
            422, "invalid_payload", f"{label}: {exc.message} (mapping {source!r})"
        ) from None


def map_fields(
    mapping: Mapping[str, str], payload: Any, names: Mapping[str, Any]
) -> dict[str, Any]:
    """The data a delivery carries: each field's expression, or without a mapping the body
    itself, which must then be a JSON object."""
    if not mapping:
        if not isinstance(payload, dict):
            raise ApiError(
                422, "invalid_payload", "the body must be a JSON object (or the mapping maps it)"
            )
        return payload
    return {field: evaluate(field, source, names) for field, source in mapping.items()}


# --- delivering -----------------------------------------------------------------------------


def receive(
    session: Session,
    *,
    cache: DefinitionCache,
    message: str,
    correlation: Any,
    data: dict[str, Any],
    key: str,
    body_sha256: str,
    actor: str,
    source: str,
    now: datetime,
) -> Receipt:
    """Deliver ``message`` to the one instance waiting for it with ``correlation``, or hold it
    (``keep_early``), and commit. The same ``key`` again answers what the first delivery did
    (``duplicate``), also when both arrive at the same moment.

    Raises:
        ApiError: 422 ``idempotency_conflict`` (the key with another body), 404
            ``no_waiting_instance`` (nobody waits and nothing keeps it), 409
            ``ambiguous_message`` (several instances wait: it goes to none).
    """
    try:
        receipt = _receive(
            session,
            cache=cache,
            message=message,
            correlation=correlation,
            data=data,
            key=key,
            body_sha256=body_sha256,
            actor=actor,
            source=source,
            now=now,
        )
        session.commit()
    except IntegrityError:  # the same message, arriving at the same moment: the first one won
        session.rollback()
        found = _find(session, message, key)
        if found is None:
            raise
        return _again(session, found, body_sha256)
    if receipt.held and not receipt.duplicate and _crossable(session):
        late = _deliver_late(
            session,
            cache=cache,
            delivery_id=receipt.delivery_id,
            message=message,
            text=correlation_key(correlation),
            actor=actor,
            source=source,
            now=now,
        )
        if late is not None:
            return late
    return receipt


def _receive(
    session: Session,
    *,
    cache: DefinitionCache,
    message: str,
    correlation: Any,
    data: dict[str, Any],
    key: str,
    body_sha256: str,
    actor: str,
    source: str,
    now: datetime,
) -> Receipt:
    session.execute(
        delete(MessageDelivery).where(
            MessageDelivery.message == message,
            MessageDelivery.status == HELD,
            MessageDelivery.hold_until < now,
        )
    )
    found = _find(session, message, key)
    if found is not None:
        return _again(session, found, body_sha256)
    text = correlation_key(correlation)
    waiting = _waiting(session, message, text)
    if len(waiting) > 1:
        raise ApiError(
            409, "ambiguous_message", f"{len(waiting)} instances wait for {message!r} with {text!r}"
        )
    row = MessageDelivery(
        message=message,
        idempotency_key=key,
        body_sha256=body_sha256,
        correlation=text,
        data=data,
        source=source[:300],
        received_at=now,
    )
    if waiting:
        ((instance_id, wait_id),) = waiting.items()
        instance = lock_instance(session, instance_id)
        again = _find(session, message, key)  # it may have moved the instance while we waited
        if again is not None:
            return _again(session, again, body_sha256)
        return _deliver(
            session,
            cache=cache,
            row=row,
            instance=instance,
            wait_id=wait_id,
            correlation=correlation,
            actor=actor,
            source=source,
            now=now,
        )
    until = hold_until(session, cache, message, now)
    if until is None:
        raise ApiError(
            404, "no_waiting_instance", f"no instance waits for {message!r} with {text!r}"
        )
    row.status, row.hold_until = HELD, until
    session.add(row)
    session.flush()
    audit(
        session,
        "message.held",
        actor=actor,
        now=now,
        message=message,
        correlation=text,
        delivery=row.id,
        until=until.isoformat(),
        source=source,
    )
    return Receipt(row.id, None, None, None, until, False)


def _crossable(session: Session) -> bool:
    """Can a message and a wait for it commit at the same moment (see the module's notes)?"""
    return session.get_bind().dialect.name == "postgresql"


def _crossing_lock(message: str, text: str) -> int:
    """The advisory lock a message and the waits for it meet on (64 bits of a hash)."""
    digest = hashlib.blake2b(f"{message}\x00{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def guard_wait(session: Session, message: str, text: str) -> None:
    """A wait for ``message`` with correlation ``text`` is being recorded: a message held
    meanwhile waits for this transaction before it looks for waits again (PostgreSQL)."""
    if _crossable(session):
        session.execute(select(func.pg_advisory_xact_lock_shared(_crossing_lock(message, text))))


def _deliver_late(
    session: Session,
    *,
    cache: DefinitionCache,
    delivery_id: str,
    message: str,
    text: str,
    actor: str,
    source: str,
    now: datetime,
) -> Receipt | None:
    """A message was just held: look for a wait recorded at the same moment (once the steps
    recording one have committed) and deliver it there; None when there is none (or several,
    or the message was taken meanwhile by a step that found it held)."""
    session.execute(select(func.pg_advisory_xact_lock(_crossing_lock(message, text))))
    waiting = _waiting(session, message, text)
    session.commit()  # gives the lock back before waiting for any instance's row lock
    if len(waiting) != 1:
        return None
    ((instance_id, wait_id),) = waiting.items()
    instance = lock_instance(session, instance_id)
    row = session.scalar(
        select(MessageDelivery)
        .where(MessageDelivery.id == delivery_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or row.status != HELD or wait_id not in instance.state.get("waits", {}):
        session.rollback()
        return None
    try:
        receipt = _deliver(
            session,
            cache=cache,
            row=row,
            instance=instance,
            wait_id=wait_id,
            correlation=text,
            actor=actor,
            source=source,
            now=now,
            crossed=True,
        )
    except (ApiError, CommandError):  # the held message stays what the caller was told
        session.rollback()
        return None
    session.commit()
    return receipt


def _deliver(
    session: Session,
    *,
    cache: DefinitionCache,
    row: MessageDelivery,
    instance: Instance,
    wait_id: str,
    correlation: Any,
    actor: str,
    source: str,
    now: datetime,
    **details: Any,
) -> Receipt:
    """Step the locked ``instance`` with the message ``row`` for its wait ``wait_id``, end
    that wait's row, and record the message delivered (audit ``message.received``).

    Raises:
        ApiError: 409 ``suspended``; CommandError: the engine refused the message.
    """
    wait = instance.state.get("waits", {}).get(wait_id) or {}
    command = ReceiveMessage(
        row.message, dict(row.data), correlation=wait.get("correlation", correlation)
    )
    runner.run_command(
        session, cache=cache, instance=instance, command=command, actor=actor, now=now
    )
    session.execute(  # the engine ended this wait: it no longer answers to the message
        delete(MessageWait).where(
            MessageWait.instance_id == instance.id, MessageWait.wait_id == wait_id
        )
    )
    row.status, row.instance_id, row.delivered_at, row.hold_until = (
        DELIVERED,
        instance.id,
        now,
        None,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        "message.received",
        actor=actor,
        instance_id=instance.id,
        now=now,
        message=row.message,
        delivery=row.id,
        source=source,
        **details,
    )
    return Receipt(row.id, instance.id, instance.status, instance.stage, None, False)


def _find(session: Session, message: str, key: str) -> MessageDelivery | None:
    return session.scalar(
        select(MessageDelivery).where(
            MessageDelivery.message == message, MessageDelivery.idempotency_key == key
        )
    )


def _again(session: Session, found: MessageDelivery, body_sha256: str) -> Receipt:
    if found.body_sha256 != body_sha256:
        raise ApiError(
            422, "idempotency_conflict", "this message's id was used before with another body"
        )
    instance = session.get(Instance, found.instance_id) if found.instance_id else None
    return Receipt(
        found.id,
        found.instance_id,
        instance.status if instance else None,
        instance.stage if instance else None,
        found.hold_until if found.status == HELD else None,
        True,
    )


def _waiting(session: Session, message: str, text: str) -> dict[str, str]:
    """Instance id -> wait id of the running instances that wait for ``message`` with this
    correlation text now (rows of waits that already ended are passed over)."""
    rows = session.execute(
        select(MessageWait.instance_id, MessageWait.wait_id).where(
            MessageWait.message == message, MessageWait.correlation == text
        )
    ).all()
    if not rows:
        return {}
    found = session.execute(
        select(Instance.id, Instance.state).where(
            Instance.id.in_({r[0] for r in rows}), Instance.status == "running"
        )
    )
    states: dict[str, Any] = {row.id: row.state for row in found}
    live: dict[str, str] = {}
    for instance_id, wait_id in rows:
        wait = (states.get(instance_id) or {}).get("waits", {}).get(wait_id)
        if wait and wait.get("kind") == "message" and wait.get("message") == message:
            live.setdefault(instance_id, wait_id)
    return live


# --- early messages -------------------------------------------------------------------------


def hold_until(
    session: Session, cache: DefinitionCache, message: str, now: datetime
) -> datetime | None:
    """Until when an early ``message`` is kept: the longest ``keep_early`` of the receive
    nodes that wait for it, in the published versions and in the versions instances still
    run; None when none keeps it."""
    published = session.execute(
        select(Workflow.key, Workflow.published_version).where(
            Workflow.published_version.is_not(None), Workflow.archived.is_(False)
        )
    )
    running = session.execute(
        select(Instance.workflow_key, Instance.workflow_version)
        .where(Instance.status == "running")
        .distinct()
    )
    versions = {(row.key, row.published_version) for row in published}
    versions |= {(row.workflow_key, row.workflow_version) for row in running}
    latest: datetime | None = None
    for key, version in versions:
        if version is None:
            continue
        compiled = cache.get(session, key, version)
        for node in compiled.nodes.values():
            if isinstance(node, ReceiveNode) and node.message == message and node.keep_early:
                try:
                    until = add_duration(now, node.keep_early)
                except ValueError:  # refused at publish; an old bad version keeps nothing
                    continue
                latest = until if latest is None else max(latest, until)
    return latest


def take_held(
    session: Session, *, instance: Instance, effect: WaitForMessage, now: datetime
) -> ReceiveMessage | None:
    """The message held for a wait that has just begun, as the command that answers it, or
    None. Only a node that declares ``keep_early`` takes one, and only one that arrived
    within that window; held messages past their time are deleted on the way."""
    guard_wait(session, effect.message, correlation_key(effect.correlation))
    if not effect.keep_early:
        return None
    query = (
        select(MessageDelivery)
        .where(
            MessageDelivery.message == effect.message,
            MessageDelivery.correlation == correlation_key(effect.correlation),
            MessageDelivery.status == HELD,
        )
        .order_by(MessageDelivery.received_at, MessageDelivery.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # another instance may take it
    for row in list(session.scalars(query)):
        if row.hold_until is None or row.hold_until < now:
            session.delete(row)
            continue
        try:
            if add_duration(row.received_at, effect.keep_early) < now:
                continue  # kept for a longer-waiting node, but too old for this one
        except ValueError:
            return None
        row.status, row.instance_id, row.delivered_at = DELIVERED, instance.id, now
        audit(
            session,
            "message.received",
            actor=(row.source or "")[:100] or None,
            instance_id=instance.id,
            now=now,
            message=effect.message,
            delivery=row.id,
            early=True,
            received_at=row.received_at.isoformat(),
        )
        return ReceiveMessage(effect.message, dict(row.data), correlation=effect.correlation)
    return None
