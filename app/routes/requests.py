"""New requests and my requests: what I may start, and the instances I started."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from app.db.models import Instance, Workflow
from app.deps import CurrentUser, SessionDep
from app.routes.instances import cache, may_start
from app.schemas import ERRORS, Page

router = APIRouter(prefix="/api", tags=["requests"], responses=ERRORS)

PERSON_TRIGGERS = ("manual", "api", "webhook")
"""Start triggers a person may start by hand; scheduled workflows start themselves."""


class StartableOut(BaseModel):
    key: str
    name: str
    description: str
    category: str = Field(default="", description="the workflow's category, empty if none")
    version: int = Field(description="the published version a start runs")
    trigger: str = Field(description="manual (meant to be started by people), api or webhook")
    form: dict[str, Any] | None = Field(description="the start form (JSON Schema), if any")
    data_schema: dict[str, Any] | None = Field(
        description="the JSON Schema the start data must fit, if the workflow has one"
    )


class RequestOut(BaseModel):
    id: str
    workflow_key: str
    workflow_name: str
    status: str
    stage: str | None
    business_key: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@router.get("/startable", response_model=list[StartableOut])
def startable(request: Request, session: SessionDep, me: CurrentUser) -> list[StartableOut]:
    """The published workflows I may start (a start trigger's roles respected), manual ones
    first, then by name; start with ``POST /api/workflows/{key}/instances``."""
    rows = session.scalars(
        select(Workflow).where(Workflow.published_version.isnot(None), Workflow.archived.is_(False))
    )
    found: list[StartableOut] = []
    for workflow in rows:
        version = workflow.published_version
        if version is None or not may_start(me, workflow):
            continue
        compiled = cache(request).get(session, workflow.key, version)
        start = compiled.nodes[compiled.start]
        if start.trigger.type not in PERSON_TRIGGERS:
            continue
        definition = compiled.definition
        found.append(
            StartableOut(
                key=workflow.key,
                name=definition.name or workflow.name or workflow.key,
                description=definition.description or workflow.description,
                category=definition.category,
                version=version,
                trigger=start.trigger.type,
                form=start.form,
                data_schema=definition.data,
            )
        )
    found.sort(key=lambda w: (w.trigger != "manual", w.name.lower(), w.key))
    return found


@router.get("/requests", response_model=Page[RequestOut])
def my_requests(
    session: SessionDep,
    me: CurrentUser,
    status: Annotated[
        str | None, Query(max_length=20, description="running, completed, cancelled, ...")
    ] = None,
    workflow: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[RequestOut]:
    """The instances I started, newest first."""
    where = [Instance.started_by == me.username]
    if status:
        where.append(Instance.status == status)
    if workflow:
        where.append(Instance.workflow_key == workflow)
    total = session.scalar(select(func.count(Instance.id)).where(*where)) or 0
    rows = session.execute(
        select(Instance, Workflow.name)
        .join(Workflow, Workflow.key == Instance.workflow_key)
        .where(*where)
        .order_by(Instance.started_at.desc(), Instance.id.desc())
        .offset(offset)
        .limit(limit)
    )
    items = [
        RequestOut(
            id=i.id,
            workflow_key=i.workflow_key,
            workflow_name=name or i.workflow_key,
            status=i.status,
            stage=i.stage,
            business_key=i.business_key,
            started_at=i.started_at,
            updated_at=i.updated_at,
            finished_at=i.finished_at,
        )
        for i, name in rows
    ]
    return Page(items=items, total=total, offset=offset, limit=limit)
