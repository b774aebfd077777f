"""The service's clock: read it; in test and demo mode, an admin moves it forward."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from app import clock
from app.deps import AdminUser, CurrentUser, SessionDep
from app.errors import ApiError
from app.schemas import ERRORS
from app.services.outbox import tick
from engine import parse_duration

router = APIRouter(prefix="/api", tags=["clock"], responses=ERRORS)
MAX_ROUNDS = 1000


class ClockOut(BaseModel):
    now: datetime
    controllable: bool
    timers_fired: int = 0
    outbox_sent: int = 0


class AdvanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(default=None, description="an ISO 8601 duration, e.g. PT4H")
    to: datetime | None = Field(default=None, description="a moment with a time zone")


@router.get("/clock", response_model=ClockOut)
def read_clock(request: Request, me: CurrentUser) -> ClockOut:
    return ClockOut(now=clock.now(), controllable=request.app.state.clock.controllable)


@router.post("/clock/advance", response_model=ClockOut)
def advance(body: AdvanceIn, request: Request, session: SessionDep, me: AdminUser) -> ClockOut:
    """Move the clock forward and run the work that came due, before answering."""
    session.rollback()  # end this request's transaction: the workers write in their own
    service_clock = request.app.state.clock
    if not service_clock.controllable:
        raise ApiError(
            409,
            "system_clock",
            "this service runs on the system clock (STEPWISE_CONTROLLABLE_CLOCK=1)",
        )
    try:
        by = parse_duration(body.by).clock_time if body.by else None
        moved = service_clock.advance(by=by, to=body.to)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    fired = sent = 0
    for _ in range(MAX_ROUNDS):  # timers may schedule work that is due at once
        timers, outbox = tick(request.app.state.worker, now=moved)
        fired, sent = fired + timers, sent + outbox
        if timers == 0 and outbox == 0:
            break
    return ClockOut(now=moved, controllable=True, timers_fired=fired, outbox_sent=sent)
