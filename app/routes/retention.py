"""Retention: how long each workflow's finished instances are kept, and a sweep on demand."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app import clock
from app.db.models import Workflow
from app.deps import AdminUser, SessionDep
from app.errors import not_found
from app.schemas import ERRORS
from app.services import retention
from app.services.documents import DocumentStore
from app.services.records import audit

router = APIRouter(prefix="/api/admin/retention", tags=["admin"], responses=ERRORS)


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int | None = Field(
        ge=1, le=36500, description="keep finished instances this many days; null keeps them"
    )
    action: Literal["archive", "purge"] = Field(
        default="archive",
        description="archive: written to a JSON Lines file in the data folder, then removed",
    )


class RetentionOut(RetentionIn):
    workflow: str


class SweepOut(BaseModel):
    removed: dict[str, int]
    archived_to: list[str]


@router.get("", response_model=list[RetentionOut])
def list_retention(session: SessionDep, me: AdminUser) -> list[RetentionOut]:
    rows = session.scalars(
        select(Workflow).where(Workflow.archived.is_(False)).order_by(Workflow.key)
    )
    return [_out(w) for w in rows]


@router.put("/{key}", response_model=RetentionOut)
def set_retention(key: str, body: RetentionIn, session: SessionDep, me: AdminUser) -> RetentionOut:
    workflow = session.get(Workflow, key)
    if workflow is None:
        raise not_found("workflow", key)
    workflow.retention_days, workflow.retention_action = body.days, body.action
    audit(
        session,
        "workflow.retention",
        actor=me.username,
        now=clock.now(),
        key=key,
        days=body.days,
        mode=body.action,
    )
    session.commit()
    return _out(workflow)


@router.post("/sweep", response_model=SweepOut)
def sweep_now(request: Request, me: AdminUser) -> SweepOut:
    """Apply every workflow's retention now (the scheduler also does it every hour)."""
    settings = request.app.state.settings
    swept = retention.sweep(
        request.app.state.sessionmaker,
        now=clock.now(),
        archive_dir=settings.data_dir / "archive",
        documents=DocumentStore.of(settings),
    )
    return SweepOut(removed=swept.removed, archived_to=swept.archived_to)


def _out(workflow: Workflow) -> RetentionOut:
    return RetentionOut(
        workflow=workflow.key,
        days=workflow.retention_days,
        action="purge" if workflow.retention_action == "purge" else "archive",
    )
