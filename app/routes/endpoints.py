"""Event endpoints: where outgoing events go (``app/services/events.py``), kept by admins.

An endpoint's signing secret is in the answer that made it (or rotated it) and nowhere after.
Rotating keeps the previous secret signing too for ``keep_previous_for`` (a day by default),
so the receiver can switch without a gap.

An endpoint's deliveries are its outbox rows (kind ``deliver_event``, one per event and
endpoint): the log lists them, and one that failed or was skipped can be sent again.

Rejected: an ``endpoint_id`` column on the outbox for the log (a migration and a wider table
for every kind of row, for an admin page); the rows are found by the ``endpoint_id`` in their
payload, which reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app import clock
from app.db.models import EventEndpoint, Outbox
from app.deps import AdminUser, SessionDep
from app.errors import ApiError, not_found
from app.routes.tables import NO_NUL, refuse_nul
from app.schemas import ERRORS, Page
from app.services import events
from app.services.records import audit
from engine import parse_duration
from engine.calendar import DurationError

router = APIRouter(
    prefix="/api/admin/event-endpoints",
    tags=["admin"],
    responses=ERRORS,
    dependencies=[Depends(refuse_nul)],
)

EventType = Literal[
    "instance.started",
    "instance.stage_changed",
    "instance.completed",
    "instance.cancelled",
    "instance.rejected",
    "task.created",
    "task.overdue",
]
Url = Annotated[
    str,
    Field(
        pattern=r"^https?://[^\s\x00/?#]+[^\s\x00]*$",
        max_length=2000,
        description="http:// or https://",
    ),
]
MAX_KEEP = timedelta(days=30)


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    secret_prefix: str = Field(description="the current secret's first characters")
    previous_secret_expires_at: datetime | None = Field(
        description="until when the secret before the last rotation still signs"
    )
    created_at: datetime
    created_by: str | None
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="the signing secret (whsec_…), shown this once")


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url
    event_types: list[EventType] = Field(min_length=1, max_length=20)
    description: str = Field(default="", max_length=500, pattern=NO_NUL)


class EndpointUpdate(BaseModel):
    """Only the fields sent change. ``enabled: true`` turns an endpoint on again (after a 410)."""

    model_config = ConfigDict(extra="forbid")
    url: Url | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=500, pattern=NO_NUL)
    enabled: bool | None = None


DeliveryStatus = Literal["pending", "delivered", "failed", "skipped"]
_SHOWN: dict[str, DeliveryStatus] = {
    "pending": "pending",
    "done": "delivered",
    "failed": "failed",
    "skipped": "skipped",
}
_STORED = {"delivered": "done", **{stored: stored for stored in _SHOWN}}
RETRYABLE = ("failed", "skipped")


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="the ``webhook-id`` the receiver saw (msg_…)")
    event_type: str
    instance_id: str | None
    status: DeliveryStatus = Field(
        description="pending (queued, or waiting to be tried again: see last_error), "
        "delivered, failed (gave up, or the endpoint answered 410), skipped (the endpoint "
        "was disabled when its turn came)"
    )
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None = Field(description="while pending: when it is tried next")


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep_previous_for: str | None = Field(
        default="PT24H",
        max_length=50,
        description="ISO 8601 duration the old secret keeps signing (at most P30D); "
        "null: it stops at once",
    )


def _out(endpoint: EventEndpoint, *, now: datetime) -> EndpointOut:
    expires = endpoint.previous_expires_at
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        event_types=[str(t) for t in endpoint.event_types],
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        secret_prefix=endpoint.secret[:12],
        previous_secret_expires_at=expires
        if endpoint.previous_secret and expires and expires > now
        else None,
        created_at=endpoint.created_at,
        created_by=endpoint.created_by,
        updated_at=endpoint.updated_at,
    )


def _get(session: Session, endpoint_id: str) -> EventEndpoint:
    endpoint = session.get(EventEndpoint, endpoint_id)
    if endpoint is None:
        raise not_found("event endpoint", endpoint_id)
    return endpoint


def _delivery(row: Outbox) -> DeliveryOut:
    payload: dict[str, Any] = row.payload
    return DeliveryOut(
        id=row.id,
        event_id=str(payload.get("event_id", "")),
        event_type=str(payload.get("type", "")),
        instance_id=row.instance_id,
        status=_SHOWN.get(row.status, "failed"),
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.done_at if row.status == "done" else None,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
    )


def _deliveries(endpoint_id: str) -> Select[Outbox]:
    return select(Outbox).where(
        Outbox.kind == "deliver_event",
        Outbox.payload["endpoint_id"].as_string() == endpoint_id,
    )


def _types(given: list[EventType]) -> list[str]:
    return [t for t in events.EVENT_TYPES if t in given]


@router.get("", response_model=list[EndpointOut])
def list_endpoints(session: SessionDep, me: AdminUser) -> list[EndpointOut]:
    now = clock.now()
    rows = session.scalars(
        select(EventEndpoint).order_by(EventEndpoint.created_at, EventEndpoint.id)
    )
    return [_out(row, now=now) for row in rows]


@router.post("", response_model=EndpointWithSecret, status_code=201)
def create_endpoint(body: EndpointCreate, session: SessionDep, me: AdminUser) -> EndpointWithSecret:
    """Register an endpoint for the event types it wants; its secret is in this answer only."""
    now = clock.now()
    secret = events.new_secret()
    endpoint = EventEndpoint(
        url=body.url,
        description=body.description,
        event_types=_types(body.event_types),
        secret=secret,
        enabled=True,
        created_at=now,
        created_by=me.username,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    audit(
        session,
        "event_endpoint.created",
        actor=me.username,
        now=now,
        endpoint=endpoint.id,
        url=endpoint.url,
        event_types=endpoint.event_types,
    )
    session.commit()
    return EndpointWithSecret(**_out(endpoint, now=now).model_dump(), secret=secret)


@router.get("/{endpoint_id}", response_model=EndpointOut)
def get_endpoint(endpoint_id: str, session: SessionDep, me: AdminUser) -> EndpointOut:
    return _out(_get(session, endpoint_id), now=clock.now())


@router.patch("/{endpoint_id}", response_model=EndpointOut)
def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, session: SessionDep, me: AdminUser
) -> EndpointOut:
    now = clock.now()
    endpoint = _get(session, endpoint_id)
    changed = body.model_dump(exclude_unset=True)
    if "url" in changed and body.url is not None:
        endpoint.url = body.url
    if "event_types" in changed and body.event_types is not None:
        endpoint.event_types = _types(body.event_types)
    if "description" in changed and body.description is not None:
        endpoint.description = body.description
    if "enabled" in changed and body.enabled is not None:
        endpoint.enabled = body.enabled
        endpoint.disabled_reason = None if body.enabled else f"turned off by {me.username}"
    endpoint.updated_at = now
    audit(
        session,
        "event_endpoint.updated",
        actor=me.username,
        now=now,
        endpoint=endpoint.id,
        fields=sorted(changed),
    )
    session.commit()
    return _out(endpoint, now=now)


@router.delete("/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: str, session: SessionDep, me: AdminUser) -> Response:
    """Delete an endpoint; events queued for it are skipped."""
    now = clock.now()
    endpoint = _get(session, endpoint_id)
    session.delete(endpoint)
    audit(session, "event_endpoint.deleted", actor=me.username, now=now, endpoint=endpoint_id)
    session.commit()
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate", response_model=EndpointWithSecret)
def rotate_secret(
    endpoint_id: str, session: SessionDep, me: AdminUser, body: RotateIn | None = None
) -> EndpointWithSecret:
    """A new signing secret (shown once). Deliveries carry a signature by each valid secret,
    so the previous one keeps working for ``keep_previous_for``."""
    now = clock.now()
    keep = _keep(body.keep_previous_for if body is not None else "PT24H")
    endpoint = _get(session, endpoint_id)
    secret = events.new_secret()
    endpoint.previous_secret = endpoint.secret if keep else None
    endpoint.previous_expires_at = now + keep if keep else None
    endpoint.secret = secret
    endpoint.updated_at = now
    audit(
        session,
        "event_endpoint.secret_rotated",
        actor=me.username,
        now=now,
        endpoint=endpoint.id,
        previous_until=endpoint.previous_expires_at.isoformat()
        if endpoint.previous_expires_at
        else None,
    )
    session.commit()
    return EndpointWithSecret(**_out(endpoint, now=now).model_dump(), secret=secret)


@router.get("/{endpoint_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    endpoint_id: str,
    session: SessionDep,
    me: AdminUser,
    status: Annotated[
        str,
        Query(
            pattern="^(pending|delivered|done|failed|skipped|all)$",
            description="``done`` is ``delivered`` by its outbox name",
        ),
    ] = "all",
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[DeliveryOut]:
    """What was sent (or is queued) to an endpoint, newest first."""
    _get(session, endpoint_id)
    query = _deliveries(endpoint_id)
    if status != "all":
        query = query.where(Outbox.status == _STORED[status])
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Outbox.created_at.desc(), Outbox.id.desc()).offset(offset).limit(limit)
    )
    return Page(items=[_delivery(r) for r in rows], total=total, offset=offset, limit=limit)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
def retry_delivery(
    endpoint_id: str,
    delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    session: SessionDep,
    me: AdminUser,
) -> DeliveryOut:
    """Send a failed (or skipped) delivery again: pending, due now, attempts from 0, the same
    ``webhook-id``. 409 ``not_retryable`` while it is pending or once it is delivered;
    409 ``endpoint_disabled`` until the endpoint is turned on again."""
    now = clock.now()
    endpoint = _get(session, endpoint_id)
    row = session.scalar(_deliveries(endpoint_id).where(Outbox.id == delivery_id))
    if row is None:
        raise not_found("delivery", str(delivery_id))
    if row.status not in RETRYABLE:
        shown = _SHOWN.get(row.status, row.status)
        raise ApiError(
            409,
            "not_retryable",
            f"this delivery is {shown}; only a failed or skipped one is sent again",
        )
    if not endpoint.enabled:
        raise ApiError(
            409, "endpoint_disabled", "the endpoint is disabled: turn it on before retrying"
        )
    audit(
        session,
        "event_delivery.retried",
        actor=me.username,
        now=now,
        instance_id=row.instance_id,
        endpoint=endpoint_id,
        delivery=row.id,
        event_id=row.payload.get("event_id"),
        was=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
    )
    row.status, row.attempts, row.last_error = "pending", 0, None
    row.next_attempt_at, row.done_at = now, None
    session.commit()
    return _delivery(row)


def _keep(text: str | None) -> timedelta:
    if text is None:
        return timedelta(0)
    try:
        duration = parse_duration(text)
    except DurationError as exc:
        raise ApiError(422, "invalid_request", f"keep_previous_for: {exc}") from None
    if duration.months:
        raise ApiError(422, "invalid_request", "keep_previous_for: give days, not months")
    keep = timedelta(days=duration.days, seconds=duration.seconds)
    if keep > MAX_KEEP:
        raise ApiError(422, "invalid_request", "keep_previous_for: at most P30D")
    return keep
