"""Starting workflows from webhook deliveries, and the deliveries that could not start one.

A delivery to ``POST /hooks/{key}`` is *accepted* once its signature holds and its body is
JSON. What fails after that — the workflow is not published (yet), the mapping fails, the
data schema or the start form refuses the mapped data — is kept here as a dead letter with
its error, so that nothing a sender delivered is lost when senders do not retry a 4xx. An
admin lists them and, after the fix (publishing, a corrected mapping or schema), replays
one: it is started with the published version's trigger as it is *then*, marked replayed,
and replaying it again changes nothing.

Before acceptance nothing is kept: an unknown workflow or one not started by webhook (404),
a bad signature (401), a body that is not JSON (422: no fix on our side could map it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import DeadLetter, Instance, WebhookDelivery, Workflow
from app.errors import COMMAND_STATUS, ApiError, not_found
from app.services import runner
from app.services.messages import delivery_names, map_fields
from app.services.records import audit
from app.services.runner import DefinitionCache
from engine import CommandError
from engine.model import Trigger

FAILED = "failed"
REPLAYED = "replayed"
DISCARDED = "discarded"
DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
"""Headers not kept with a dead letter: credentials a proxy may have added."""


def webhook_trigger(
    session: Session, cache: DefinitionCache, key: str, *, workflow: Workflow | None = None
) -> Trigger:
    """The start trigger of ``key``'s published version; of its draft while it has none (so
    a sender can be set up, and its deliveries kept, before the first publish). 404 unless
    it is started by webhook. ``workflow``: the row, when the caller has read it already."""
    if workflow is None or workflow.key != key:
        workflow = session.get(Workflow, key)
    if workflow is None or workflow.archived:
        raise not_found("workflow", key)
    trigger: Trigger | None
    if workflow.published_version is not None:
        compiled = cache.get(session, key, workflow.published_version)
        trigger = compiled.nodes[compiled.start].trigger
    else:
        trigger = _draft_trigger(workflow.draft)
    if trigger is None or trigger.type != "webhook":
        raise ApiError(404, "not_found", f"workflow {key!r} is not started by webhook")
    return trigger


def _draft_trigger(draft: Any) -> Trigger | None:
    nodes = draft.get("nodes") if isinstance(draft, dict) else None
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict) and node.get("type") == "start":
            try:
                return Trigger.model_validate(node.get("trigger") or {})
            except ValidationError:
                return None
    return None


def start_from_delivery(
    session: Session,
    *,
    cache: DefinitionCache,
    key: str,
    payload: Any,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    now: datetime,
    workflow: Workflow | None = None,
) -> Instance:
    """Map a delivery's body, headers and query into data and start ``key`` with it (actor
    ``webhook:<key>``). Raises ApiError or CommandError when it cannot start. ``workflow``:
    the row, when the caller has read it already."""
    if workflow is None or workflow.key != key:
        workflow = session.get(Workflow, key)
    trigger = webhook_trigger(session, cache, key, workflow=workflow)
    mapping = trigger.webhook.mapping if trigger.webhook else {}
    data = map_fields(mapping, payload, delivery_names(payload, headers, query))
    return runner.start_instance(
        session,
        cache=cache,
        workflow_key=key,
        data=data,
        actor=f"webhook:{key}",
        now=now,
        workflow=workflow,
    )


def failure(exc: ApiError | CommandError) -> tuple[int, str, str, Any]:
    """(status, code, message, details) of why a start failed, as the API answers it."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message, exc.details
    return COMMAND_STATUS.get(exc.code, 409), exc.code, exc.message, exc.details or None


def conflict() -> ApiError:
    """422: a delivery id used before with another body."""
    return ApiError(
        422, "idempotency_conflict", "this delivery id was used before with another body"
    )


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS}


def find(session: Session, key: str, idempotency_key: str | None) -> DeadLetter | None:
    if not idempotency_key:
        return None
    return session.scalar(
        select(DeadLetter).where(
            DeadLetter.workflow_key == key, DeadLetter.idempotency_key == idempotency_key
        )
    )


def keep(
    session: Session,
    *,
    key: str,
    idempotency_key: str | None,
    body_sha256: str,
    payload: Any,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    exc: ApiError | CommandError,
    now: datetime,
) -> DeadLetter:
    """Keep a delivery that could not start, or note another failed attempt of one kept
    before (the sender retried with the same delivery id). The caller commits."""
    _status, code, message, details = failure(exc)
    letter = find(session, key, idempotency_key)
    if letter is not None:
        if letter.body_sha256 != body_sha256:
            raise conflict()
        letter.attempts += 1
    else:
        letter = DeadLetter(
            workflow_key=key,
            idempotency_key=idempotency_key,
            body_sha256=body_sha256,
            payload=payload,
            headers=kept_headers(headers),
            query=dict(query),
            status=FAILED,
            attempts=1,
            received_at=now,
        )
        session.add(letter)
    letter.error_code, letter.error_message, letter.error_details = code, message, details
    letter.last_attempt_at = now
    session.flush()
    audit(
        session,
        "webhook.dead_letter",
        actor=f"webhook:{key}",
        now=now,
        workflow=key,
        dead_letter=letter.id,
        code=code,
    )
    return letter


def record_delivery(
    session: Session,
    *,
    key: str,
    idempotency_key: str | None,
    body_sha256: str,
    instance_id: str,
    by: str,
    now: datetime,
    letter: DeadLetter | Literal[False] | None = False,
) -> None:
    """Remember that this delivery started ``instance_id``: a retry gets the same instance,
    and a dead letter kept for an earlier attempt of it is marked replayed (``letter``: that
    dead letter or None, when the caller has looked it up; False: look it up here)."""
    if not idempotency_key:
        return
    if letter is False:
        letter = find(session, key, idempotency_key)  # before the insert: a query flushes it
    if letter is not None and letter.status != REPLAYED and letter.body_sha256 == body_sha256:
        _replayed(letter, instance_id, by=by, now=now)
    session.add(
        WebhookDelivery(
            workflow_key=key,
            idempotency_key=idempotency_key,
            body_sha256=body_sha256,
            instance_id=instance_id,
            received_at=now,
        )
    )


def _replayed(letter: DeadLetter, instance_id: str, *, by: str, now: datetime) -> None:
    letter.status, letter.instance_id = REPLAYED, instance_id
    letter.replayed_at, letter.replayed_by = now, by[:100]


def discard(session: Session, *, letter_id: str, actor: str, now: datetime) -> DeadLetter:
    """Set a dead letter aside, and commit: nobody will replay it (a delivery sent by
    mistake, a test). It is kept, with its body, for the record, and can still be replayed;
    a later retry of the sender that starts an instance marks it replayed. 409
    ``already_replayed`` for one that started its instance."""
    letter = session.get(DeadLetter, letter_id, with_for_update=True)
    if letter is None:
        raise not_found("dead letter", letter_id)
    if letter.status == REPLAYED:
        raise ApiError(409, "already_replayed", "this delivery started its instance already")
    if letter.status != DISCARDED:
        letter.status = DISCARDED
        audit(
            session,
            "webhook.dead_letter_discarded",
            actor=actor,
            now=now,
            workflow=letter.workflow_key,
            dead_letter=letter.id,
        )
        session.commit()
    return letter


def replay(
    session: Session, *, cache: DefinitionCache, letter_id: str, actor: str, now: datetime
) -> DeadLetter:
    """Start the instance a dead letter could not, and commit. Replaying one that was
    replayed already (or that a retry of the sender started) changes nothing.

    Raises:
        ApiError: 404 for an unknown id; 409 ``replay_failed`` when it still cannot start
            (the new error is kept with it, ``details`` says which).
    """
    letter = session.get(DeadLetter, letter_id, with_for_update=True)
    if letter is None:
        raise not_found("dead letter", letter_id)
    if letter.status == REPLAYED:
        return letter
    key, idem = letter.workflow_key, letter.idempotency_key
    started = session.get(WebhookDelivery, (key, idem)) if idem else None
    if started is not None:  # the sender's retry got through after the fix
        _replayed(letter, started.instance_id, by=actor, now=now)
        session.commit()
        return letter
    try:
        instance = start_from_delivery(
            session,
            cache=cache,
            key=key,
            payload=letter.payload,
            headers=letter.headers,
            query=letter.query,
            now=now,
        )
    except (ApiError, CommandError) as exc:
        session.rollback()
        _status, code, message, details = failure(exc)
        letter = session.get(DeadLetter, letter_id, with_for_update=True) or letter
        letter.attempts += 1
        letter.error_code, letter.error_message, letter.error_details = code, message, details
        letter.last_attempt_at = now
        audit(session, "webhook.replay_failed", actor=actor, now=now, dead_letter=letter.id)
        session.commit()
        raise ApiError(
            409,
            "replay_failed",
            f"the delivery still does not start an instance: {message}",
            {"code": code, "message": message, "details": details},
        ) from None
    letter.attempts += 1
    letter.last_attempt_at = now
    _replayed(letter, instance.id, by=actor, now=now)
    if idem:
        session.add(
            WebhookDelivery(
                workflow_key=key,
                idempotency_key=idem,
                body_sha256=letter.body_sha256,
                instance_id=instance.id,
                received_at=now,
            )
        )
    audit(
        session,
        "webhook.replayed",
        actor=actor,
        instance_id=instance.id,
        now=now,
        workflow=key,
        dead_letter=letter.id,
    )
    try:
        session.commit()
    except IntegrityError:  # a retry of the sender's started it at the same moment
        session.rollback()
        started = session.get(WebhookDelivery, (key, idem)) if idem else None
        letter = session.get(DeadLetter, letter_id) or letter
        if started is None:
            raise
        _replayed(letter, started.instance_id, by=actor, now=now)
        session.commit()
    return letter
