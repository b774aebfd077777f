"""Messages from outside, matched to the instance waiting for them (e.g. a carrier's delivery).

The matching, holding and deduplication are ``app/services/messages.py``; signed deliveries
of the same messages arrive at ``POST /hooks/messages/{name}`` (``app/routes/hooks.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app import clock
from app.deps import CurrentUser, SessionDep
from app.errors import ApiError
from app.routes.instances import cache
from app.schemas import ERRORS, MessageIn
from app.services import messages

router = APIRouter(prefix="/api", tags=["messages"], responses=ERRORS)


class MessageReceipt(BaseModel):
    """What became of a message: delivered to an instance (200), or held until one waits for
    it (202, ``held``); ``duplicate`` when the same message came before."""

    delivery_id: str
    instance_id: str | None
    status: str | None
    """The instance's status after the message; none while it is held."""
    stage: str | None
    held: bool = False
    held_until: datetime | None = None
    duplicate: bool = False


def answer(receipt: messages.Receipt) -> JSONResponse:
    return JSONResponse(receipt.to_json(), status_code=202 if receipt.held else 200)


@router.post(
    "/messages",
    response_model=MessageReceipt,
    responses={202: {"model": MessageReceipt, "description": "Held until an instance waits"}},
)
def deliver(
    body: MessageIn,
    request: Request,
    session: SessionDep,
    me: CurrentUser,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> JSONResponse:
    """Deliver a message: 404 when nothing waits for it (unless a receive node keeps early
    messages: then 202, held), 409 when two instances wait (it goes to none). The same message
    again — the same ``Idempotency-Key``, or without one the same message, correlation and
    data — answers as the first did and moves nothing.

    Messages come from other systems (an API token) or an admin; a person's session may not
    move someone else's instance this way."""
    if me.via != "token" and not me.is_admin:
        raise ApiError(403, "forbidden", "messages are sent by systems (API tokens) or admins")
    content = messages.digest(
        {"message": body.message, "correlation": body.correlation, "data": body.data}
    )
    receipt = messages.receive(
        session,
        cache=cache(request),
        message=body.message,
        correlation=body.correlation,
        data=body.data,
        key=messages.idempotency_key(idempotency_key, f"sha256:{content}"),
        body_sha256=content,
        actor=me.username,
        source=f"api:{me.username}",
        now=clock.now(),
    )
    return answer(receipt)
