"""The inbox page: my open work, most urgent first; live updates; saved views.

``GET /api/inbox`` is the employee's list (mine, delegated to me, my roles' pools, with SLA
state); ``GET /api/tasks`` stays the general task list (done by me, delegated by me, every task
an admin may see). See ``app/services/inbox.py`` for the rules.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.db.models import SavedView
from app.deps import CurrentUser, Principal, SessionDep
from app.errors import ApiError, not_found
from app.routes.instances import as_utc, task_out
from app.schemas import ERRORS, ErrorResponse, TaskOut
from app.services import inbox
from app.services.inbox import InboxFilter, InboxRow, InboxWatch

router = APIRouter(prefix="/api", tags=["inbox"], responses=ERRORS)

Scope = Literal["all", "mine", "roles", "delegated"]
SlaState = Literal["overdue", "at_risk", "ok", "none"]
Sort = Literal["sla", "due", "-due", "created", "-created", "priority"]
MAX_VIEWS = 100
POLL_S = 1.0
"""How often the live updates look for changed tasks."""
HEARTBEAT_S = 15.0
"""A comment line this often when nothing else was sent, so proxies keep the stream open."""


class InboxItem(TaskOut):
    source: Literal["mine", "delegated", "pool"] = Field(
        description="why it is in my inbox: I hold it; it was handed to me (delegated, or "
        "covering for someone away); it is offered to me or my role"
    )
    sla_state: Literal["overdue", "at_risk", "ok"] | None = Field(
        description="null: the task has no due time"
    )
    seconds_left: int | None = Field(description="until due; negative once late")
    risk_at: datetime | None
    workflow_name: str
    stage: str | None = Field(description="the instance's current stage")
    business_key: str | None = Field(description="the instance's key, e.g. the order id")


class InboxPage(BaseModel):
    items: list[InboxItem]
    total: int
    offset: int
    limit: int
    now: datetime = Field(description="the service's time the SLA states were judged at")


class InboxQuery(BaseModel):
    """The parameters of ``GET /api/inbox`` a saved view keeps (all but ``offset``)."""

    model_config = ConfigDict(extra="forbid")
    scope: Scope = "all"
    workflow: str | None = Field(default=None, max_length=100)
    stage: str | None = Field(default=None, max_length=200)
    due_before: datetime | None = None
    due_after: datetime | None = None
    q: str | None = Field(default=None, max_length=200)
    sla: SlaState | None = None
    sort: Sort = "sla"
    limit: int = Field(default=50, ge=1, le=200)


class ViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    query: InboxQuery = Field(default_factory=InboxQuery)


class ViewOut(BaseModel):
    id: str
    name: str
    query: InboxQuery
    created_at: datetime


def item(row: InboxRow, me: Principal, now: datetime, threshold: timedelta) -> InboxItem:
    task = row.task
    return InboxItem(
        **task_out(task).model_dump(),
        source=inbox.source(task, me),
        sla_state=inbox.sla_state(task, now, threshold),
        seconds_left=inbox.seconds_left(task, now),
        risk_at=task.risk_at,
        workflow_name=row.workflow_name,
        stage=row.stage,
        business_key=row.business_key,
    )


def _filter(query: InboxQuery) -> InboxFilter:
    return InboxFilter(
        scope=query.scope,
        workflow=query.workflow,
        stage=query.stage,
        due_before=as_utc(query.due_before) if query.due_before else None,
        due_after=as_utc(query.due_after) if query.due_after else None,
        q=query.q,
        sla=query.sla,
        sort=query.sort,
    )


@router.get("/inbox", response_model=InboxPage)
def get_inbox(
    request: Request,
    session: SessionDep,
    me: CurrentUser,
    scope: Annotated[
        Scope,
        Query(description="mine: held by me; delegated: handed to me; roles: pools; all"),
    ] = "all",
    workflow: Annotated[str | None, Query(max_length=100)] = None,
    stage: Annotated[str | None, Query(max_length=200, description="the instance's")] = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="in the task's and workflow's name, the order id"),
    ] = None,
    sla: SlaState | None = None,
    sort: Annotated[
        Sort, Query(description="sla: overdue, then at risk, then by priority and due")
    ] = "sla",
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InboxPage:
    """My open tasks: held by me, handed to me, and my roles' pools; overdue and at-risk
    first, then by priority and due time."""
    query = InboxQuery(
        scope=scope,
        workflow=workflow,
        stage=stage,
        due_before=due_before,
        due_after=due_after,
        q=q or None,
        sla=sla,
        sort=sort,
        limit=limit,
    )
    now = clock.now()
    threshold = inbox.at_risk_threshold(request.app.state.settings)
    rows, total = inbox.list_inbox(
        session,
        me=me,
        f=_filter(query),
        now=now,
        threshold=threshold,
        offset=offset,
        limit=limit,
    )
    return InboxPage(
        items=[item(r, me, now, threshold) for r in rows],
        total=total,
        offset=offset,
        limit=limit,
        now=now,
    )


@router.get(
    "/inbox/events",
    response_class=EventSourceResponse,
    # errors are JSON, whatever the stream's own type
    responses={
        status: {"model": ErrorResponse, "content": {"application/json": {}}} for status in ERRORS
    },
)
async def inbox_events(
    request: Request,
    me: CurrentUser,
    max_seconds: Annotated[
        int,
        Query(
            ge=0,
            le=86_400,
            description="end the stream after this long (the browser's EventSource then "
            "reconnects); 0 ends it after the `ready` event",
        ),
    ] = 3600,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: `ready` (`{count}`) once, then `added` and `changed` (the inbox
    item) and `removed` (`{id}`) as tasks enter, change in, and leave my inbox, from any
    process; a `: ping` comment every 15 s when quiet. Only a client that accepts
    `text/event-stream` (as `EventSource` does) is kept listening; to others the stream ends
    after `ready`."""
    if "text/event-stream" not in request.headers.get("accept", ""):
        max_seconds = 0  # a plain HTTP client would wait for the end of the stream
    sessions: sessionmaker[Session] = request.app.state.read_sessionmaker
    threshold = inbox.at_risk_threshold(request.app.state.settings)
    watch = InboxWatch(me)

    def look(first: bool) -> list[tuple[str, str, InboxRow | None]]:
        with sessions() as session:
            return watch.start(session) if first else watch.poll(session)

    def events(changes: list[tuple[str, str, InboxRow | None]]) -> list[ServerSentEvent]:
        now = clock.now()
        out = []
        for kind, task_id, row in changes:
            data = item(row, me, now, threshold) if row is not None else {"id": task_id}
            out.append(ServerSentEvent(event=kind, data=data))
        return out

    await run_in_threadpool(look, True)
    yield ServerSentEvent(event="ready", data={"count": len(watch.known)}, retry=2000)
    began = last_sent = time.monotonic()
    while time.monotonic() - began < max_seconds:
        await anyio.sleep(POLL_S)
        if await request.is_disconnected():
            return
        found = events(await run_in_threadpool(look, False))
        for event in found:
            yield event
        if found:
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= HEARTBEAT_S:
            yield ServerSentEvent(comment="ping")
            last_sent = time.monotonic()


# --- saved views ------------------------------------------------------------------------------


def view_out(view: SavedView) -> ViewOut:
    return ViewOut(
        id=view.id,
        name=view.name,
        query=InboxQuery.model_validate(view.query),
        created_at=view.created_at,
    )


@router.get("/views", response_model=list[ViewOut], response_model_exclude_none=True)
def list_views(session: SessionDep, me: CurrentUser) -> list[ViewOut]:
    """My saved inbox views, by name."""
    rows = session.scalars(
        select(SavedView).where(SavedView.username == me.username).order_by(SavedView.name)
    )
    return [view_out(v) for v in rows]


@router.post("/views", response_model=ViewOut, response_model_exclude_none=True, status_code=201)
def save_view(body: ViewIn, session: SessionDep, me: CurrentUser) -> ViewOut:
    """Save a filter under a name of mine; 409 `exists` if I have one by that name."""
    mine = select(func.count()).where(SavedView.username == me.username)
    if (session.scalar(mine) or 0) >= MAX_VIEWS:
        raise ApiError(422, "too_many_views", f"keep at most {MAX_VIEWS} views")
    view = SavedView(
        username=me.username,
        name=body.name,
        query=body.query.model_dump(mode="json", exclude_defaults=True),
        created_at=clock.now(),
    )
    session.add(view)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "exists", f"you have a view named {body.name!r} already") from None
    return view_out(view)


@router.delete("/views/{view_id}", status_code=204)
def delete_view(view_id: str, session: SessionDep, me: CurrentUser) -> Response:
    view = session.get(SavedView, view_id)
    if view is None or view.username != me.username:
        raise not_found("view", view_id)
    session.delete(view)
    session.commit()
    return Response(status_code=204)
