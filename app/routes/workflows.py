"""Workflows: drafts, validation, publishing, versions, templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.db.models import Role, User, Workflow, WorkflowVersion
from app.deps import AdminUser, CurrentUser, DesignerUser, SessionDep
from app.errors import ApiError, not_found
from app.routes.calendars import calendar_names
from app.schemas import (
    ERRORS,
    DraftIn,
    ProblemOut,
    ValidationOut,
    VersionOut,
    WorkflowCreate,
    WorkflowOut,
    WorkflowSummary,
)
from app.services.records import audit
from app.services.schedules import check_cron
from designer.templates import list_templates, read_template
from engine import validate

router = APIRouter(prefix="/api", tags=["workflows"], responses=ERRORS)


def _summary(w: Workflow) -> WorkflowSummary:
    return WorkflowSummary(
        key=w.key,
        name=w.name,
        description=w.description,
        published_version=w.published_version,
        draft_revision=w.draft_revision,
        updated_at=w.updated_at,
        updated_by=w.updated_by,
    )


def _out(session: Session, w: Workflow) -> WorkflowOut:
    versions = list(
        session.scalars(
            select(WorkflowVersion.version)
            .where(WorkflowVersion.workflow_key == w.key)
            .order_by(WorkflowVersion.version)
        )
    )
    return WorkflowOut(**_summary(w).model_dump(), draft=w.draft, versions=versions)


def _get(session: Session, key: str) -> Workflow:
    workflow = session.get(Workflow, key)
    if workflow is None or workflow.archived:
        raise not_found("workflow", key)
    return workflow


def start_roles(draft: dict[str, Any]) -> list[str]:
    """Who may start a workflow: the roles its start's trigger names (none: anyone)."""
    for node in draft.get("nodes", []):
        if isinstance(node, dict) and node.get("type") == "start":
            roles = (node.get("trigger") or {}).get("roles") or []
            return [str(r) for r in roles]
    return []


def _problems(session: Session, draft: dict[str, Any]) -> list[ProblemOut]:
    problems = validate(
        draft,
        users=list(session.scalars(select(User.username))),
        roles=list(session.scalars(select(Role.name))),
        workflows=list(session.scalars(select(Workflow.key))),
        calendars=calendar_names(session),
    )
    out = [ProblemOut(**p.to_dict()) for p in problems]
    for node in draft.get("nodes", []) if isinstance(draft.get("nodes"), list) else []:
        trigger = node.get("trigger") if isinstance(node, dict) else None
        cron = trigger.get("cron") if isinstance(trigger, dict) else None
        if isinstance(trigger, dict) and trigger.get("type") == "schedule":
            message = (
                check_cron(cron)
                if isinstance(cron, str)
                else "a scheduled start needs a cron schedule"
            )
            if message:
                out.insert(
                    0,
                    ProblemOut(
                        code="bad_schedule",
                        message=message,
                        node=node.get("id"),
                        field="trigger.cron",
                        severity="error",
                    ),
                )
    return out


@router.get("/workflows", response_model=list[WorkflowSummary])
def list_workflows(session: SessionDep, me: CurrentUser) -> list[WorkflowSummary]:
    rows = session.scalars(
        select(Workflow).where(Workflow.archived.is_(False)).order_by(Workflow.key)
    )
    return [_summary(w) for w in rows]


@router.post("/workflows", response_model=WorkflowOut, status_code=201)
def create_workflow(body: WorkflowCreate, session: SessionDep, me: DesignerUser) -> WorkflowOut:
    now = clock.now()
    if session.get(Workflow, body.key) is not None:
        raise ApiError(409, "exists", f"a workflow with the key {body.key!r} exists already")
    draft = dict(body.draft) if body.draft else _empty_draft(body.key, body.name)
    draft["key"] = body.key
    workflow = Workflow(
        key=body.key,
        name=(body.name or str(draft.get("name") or body.key))[:200],
        description=body.description,
        draft=draft,
        created_by=me.username,
        updated_by=me.username,
        created_at=now,
        updated_at=now,
    )
    session.add(workflow)
    audit(session, "workflow.created", actor=me.username, now=now, key=body.key)
    session.commit()
    return _out(session, workflow)


def _empty_draft(key: str, name: str) -> dict[str, Any]:
    return {
        "format": 1,
        "key": key,
        "name": name or key,
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [{"id": "e1", "from": "start", "to": "end"}],
        "layout": {"start": {"x": 0, "y": 0}, "end": {"x": 240, "y": 0}},
    }


@router.get("/workflows/{key}", response_model=WorkflowOut)
def get_workflow(key: str, session: SessionDep, me: CurrentUser) -> WorkflowOut:
    return _out(session, _get(session, key))


@router.put("/workflows/{key}/draft", response_model=WorkflowOut)
def save_draft(key: str, body: DraftIn, session: SessionDep, me: DesignerUser) -> WorkflowOut:
    """Save the draft (any state, even invalid: validation tells what to fix)."""
    now = clock.now()
    workflow = session.scalar(select(Workflow).where(Workflow.key == key).with_for_update())
    if workflow is None or workflow.archived:
        raise not_found("workflow", key)
    if body.revision is not None and body.revision != workflow.draft_revision:
        raise ApiError(
            409,
            "stale_draft",
            f"the draft was changed by {workflow.updated_by} (revision {workflow.draft_revision}); reload it",
        )
    draft = dict(body.draft)
    draft["key"] = key
    workflow.draft = draft
    workflow.name = str(draft.get("name") or workflow.name)[:200]
    workflow.draft_revision += 1
    workflow.updated_at = now
    workflow.updated_by = me.username
    session.commit()
    return _out(session, workflow)


@router.post("/workflows/{key}/validate", response_model=ValidationOut)
def validate_draft(key: str, session: SessionDep, me: CurrentUser) -> ValidationOut:
    problems = _problems(session, _get(session, key).draft)
    return ValidationOut(valid=not any(p.severity == "error" for p in problems), problems=problems)


@router.post("/workflows/{key}/publish", response_model=VersionOut, status_code=201)
def publish(key: str, session: SessionDep, me: AdminUser) -> VersionOut:
    """Publish the draft as a new immutable version; instances stay on the version they started on."""
    now = clock.now()
    workflow = session.scalar(select(Workflow).where(Workflow.key == key).with_for_update())
    if workflow is None or workflow.archived:
        raise not_found("workflow", key)
    problems = _problems(session, workflow.draft)
    if any(p.severity == "error" for p in problems):
        raise ApiError(
            422,
            "invalid_workflow",
            "fix the problems before publishing",
            [p.model_dump() for p in problems],
        )
    version = (workflow.published_version or 0) + 1
    latest = session.scalar(
        select(WorkflowVersion.version)
        .where(WorkflowVersion.workflow_key == key)
        .order_by(WorkflowVersion.version.desc())
        .limit(1)
    )
    version = max(version, (latest or 0) + 1)
    row = WorkflowVersion(
        workflow_key=key,
        version=version,
        definition=workflow.draft,
        published_at=now,
        published_by=me.username,
    )
    session.add(row)
    workflow.published_version = version
    workflow.start_roles = start_roles(workflow.draft)
    audit(session, "workflow.published", actor=me.username, now=now, key=key, version=version)
    session.commit()
    return VersionOut(
        key=key,
        version=version,
        definition=row.definition,
        published_at=now,
        published_by=me.username,
    )


@router.get("/workflows/{key}/versions/{version}", response_model=VersionOut)
def get_version(key: str, version: int, session: SessionDep, me: CurrentUser) -> VersionOut:
    if not 1 <= version < 2**31:
        raise not_found("workflow version", f"{key} v{version}")
    row = session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_key == key, WorkflowVersion.version == version
        )
    )
    if row is None:
        raise not_found("workflow version", f"{key} v{version}")
    return VersionOut(
        key=key,
        version=version,
        definition=row.definition,
        published_at=row.published_at,
        published_by=row.published_by,
    )


@router.delete("/workflows/{key}", status_code=204)
def delete_draft(key: str, session: SessionDep, me: DesignerUser) -> None:
    """Delete a workflow that was never published (published ones are kept for their instances)."""
    workflow = _get(session, key)
    if workflow.published_version is not None:
        raise ApiError(
            409, "published", "a published workflow cannot be deleted; its instances refer to it"
        )
    session.delete(workflow)
    session.commit()


@router.get("/templates", response_model=list[dict[str, Any]], tags=["templates"])
def templates(me: CurrentUser) -> list[dict[str, Any]]:
    out = []
    for key in list_templates():
        raw = read_template(key)
        out.append(
            {"id": key, "name": raw.get("name", key), "description": raw.get("description", "")}
        )
    return out


@router.post(
    "/templates/{template_id}/use", response_model=WorkflowOut, status_code=201, tags=["templates"]
)
def use_template(
    template_id: str, body: WorkflowCreate, session: SessionDep, me: DesignerUser
) -> WorkflowOut:
    """Start a new workflow (``body.key``) from a template's draft."""
    try:
        raw = read_template(template_id)
    except KeyError:
        raise not_found("template", template_id) from None
    return create_workflow(
        WorkflowCreate(
            key=body.key,
            name=body.name or str(raw.get("name") or ""),
            description=body.description,
            draft=raw,
        ),
        session,
        me,
    )
