"""Instances: start, list, detail, history, cancel, suspend/resume, data correction, incidents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.db.models import AuditEvent, Comment, Incident, Instance, Task, Workflow
from app.deps import AdminUser, CurrentUser, Principal, SessionDep
from app.errors import ApiError, forbidden, not_found
from app.schemas import (
    ERRORS,
    AuditOut,
    CommentOut,
    DataCorrectionIn,
    IncidentOut,
    InstanceOut,
    InstanceSummary,
    Page,
    ReasonIn,
    StartIn,
    TaskOut,
)
from app.services import runner
from app.services.access import instance_visible
from app.services.records import audit
from app.services.runner import DefinitionCache, lock_instance
from engine import Cancel, RetryIncident, UpdateData

router = APIRouter(prefix="/api", tags=["instances"], responses=ERRORS)


def cache(request: Request) -> DefinitionCache:
    found: DefinitionCache = request.app.state.definitions
    return found


def summary(i: Instance) -> InstanceSummary:
    return InstanceSummary(
        id=i.id,
        workflow_key=i.workflow_key,
        workflow_version=i.workflow_version,
        status=i.status,
        suspended=i.suspended,
        stage=i.stage,
        business_key=i.business_key,
        parent_id=i.parent_id,
        started_by=i.started_by,
        started_at=i.started_at,
        updated_at=i.updated_at,
        finished_at=i.finished_at,
        open_incidents=i.open_incidents,
        version=i.version,
    )


def audit_out(r: AuditEvent) -> AuditOut:
    return AuditOut(
        id=r.id,
        at=r.at,
        actor=r.actor,
        on_behalf_of=r.on_behalf_of,
        action=r.action,
        instance_id=r.instance_id,
        task_id=r.task_id,
        details=r.details,
    )


def comment_out(c: Comment) -> CommentOut:
    return CommentOut(
        id=c.id,
        instance_id=c.instance_id,
        task_id=c.task_id,
        author=c.author,
        body=c.body,
        created_at=c.created_at,
    )


def task_out(t: Task) -> TaskOut:
    return TaskOut(
        id=t.id,
        instance_id=t.instance_id,
        workflow_key=t.workflow_key,
        node=t.node,
        name=t.name,
        status=t.status,
        assignee=t.assignee,
        candidate_users=t.candidate_users or [],
        candidate_roles=t.candidate_roles or [],
        delegated_from=t.delegated_from,
        priority=t.priority,
        due_at=t.due_at,
        overdue=t.overdue,
        at_risk=t.at_risk,
        created_at=t.created_at,
        completed_at=t.completed_at,
        completed_by=t.completed_by,
        outcome=t.outcome,
        outcomes=t.outcomes or [],
    )


def detail(session: Session, i: Instance) -> InstanceOut:
    state = i.state
    tasks = session.scalars(
        select(Task)
        .where(Task.instance_id == i.id, Task.status == "open")
        .order_by(Task.created_at)
    )
    incidents = session.scalars(
        select(Incident).where(Incident.instance_id == i.id).order_by(Incident.created_at)
    )
    return InstanceOut(
        **summary(i).model_dump(),
        data=state.get("data", {}),
        tracking_token=i.tracking_token,
        open_tasks=[task_out(t) for t in tasks],
        path=state.get("path", []),
        stages=state.get("stages", []),
        decisions=state.get("decisions", []),
        incidents=[
            IncidentOut(
                id=x.id,
                engine_id=x.engine_id,
                node=x.node,
                code=x.code,
                message=x.message,
                details=x.details,
                status=x.status,
                created_at=x.created_at,
            )
            for x in incidents
        ],
    )


def visible_instance(session: Session, me: Principal, instance_id: str) -> Instance:
    instance = session.scalar(
        select(Instance).where(Instance.id == instance_id, instance_visible(me))
    )
    if instance is None:
        raise not_found("instance", instance_id)
    return instance


def may_start(me: Principal, workflow: Workflow) -> bool:
    roles = set(workflow.start_roles or [])
    return me.is_admin or not roles or bool(roles & me.roles)


@router.post("/workflows/{key}/instances", response_model=InstanceOut, status_code=201)
def start(
    key: str, body: StartIn, request: Request, session: SessionDep, me: CurrentUser
) -> InstanceOut:
    workflow = session.get(Workflow, key)
    if workflow is None or workflow.archived:
        raise not_found("workflow", key)
    if not may_start(me, workflow):
        raise forbidden(f"starting {key} is for {', '.join(workflow.start_roles)}")
    instance = runner.start_instance(
        session,
        cache=cache(request),
        workflow_key=key,
        data=body.data,
        actor=me.username,
        now=clock.now(),
    )
    session.commit()
    return detail(session, instance)


SORTS = {
    "started_at": Instance.started_at,
    "updated_at": Instance.updated_at,
    "stage": Instance.stage,
}


@router.get("/instances", response_model=Page[InstanceSummary])
def list_instances(
    session: SessionDep,
    me: CurrentUser,
    workflow: str | None = None,
    status: str | None = None,
    stage: str | None = None,
    parent: str | None = None,
    business_key: Annotated[str | None, Query(description="e.g. the order id")] = None,
    field: Annotated[
        str | None,
        Query(description="a data field to match, as name=value (top-level field)", max_length=300),
    ] = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    sort: Annotated[str, Query(pattern="^-?(started_at|updated_at|stage)$")] = "-started_at",
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[InstanceSummary]:
    query = select(Instance).where(instance_visible(me))
    if workflow:
        query = query.where(Instance.workflow_key == workflow)
    if status:
        query = query.where(Instance.status == status)
    if stage:
        query = query.where(Instance.stage == stage)
    if parent:
        query = query.where(Instance.parent_id == parent)
    if business_key:
        query = query.where(Instance.business_key == business_key)
    if started_after:
        query = query.where(Instance.started_at >= as_utc(started_after))
    if started_before:
        query = query.where(Instance.started_at < as_utc(started_before))
    if field:
        name, sep, value = field.partition("=")
        if not sep or not name.isidentifier():
            raise ApiError(422, "invalid_request", "field must look like name=value")
        query = query.where(_data_field(session, name) == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = SORTS[sort.lstrip("-")]
    query = query.order_by(column.desc() if sort.startswith("-") else column.asc(), Instance.id)
    rows = session.scalars(query.offset(offset).limit(limit))
    return Page(items=[summary(i) for i in rows], total=total, offset=offset, limit=limit)


def as_utc(moment: datetime) -> datetime:
    """A time given without a zone is read as UTC; one outside the calendar is refused."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ApiError(
            422, "invalid_request", f"{moment.isoformat()} is outside the calendar"
        ) from None


def _data_field(session: Session, name: str) -> Any:
    """The text of a top-level data field, on either database."""
    return Instance.state["data"][name].as_string()


@router.get("/instances/{instance_id}", response_model=InstanceOut)
def get_instance(instance_id: str, session: SessionDep, me: CurrentUser) -> InstanceOut:
    return detail(session, visible_instance(session, me, instance_id))


@router.get("/instances/{instance_id}/history", response_model=list[AuditOut])
def history(instance_id: str, session: SessionDep, me: CurrentUser) -> list[AuditOut]:
    visible_instance(session, me, instance_id)
    rows = session.scalars(
        select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
    )
    return [audit_out(r) for r in rows]


@router.post("/instances/{instance_id}/cancel", response_model=InstanceOut)
def cancel(
    instance_id: str, body: ReasonIn, request: Request, session: SessionDep, me: CurrentUser
) -> InstanceOut:
    """Cancel an instance: an admin, or the person who started it."""
    instance = visible_instance(session, me, instance_id)
    if not me.is_admin and instance.started_by != me.username:
        raise forbidden("only an admin or whoever started it may cancel an instance")
    now = clock.now()
    instance = lock_instance(session, instance_id)
    runner.run_command(
        session,
        cache=cache(request),
        instance=instance,
        command=Cancel(body.reason, me.username),
        actor=me.username,
        now=now,
    )
    audit(
        session,
        "instance.cancelled",
        actor=me.username,
        instance_id=instance_id,
        now=now,
        reason=body.reason,
    )
    session.commit()
    return detail(session, instance)


@router.post("/instances/{instance_id}/suspend", response_model=InstanceOut)
def suspend(instance_id: str, body: ReasonIn, session: SessionDep, me: AdminUser) -> InstanceOut:
    return _suspend(session, me, instance_id, True, body.reason)


@router.post("/instances/{instance_id}/resume", response_model=InstanceOut)
def resume(instance_id: str, body: ReasonIn, session: SessionDep, me: AdminUser) -> InstanceOut:
    return _suspend(session, me, instance_id, False, body.reason)


def _suspend(
    session: Session, me: Principal, instance_id: str, suspended: bool, reason: str
) -> InstanceOut:
    instance = lock_instance(session, instance_id)
    if instance.status != "running":
        raise ApiError(409, "instance_finished", f"this instance is {instance.status}")
    instance.suspended = suspended
    now = clock.now()
    instance.updated_at = now
    action = "instance.suspended" if suspended else "instance.resumed"
    audit(session, action, actor=me.username, instance_id=instance_id, now=now, reason=reason)
    session.commit()
    return detail(session, instance)


@router.post("/instances/{instance_id}/data", response_model=InstanceOut)
def correct_data(
    instance_id: str, body: DataCorrectionIn, request: Request, session: SessionDep, me: AdminUser
) -> InstanceOut:
    """An admin's audited correction of the instance data (merged at the top level)."""
    instance = lock_instance(session, instance_id)
    if body.version is not None and body.version != instance.version:
        raise ApiError(
            409,
            "stale_version",
            f"the instance is at version {instance.version}, not {body.version}",
        )
    now = clock.now()
    before = {k: instance.state.get("data", {}).get(k) for k in body.data}
    was_suspended = instance.suspended
    instance.suspended = False
    runner.run_command(
        session,
        cache=cache(request),
        instance=instance,
        command=UpdateData(body.data, by=me.username),
        actor=me.username,
        now=now,
    )
    instance.suspended = was_suspended
    audit(
        session,
        "instance.data_corrected",
        actor=me.username,
        instance_id=instance_id,
        now=now,
        reason=body.reason,
        before=before,
        after=body.data,
    )
    session.commit()
    return detail(session, instance)


@router.post("/instances/{instance_id}/incidents/{incident_id}/retry", response_model=InstanceOut)
def retry_incident(
    instance_id: str, incident_id: str, request: Request, session: SessionDep, me: AdminUser
) -> InstanceOut:
    instance = lock_instance(session, instance_id)
    incident = session.get(Incident, incident_id)
    if incident is None or incident.instance_id != instance_id:
        raise not_found("incident", incident_id)
    now = clock.now()
    runner.run_command(
        session,
        cache=cache(request),
        instance=instance,
        command=RetryIncident(incident.engine_id, by=me.username),
        actor=me.username,
        now=now,
    )
    audit(
        session,
        "incident.retried",
        actor=me.username,
        instance_id=instance_id,
        now=now,
        incident=incident_id,
    )
    session.commit()
    return detail(session, instance)
