"""Out of office, and in-app notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update

from app import clock
from app.db.models import Notification, OutOfOffice, User
from app.deps import CurrentUser, SessionDep
from app.errors import ApiError, forbidden, not_found
from app.routes.instances import as_utc
from app.schemas import ERRORS, Page
from app.services.records import audit

router = APIRouter(prefix="/api", tags=["people"], responses=ERRORS)


class AwayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str | None = Field(default=None, description="whose window (admins only; default: mine)")
    starts_at: datetime
    ends_at: datetime
    delegate: str = Field(min_length=1, max_length=100)
    return_tasks: bool = Field(default=True, description="give back untouched tasks when it ends")
    note: str = Field(default="", max_length=500)


class AwayOut(BaseModel):
    id: str
    user: str
    delegate: str
    starts_at: datetime
    ends_at: datetime
    return_tasks: bool
    note: str
    active: bool


class NotificationOut(BaseModel):
    id: str
    title: str
    body: str
    instance_id: str | None
    task_id: str | None
    created_at: datetime
    read_at: datetime | None


def _away_out(w: OutOfOffice) -> AwayOut:
    now = clock.now()
    return AwayOut(
        id=w.id,
        user=w.username,
        delegate=w.delegate,
        starts_at=w.starts_at,
        ends_at=w.ends_at,
        return_tasks=w.return_tasks,
        note=w.note,
        active=w.starts_at <= now < w.ends_at,
    )


@router.get("/out-of-office", response_model=list[AwayOut])
def list_away(session: SessionDep, me: CurrentUser, user: str | None = None) -> list[AwayOut]:
    """My windows (admins: anyone's, or everyone's without ``user``), latest first."""
    query = select(OutOfOffice).order_by(OutOfOffice.starts_at.desc())
    if not me.is_admin:
        query = query.where(OutOfOffice.username == me.username)
    elif user:
        query = query.where(OutOfOffice.username == user)
    return [_away_out(w) for w in session.scalars(query.limit(200))]


@router.post("/out-of-office", response_model=AwayOut, status_code=201)
def set_away(body: AwayIn, session: SessionDep, me: CurrentUser) -> AwayOut:
    username = body.user or me.username
    if username != me.username and not me.is_admin:
        raise forbidden("only an admin may set someone else's out-of-office")
    if body.starts_at.tzinfo is None or body.ends_at.tzinfo is None:
        raise ApiError(
            422, "invalid_request", "give times with a time zone, e.g. 2026-12-01T09:00:00Z"
        )
    for moment in (body.starts_at, body.ends_at):
        as_utc(moment)  # refuses times outside the calendar
    if body.ends_at <= body.starts_at:
        raise ApiError(422, "invalid_request", "the window must end after it starts")
    if body.delegate == username:
        raise ApiError(422, "invalid_request", "the delegate must be someone else")
    for name in (username, body.delegate):
        if session.scalar(select(User.id).where(User.username == name, User.is_active)) is None:
            raise ApiError(422, "unknown_user", f"there is no active user {name!r}")
    now = clock.now()
    window = OutOfOffice(
        username=username,
        delegate=body.delegate,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        return_tasks=body.return_tasks,
        note=body.note,
        created_by=me.username,
        created_at=now,
    )
    session.add(window)
    audit(
        session,
        "out_of_office.set",
        actor=me.username,
        on_behalf_of=username,
        now=now,
        delegate=body.delegate,
        starts_at=body.starts_at.isoformat(),
        ends_at=body.ends_at.isoformat(),
    )
    session.commit()
    return _away_out(window)


@router.delete("/out-of-office/{window_id}", status_code=204)
def delete_away(window_id: str, session: SessionDep, me: CurrentUser) -> None:
    window = session.get(OutOfOffice, window_id)
    if window is None or (window.username != me.username and not me.is_admin):
        raise not_found("out-of-office window", window_id)
    now = clock.now()
    if window.starts_at <= now:
        window.ends_at = min(window.ends_at, now)  # end it now; the sweep gives tasks back
    else:
        session.delete(window)
    audit(session, "out_of_office.ended", actor=me.username, on_behalf_of=window.username, now=now)
    session.commit()


@router.get("/notifications", response_model=Page[NotificationOut])
def notifications(
    session: SessionDep,
    me: CurrentUser,
    unread: bool = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[NotificationOut]:
    query = select(Notification).where(Notification.username == me.username)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Notification.created_at.desc()).offset(offset).limit(limit)
    )
    items = [
        NotificationOut(
            id=n.id,
            title=n.title,
            body=n.body,
            instance_id=n.instance_id,
            task_id=n.task_id,
            created_at=n.created_at,
            read_at=n.read_at,
        )
        for n in rows
    ]
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.post("/notifications/{notification_id}/read", status_code=204)
def mark_read(notification_id: str, session: SessionDep, me: CurrentUser) -> None:
    row = session.get(Notification, notification_id)
    if row is None or row.username != me.username:
        raise not_found("notification", notification_id)
    row.read_at = row.read_at or clock.now()
    session.commit()


@router.post("/notifications/read-all", status_code=204)
def mark_all_read(session: SessionDep, me: CurrentUser) -> None:
    session.execute(
        update(Notification)
        .where(Notification.username == me.username, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    session.commit()
