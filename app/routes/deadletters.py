"""Dead letters: signed webhook deliveries that could not start an instance, for admins to
look at and replay once the cause is fixed (``app/services/deadletters.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select

from app import clock
from app.db.models import DeadLetter
from app.deps import AdminUser, SessionDep
from app.errors import not_found
from app.routes.instances import cache
from app.routes.tables import refuse_nul
from app.schemas import ERRORS, Page
from app.services import deadletters

router = APIRouter(
    prefix="/api/admin/dead-letters",
    tags=["admin"],
    responses=ERRORS,
    dependencies=[Depends(refuse_nul)],
)


class DeadLetterError(BaseModel):
    code: str
    message: str
    details: Any = None


class DeadLetterOut(BaseModel):
    id: str
    workflow: str
    idempotency_key: str | None
    status: str
    """``failed`` until it starts an instance, then ``replayed``."""
    error: DeadLetterError
    """Why the last attempt failed."""
    attempts: int
    received_at: datetime
    last_attempt_at: datetime
    instance_id: str | None
    replayed_at: datetime | None
    replayed_by: str | None


class DeadLetterDetail(DeadLetterOut):
    payload: Any
    headers: dict[str, Any]
    query: dict[str, Any]


def _out(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "workflow": letter.workflow_key,
        "idempotency_key": letter.idempotency_key,
        "status": letter.status,
        "error": DeadLetterError(
            code=letter.error_code, message=letter.error_message, details=letter.error_details
        ),
        "attempts": letter.attempts,
        "received_at": letter.received_at,
        "last_attempt_at": letter.last_attempt_at,
        "instance_id": letter.instance_id,
        "replayed_at": letter.replayed_at,
        "replayed_by": letter.replayed_by,
    }


def _detail(letter: DeadLetter) -> DeadLetterDetail:
    return DeadLetterDetail(
        **_out(letter), payload=letter.payload, headers=letter.headers, query=letter.query
    )


@router.get("", response_model=Page[DeadLetterOut])
def list_dead_letters(
    session: SessionDep,
    me: AdminUser,
    workflow: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(pattern="^(failed|replayed|discarded)$")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[DeadLetterOut]:
    """Kept deliveries, newest first; ``status=failed`` for those still to replay."""
    query = select(DeadLetter)
    if workflow:
        query = query.where(DeadLetter.workflow_key == workflow)
    if status:
        query = query.where(DeadLetter.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(DeadLetter.received_at.desc(), DeadLetter.id).offset(offset).limit(limit)
    )
    items = [DeadLetterOut(**_out(r)) for r in rows]
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.get("/{letter_id}", response_model=DeadLetterDetail)
def get_dead_letter(letter_id: str, session: SessionDep, me: AdminUser) -> DeadLetterDetail:
    """One kept delivery with its body, headers and query as they arrived."""
    letter = session.get(DeadLetter, letter_id)
    if letter is None:
        raise not_found("dead letter", letter_id)
    return _detail(letter)


@router.post("/{letter_id}/discard", response_model=DeadLetterDetail)
def discard_dead_letter(letter_id: str, session: SessionDep, me: AdminUser) -> DeadLetterDetail:
    """Set a kept delivery aside (``discarded``): it leaves the list of those to replay and
    stays on record; it can still be replayed. 409 ``already_replayed``."""
    letter = deadletters.discard(session, letter_id=letter_id, actor=me.username, now=clock.now())
    return _detail(letter)


@router.post("/{letter_id}/replay", response_model=DeadLetterDetail)
def replay_dead_letter(
    letter_id: str, request: Request, session: SessionDep, me: AdminUser
) -> DeadLetterDetail:
    """Start the instance the delivery could not, with the workflow's published trigger as it
    is now; marks it ``replayed``. Replaying again changes nothing. 409 ``replay_failed``
    (with the new error in ``details``) when it still cannot start."""
    letter = deadletters.replay(
        session, cache=cache(request), letter_id=letter_id, actor=me.username, now=clock.now()
    )
    return _detail(letter)
