"""Webhook deliveries that start workflows (``POST /hooks/{key}``), started in group commits.

A started instance is a few rows (the instance, its data fields, two audit events, the
outbox row of its first call, the delivery's id) and two reads before them (the workflow
with its secrets, the delivery id looked up). One delivery to a transaction makes that a
dozen round trips to the database each, which is what bounded a process at a few hundred
deliveries a second. So each process has one :class:`Intake`: a thread that takes every
delivery waiting when it is free and starts them all in one transaction — one query for
the workflows' secrets, one for the delivery ids seen before, one insert per table, one
commit — and then answers each sender. Nothing waits to fill a batch: a delivery arriving
alone is started alone, at once; under load the batches grow by themselves.

A delivery is answered only after the commit that made its instance durable. What cannot
be done together is done alone, in its own transaction, after the batch (``receive``): a
start that fails (kept as a dead letter), a delivery id twice in one batch, a retry of a
delivery kept as a dead letter, and every start of a batch whose commit failed (another
process recorded one of its delivery ids first). Alone, each is answered exactly as it
would have been without batching.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import String, any_, event, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from app import clock, errors
from app.db.models import DeadLetter, Instance, WebhookDelivery, WebhookSecret, Workflow
from app.errors import ApiError
from app.services import deadletters
from app.services.records import audit
from app.services.runner import DefinitionCache
from app.services.signatures import SignatureError, delivery_id, verify
from engine import CommandError
from engine.model import Trigger

DEAD_LETTER_HEADER = "X-Stepwise-Dead-Letter"
"""Names the dead letter a refused, but signed, delivery was kept as."""
log = logging.getLogger("stepwise.intake")
MAX_BATCH = 64
"""The most deliveries one transaction starts."""


@dataclass(slots=True)
class Delivery:
    """A request to ``POST /hooks/{key}``, as it arrived (headers with lower-case names)."""

    key: str
    body: bytes
    headers: dict[str, str]
    query: dict[str, str]
    now: datetime
    future: Future[Answer] = field(default_factory=Future)


@dataclass(slots=True)
class Answer:
    """What the sender is told: 202 with the instance, or a dead letter's error."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


@dataclass(slots=True)
class _Checked:
    """A delivery whose signature holds and whose body is JSON."""

    delivery: Delivery
    workflow: Workflow | None
    scheme: str
    payload: Any
    digest: str
    idem: str | None


class Intake:
    """One process's webhook starts: ``receive`` hands a delivery to the intake thread and
    waits for its answer; the thread starts what is waiting in group commits."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        definitions: DefinitionCache,
        app_clock: clock.Clock,
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._sessions, self._definitions, self._clock = sessions, definitions, app_clock
        self._max_batch = max_batch
        self._waiting: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        """How many transactions started deliveries together (for tests)."""

    async def receive(self, delivery: Delivery) -> Answer:
        """Start ``delivery``'s instance, or tell why not (raises ApiError)."""
        self._ensure_thread()
        self._waiting.put(delivery)
        # shielded: a sender gone away does not cancel the start, which is answered anyway
        return await asyncio.shield(asyncio.wrap_future(delivery.future))

    def close(self) -> None:
        """Stop the thread once what is waiting has been answered."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._waiting.put(None)
            thread.join(timeout=30)

    def _ensure_thread(self) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="stepwise-intake", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        clock.use(self._clock)
        while True:
            first = self._waiting.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    more = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                self.handle(batch)
            except Exception:  # a bug: said, and the next deliveries are still taken
                log.exception("webhook intake: a batch of %d deliveries failed", len(batch))
                for delivery in batch:
                    if not delivery.future.done():
                        delivery.future.set_exception(RuntimeError("the intake failed"))
            if stop:
                return

    def handle(self, batch: list[Delivery]) -> None:
        """Start ``batch`` and answer each delivery's future (also on errors)."""
        try:
            outcomes: list[Answer | Exception | None] = [None] * len(batch)
            if len(batch) > 1:
                with self._sessions() as session:
                    outcomes = receive_together(session, self._definitions, batch)
                self.batches += 1
        except Exception:  # the batch as a whole failed (a commit refused): each alone
            outcomes = [None] * len(batch)
        for delivery, outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                outcome = self._alone(delivery)
            if delivery.future.cancelled():  # nobody waits for it any more
                continue
            if isinstance(outcome, Exception):
                delivery.future.set_exception(outcome)
            else:
                delivery.future.set_result(outcome)

    def _alone(self, delivery: Delivery) -> Answer | Exception:
        try:
            with self._sessions() as session:
                return receive(session, self._definitions, delivery)
        except Exception as exc:  # the sender is told; the next delivery goes on
            return exc


# --- one delivery -----------------------------------------------------------------------------


def receive(session: Session, definitions: DefinitionCache, delivery: Delivery) -> Answer:
    """Start ``delivery``'s instance in its own transaction. A retried delivery (same
    Idempotency-Key, or the sender's own delivery id) answers with the same instance; the
    same key with another body is refused. A signed delivery that cannot start an instance
    is answered with the error and kept as a dead letter. Raises ApiError when the delivery
    is refused before that (unknown workflow, bad signature, not JSON)."""
    key = delivery.key
    workflows, secrets = _workflows(session, [key])
    workflow = workflows.get(key)
    trigger = deadletters.webhook_trigger(session, definitions, key, workflow=workflow)
    checked = _check(delivery, workflow, trigger, secrets.get(key, []))
    kept = None
    if checked.idem:
        pair = (key, checked.idem)
        found, letters = _seen(session, {pair})
        if pair in found:
            return _again(found[pair], checked.digest)
        if pair in letters:
            kept = deadletters.find(session, key, checked.idem)
        if kept is not None and kept.body_sha256 != checked.digest:
            raise deadletters.conflict()
    try:
        instance = _start(session, definitions, checked, kept)
    except (ApiError, CommandError) as exc:
        return _dead_letter(session, checked, exc)
    try:
        session.commit()
    except IntegrityError:  # the same delivery, arriving at the same moment: the first one won
        session.rollback()
        again = session.get(WebhookDelivery, (key, checked.idem)) if checked.idem else None
        if again is None:
            raise
        return _again((again.body_sha256, again.instance_id), checked.digest)
    return _started(instance)


# --- deliveries together ----------------------------------------------------------------------


class _Abandon(Exception):
    """A start failed after it had written something: the batch cannot be committed."""


def receive_together(
    session: Session, definitions: DefinitionCache, batch: list[Delivery]
) -> list[Answer | Exception | None]:
    """Start ``batch`` in one transaction of ``session`` and commit it. Per delivery: its
    answer, the error it is refused with, or None when it is to be received alone (after
    this commit). Raises when the transaction cannot be committed: nothing of it is kept."""
    outcomes: list[Answer | Exception | None] = [None] * len(batch)
    workflows, secrets = _workflows(session, sorted({d.key for d in batch}))
    checked: list[tuple[int, _Checked]] = []
    for n, delivery in enumerate(batch):
        workflow = workflows.get(delivery.key)
        try:
            if workflow is None:
                raise errors.not_found("workflow", delivery.key)
            trigger = deadletters.webhook_trigger(
                session, definitions, delivery.key, workflow=workflow
            )
            checked.append((n, _check(delivery, workflow, trigger, secrets.get(delivery.key, []))))
        except ApiError as exc:
            outcomes[n] = exc
    pairs = {(c.delivery.key, c.idem) for _, c in checked if c.idem}
    found, letters = _seen(session, pairs)
    writes = _Writes(session)
    taken: set[tuple[str, str]] = set()
    for n, c in checked:
        if c.idem:
            pair = (c.delivery.key, c.idem)
            if pair in taken:  # a retry in the same batch: alone, once the first is in
                continue
            taken.add(pair)
            if pair in found:
                try:
                    outcomes[n] = _again(found[pair], c.digest)
                except ApiError as exc:
                    outcomes[n] = exc
                continue
            if pair in letters:  # alone: it is marked replayed, or refused as a conflict
                continue
        mark = writes.mark()
        try:
            instance = _start(session, definitions, c, None)
        except (ApiError, CommandError):
            if writes.since(mark):
                raise _Abandon from None
            continue  # alone: kept as a dead letter there
        outcomes[n] = _started(instance)
    session.commit()
    return outcomes


class _Writes:
    """Whether a session has written, or has pending, anything since a mark: a start that
    fails in a batch must have left no trace, or the batch is abandoned."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._count = 0
        event.listen(session, "do_orm_execute", self._executed)
        event.listen(session, "after_flush", self._flushed)

    def _executed(self, state: ORMExecuteState) -> None:
        if not state.is_select:
            self._count += 1

    def _flushed(self, *_args: Any) -> None:
        self._count += 1

    def mark(self) -> tuple[int, int, int, int]:
        s = self._session
        return self._count, len(s.new), len(s.dirty), len(s.deleted)

    def since(self, mark: tuple[int, int, int, int]) -> bool:
        return self.mark() != mark


Pair = tuple[str, str]
"""A delivery's workflow key and id."""
_SeenRow = tuple[bool, str, str, str, str | None]


def _seen(session: Session, pairs: set[Pair]) -> tuple[dict[Pair, tuple[str, str]], set[Pair]]:
    """Of ``pairs``, those that started an instance (with the body's SHA-256 and the
    instance), and those kept as dead letters: one query."""
    if not pairs:
        return {}, set()
    keys, ids = sorted({k for k, _ in pairs}), sorted({i for _, i in pairs})
    d, letter = WebhookDelivery, DeadLetter
    rows: Sequence[Any] = session.execute(
        union_all(
            select(literal(True), d.workflow_key, d.idempotency_key, d.body_sha256, d.instance_id)
            .where(_one_of(session, d.workflow_key, keys))
            .where(_one_of(session, d.idempotency_key, ids)),
            select(
                literal(False),
                letter.workflow_key,
                letter.idempotency_key,
                letter.body_sha256,
                letter.instance_id,
            )
            .where(_one_of(session, letter.workflow_key, keys))
            .where(_one_of(session, letter.idempotency_key, ids)),
        )
    ).all()
    found: dict[Pair, tuple[str, str]] = {}
    letters: set[Pair] = set()
    for started, key, idem, digest, instance_id in cast(list[_SeenRow], rows):
        pair = (key, idem)
        if pair not in pairs:
            continue
        if started and instance_id is not None:
            found[pair] = (digest, instance_id)
        else:
            letters.add(pair)
    return found, letters


def _one_of(session: Session, column: Any, values: list[str]) -> Any:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``, one statement text whatever the
    number of values, so that psycopg prepares it once."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(values, ARRAY(String)))
    return column.in_(values)


# --- the parts ------------------------------------------------------------------------------


def _workflows(
    session: Session, keys: list[str]
) -> tuple[dict[str, Workflow], dict[str, list[str]]]:
    """The workflows ``keys`` name, and their secrets not revoked: one query."""
    secret = WebhookSecret
    rows = session.execute(
        select(Workflow, secret.secret)
        .outerjoin(secret, (secret.workflow_key == Workflow.key) & secret.revoked_at.is_(None))
        .where(_one_of(session, Workflow.key, keys))
    )
    workflows: dict[str, Workflow] = {}
    secrets: dict[str, list[str]] = {}
    for workflow, value in rows:
        workflows[workflow.key] = workflow
        if value is not None:
            secrets.setdefault(workflow.key, []).append(value)
    return workflows, secrets


def _check(
    delivery: Delivery, workflow: Workflow | None, trigger: Trigger, keys: list[str]
) -> _Checked:
    scheme = trigger.webhook.scheme if trigger.webhook else "generic"
    tolerance = trigger.webhook.tolerance_s if trigger.webhook else 300
    check_signature(
        scheme, delivery.headers, delivery.body, keys, now=delivery.now, tolerance=tolerance
    )
    payload = parse_json(delivery.body)
    digest = hashlib.sha256(delivery.body).hexdigest()
    idem = delivery_id(scheme, delivery.headers, payload, body_sha256=digest)
    return _Checked(delivery, workflow, scheme, payload, digest, idem)


def check_signature(
    scheme: str,
    headers: dict[str, str],
    body: bytes,
    keys: list[str],
    *,
    now: datetime,
    tolerance: int,
) -> None:
    """401 ``bad_signature`` unless one of ``keys`` signed ``body`` within the tolerance."""
    try:
        verify(scheme, headers, body, keys, now=now, tolerance_s=tolerance)
    except SignatureError as exc:
        real = datetime.now(UTC)
        if abs((now - real).total_seconds()) > 1:  # a moved demo clock: senders sign on theirs
            try:
                verify(scheme, headers, body, keys, now=real, tolerance_s=tolerance)
            except SignatureError:
                pass
            else:
                return
        raise ApiError(401, "bad_signature", str(exc)) from None


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(422, "invalid_payload", "the body is not JSON") from None


def _start(
    session: Session,
    definitions: DefinitionCache,
    checked: _Checked,
    kept: DeadLetter | None,
) -> Instance:
    delivery, key = checked.delivery, checked.delivery.key
    instance = deadletters.start_from_delivery(
        session,
        cache=definitions,
        key=key,
        payload=checked.payload,
        headers=delivery.headers,
        query=delivery.query,
        now=delivery.now,
        workflow=checked.workflow,
    )
    deadletters.record_delivery(
        session,
        key=key,
        idempotency_key=checked.idem,
        body_sha256=checked.digest,
        instance_id=instance.id,
        by=f"webhook:{key}",
        now=delivery.now,
        letter=kept,
    )
    audit(
        session,
        "webhook.received",
        actor=f"webhook:{key}",
        instance_id=instance.id,
        now=delivery.now,
        scheme=checked.scheme,
        delivery=checked.idem,
    )
    return instance


def _started(instance: Instance) -> Answer:
    return Answer(202, {"instance_id": instance.id, "duplicate": False})


def _dead_letter(session: Session, checked: _Checked, exc: ApiError | CommandError) -> Answer:
    """Answer the sender with why the start failed, keeping the delivery for replay."""
    session.rollback()
    delivery = checked.delivery
    status, code, message, details = deadletters.failure(exc)
    try:
        letter = deadletters.keep(
            session,
            key=delivery.key,
            idempotency_key=checked.idem,
            body_sha256=checked.digest,
            payload=checked.payload,
            headers=delivery.headers,
            query=delivery.query,
            exc=exc,
            now=delivery.now,
        )
        session.commit()
    except IntegrityError:  # the same failing delivery twice at the same moment: one letter
        session.rollback()
        found = deadletters.find(session, delivery.key, checked.idem)
        if found is None:
            raise
        letter = found
    return Answer(
        status, errors.body(code, message, details), headers={DEAD_LETTER_HEADER: letter.id}
    )


def _again(found: tuple[str, str], digest: str) -> Answer:
    """The answer to a delivery seen before: ``found`` is its body's SHA-256 and instance."""
    if found[0] != digest:
        raise deadletters.conflict()
    return Answer(202, {"instance_id": found[1], "duplicate": True})
