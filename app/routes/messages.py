"""Messages from outside, matched to the instance waiting for them (e.g. a carrier's delivery)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from app import clock
from app.db.models import MessageWait
from app.deps import CurrentUser, SessionDep
from app.errors import ApiError
from app.routes.instances import cache
from app.schemas import ERRORS, MessageIn, MessageOut
from app.services import runner
from app.services.records import audit
from app.services.runner import correlation_key, lock_instance
from engine import ReceiveMessage

router = APIRouter(prefix="/api", tags=["messages"], responses=ERRORS)


@router.post("/messages", response_model=MessageOut)
def deliver(body: MessageIn, request: Request, session: SessionDep, me: CurrentUser) -> MessageOut:
    """Deliver a message: 404 when nothing waits for it, 409 when two instances do (it goes to none).

    Messages come from other systems (an API token) or an admin; a person's session may not
    move someone else's instance this way."""
    if me.via != "token" and not me.is_admin:
        raise ApiError(403, "forbidden", "messages are sent by systems (API tokens) or admins")
    key = correlation_key(body.correlation)
    waits = list(
        session.scalars(
            select(MessageWait).where(
                MessageWait.message == body.message, MessageWait.correlation == key
            )
        )
    )
    instances = {w.instance_id for w in waits}
    if not instances:
        raise ApiError(
            404, "no_waiting_instance", f"no instance waits for {body.message!r} with {key!r}"
        )
    if len(instances) > 1:
        raise ApiError(
            409,
            "ambiguous_message",
            f"{len(instances)} instances wait for {body.message!r} with {key!r}",
        )
    instance = lock_instance(session, waits[0].instance_id)
    now = clock.now()
    command = ReceiveMessage(body.message, body.data, correlation=body.correlation)
    runner.run_command(
        session,
        cache=cache(request),
        instance=instance,
        command=command,
        actor=me.username,
        now=now,
    )
    audit(
        session,
        "message.received",
        actor=me.username,
        instance_id=instance.id,
        now=now,
        message=body.message,
    )
    session.commit()
    return MessageOut(instance_id=instance.id, status=instance.status, stage=instance.stage)
