"""Instances: start, list, detail, history, cancel, suspend/resume, data correction, incidents."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, cast, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from app import clock
from app.db.models import AuditEvent, Comment, Incident, Instance, Outbox, Task, Workflow
from app.deps import AdminUser, CurrentUser, Principal, SessionDep
from app.errors import ApiError, forbidden, not_found
from app.schemas import (
    ERRORS,
    AuditOut,
    CommentOut,
    DataCorrectionIn,
    IncidentOut,
    IncidentRow,
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
from engine import Cancel, RetryIncident, SkipIncident, UpdateData

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


def comment_out(c: Comment, task_name: str | None = None) -> CommentOut:
    return CommentOut(
        id=c.id,
        instance_id=c.instance_id,
        task_id=c.task_id,
        task_name=task_name,
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
        incidents=[incident_out(x) for x in incidents],
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
        workflow=workflow,
    )
    out = detail(session, instance)  # read in the same transaction: no second one to begin
    session.commit()
    return out


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
        Query(
            description="a data field: with `value`, its path (`order_id`, `customer.email`, "
            "`items.0.sku`); alone, `name=value` (a top-level field)",
            max_length=300,
        ),
    ] = None,
    value: Annotated[
        str | None,
        Query(
            description="the value `field` must equal: as text, or as the number or yes/no "
            "(`true`/`false`) it spells",
            max_length=500,
        ),
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
    if field and value is not None:
        query = query.where(data_equals(session, data_path(field), value))
    elif field:
        name, sep, text = field.partition("=")
        if not sep or not name.isidentifier():
            raise ApiError(422, "invalid_request", "field must look like name=value")
        query = query.where(data_equals(session, [name], text))
    elif value is not None:
        raise ApiError(422, "invalid_request", "value needs a field")
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


PATH_PART = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_-]{0,99}|[0-9]{1,6})$")


def data_path(field: str) -> list[str | int]:
    """``customer.email`` -> ``["customer", "email"]``; ``items.0.sku`` -> ``["items", 0, "sku"]``."""
    parts = field.split(".")
    if len(parts) > 10 or not all(PATH_PART.match(p) for p in parts):
        raise ApiError(
            422,
            "invalid_request",
            "field must be a data path: names (letters, digits, _ and -) and list positions "
            "joined by dots, e.g. customer.email or items.0.sku",
        )
    return [int(p) if p.isdigit() else p for p in parts]


def _candidates(text: str) -> list[Any]:
    """What ``value=<text>`` may mean in JSON: the text, and the number or yes/no it spells."""
    found: list[Any] = [text]
    if text in ("true", "false"):
        found.append(text == "true")
    else:
        try:
            number = float(text)
        except ValueError:
            return found
        if math.isfinite(number):
            found.append(int(number) if number.is_integer() and abs(number) < 2**53 else number)
    return found


def data_equals(session: Session, path: list[str | int], text: str) -> ColumnElement[bool]:
    """The instance data at ``path`` equals ``text``, or the number or yes/no it spells: JSON
    equality on PostgreSQL (``#>`` and ``jsonb``) and on SQLite (``json_extract`` and
    ``json_type``, so that the text ``"1"`` and the number ``1`` stay apart)."""
    values = _candidates(text)
    if session.get_bind().dialect.name == "postgresql":
        at = Instance.state[("data", *path)]
        return or_(*(at == cast(v, JSONB) for v in values))  # JSONB serialises v
    where = "$.data" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"' for p in path)
    kind = func.json_type(Instance.state, where)
    found = func.json_extract(Instance.state, where)
    tests = []
    for v in values:
        if isinstance(v, bool):
            tests.append(kind == ("true" if v else "false"))
        elif isinstance(v, str):
            tests.append(and_(kind == "text", found == v))
        else:
            tests.append(and_(kind.in_(("integer", "real")), found == v))
    return or_(*tests)


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


class PathStep(BaseModel):
    node: str
    name: str
    type: str
    at: datetime
    edge: str | None = Field(description="the connection it came by (null: the start)")
    token: str = Field(description="the path it was on (parallel branches have their own)")


class PathEdge(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    from_: str = Field(alias="from")
    to: str
    label: str | None
    at: datetime


class PathWait(BaseModel):
    node: str
    name: str
    type: str
    kind: str = Field(description="task, approval, timer, message, http, table, subworkflow")
    since: datetime | None
    tasks: list[TaskOut] = Field(default_factory=list)
    message: str | None = None
    until: datetime | None = Field(default=None, description="when a timer fires")


class PathDecision(BaseModel):
    node: str
    name: str
    kind: str = Field(description="exclusive, inclusive, decision (table), leave, join")
    at: datetime | None
    inputs: dict[str, Any] = Field(description="the data values the rules read")
    evaluated: list[dict[str, Any]] = Field(description="each condition and its result")
    chosen: list[str] = Field(description="the connections taken")
    output: Any = None
    reason: str


class PathOut(BaseModel):
    instance_id: str
    status: str
    stage: str | None
    steps: list[PathStep] = Field(description="the nodes visited, in order")
    edges: list[PathEdge] = Field(description="the connections taken, in order")
    waiting: list[PathWait] = Field(description="where it waits now")
    decisions: list[PathDecision]


@router.get("/instances/{instance_id}/path", response_model=PathOut)
def instance_path(
    instance_id: str, request: Request, session: SessionDep, me: CurrentUser
) -> PathOut:
    """The way the instance went: the nodes it visited and the connections it took, in order;
    where it waits now; and each decision with the values it saw and why it went that way."""
    instance = visible_instance(session, me, instance_id)
    compiled = cache(request).get(session, instance.workflow_key, instance.workflow_version)
    state = instance.state
    edges = {e.id: e for e in compiled.definition.edges}

    def node_name(node_id: str) -> str:
        node = compiled.nodes.get(node_id)
        return (node.name if node is not None else "") or node_id

    def node_type(node_id: str) -> str:
        node = compiled.nodes.get(node_id)
        return str(node.type) if node is not None else "unknown"

    steps: list[PathStep] = []
    taken: list[PathEdge] = []
    for entry in state.get("path", []):
        at = datetime.fromisoformat(entry["at"])
        node_id, edge_id = entry["node"], entry.get("edge")
        steps.append(
            PathStep(
                node=node_id,
                name=node_name(node_id),
                type=node_type(node_id),
                at=at,
                edge=edge_id,
                token=entry.get("token", ""),
            )
        )
        edge = edges.get(edge_id) if edge_id else None
        if edge is not None:
            taken.append(
                PathEdge(id=edge.id, from_=edge.from_, to=edge.to, label=edge.label, at=at)
            )
    tasks = {
        t.engine_id: t
        for t in session.scalars(
            select(Task).where(Task.instance_id == instance.id, Task.status == "open")
        )
    }
    waiting: list[PathWait] = []
    for wait_id, wait in (state.get("waits") or {}).items():
        node_id = wait.get("node", "")
        since = next(
            (s.at for s in reversed(steps) if s.node == node_id and s.token == wait.get("token")),
            None,
        )
        timer = (state.get("timers") or {}).get(wait_id) if wait.get("kind") == "timer" else None
        waiting.append(
            PathWait(
                node=node_id,
                name=node_name(node_id),
                type=node_type(node_id),
                kind=wait.get("kind", ""),
                since=since,
                tasks=[task_out(tasks[t]) for t in wait.get("tasks", ()) if t in tasks],
                message=wait.get("message"),
                until=datetime.fromisoformat(timer["at"]) if timer else None,
            )
        )
    decisions = [
        PathDecision(
            node=d.get("node", ""),
            name=node_name(d.get("node", "")),
            kind=d.get("kind", ""),
            at=datetime.fromisoformat(d["at"]) if d.get("at") else None,
            inputs=d.get("inputs") or {},
            evaluated=d.get("evaluated") or [],
            chosen=d.get("chosen") or [],
            output=d.get("output"),
            reason=decision_reason(d, edges),
        )
        for d in state.get("decisions", [])
    ]
    return PathOut(
        instance_id=instance.id,
        status=instance.status,
        stage=instance.stage,
        steps=steps,
        edges=taken,
        waiting=waiting,
        decisions=decisions,
    )


def decision_reason(record: dict[str, Any], edges: dict[str, Any]) -> str:
    """A sentence for a recorded decision: which conditions held, which rule matched."""

    def way(edge_id: str) -> str:
        edge = edges.get(edge_id)
        label = edge.label if edge is not None and edge.label else None
        target = edge.to if edge is not None else edge_id
        return f"“{label}”" if label else f"the way to {target}"

    kind = record.get("kind")
    evaluated = record.get("evaluated") or []
    chosen = record.get("chosen") or []
    held = [e["condition"] for e in evaluated if e.get("result")]
    failed = [e["condition"] for e in evaluated if not e.get("result")]
    if record.get("error"):
        return f"could not decide: {record['error']}"
    if kind == "join":
        return f"all arriving branches were in ({', '.join(record.get('arrived') or [])})"
    if kind == "decision":
        matched = [int(m) + 1 for m in record.get("matched") or []]
        if not matched:
            if "output" in record:
                return f"no rule matched; the default {record['output']!r} applies"
            return "no rule matched and there is no default"
        rules = ", ".join(str(m) for m in matched)
        return f"rule{'s' if len(matched) > 1 else ''} {rules} matched: {record.get('output')!r}"
    if not chosen:
        return "no condition held and there is no default path"
    prefix = f"outcome {record['outcome']!r}: " if record.get("outcome") is not None else ""
    ways = ", ".join(way(c) for c in chosen)
    if held:
        return f"{prefix}{' and '.join(held)} held, so {ways}"
    if failed:
        return f"{prefix}none of {', '.join(failed)} held, so the default: {ways}"
    return f"{prefix}{ways}"


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


@router.get("/incidents", response_model=Page[IncidentRow])
def list_incidents(
    session: SessionDep,
    me: AdminUser,
    status: Annotated[str, Query(pattern="^(open|resolved|skipped|closed|all)$")] = "open",
    workflow: str | None = None,
    code: str | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[IncidentRow]:
    """Incidents across instances, newest first, each with its instance. ``open`` (the
    default): those still stopping a running instance; ``resolved`` (retried), ``skipped``,
    ``closed`` (their instance ended or was cancelled) or ``all``."""
    query = select(Incident, Instance).join(Instance, Instance.id == Incident.instance_id)
    if status == "open":
        query = query.where(Incident.status == "open", Instance.status == "running")
    elif status == "closed":
        query = query.where(or_(Incident.status == "closed", Instance.status != "running"))
    elif status != "all":
        query = query.where(Incident.status == status)
    if workflow:
        query = query.where(Instance.workflow_key == workflow)
    if code:
        query = query.where(Incident.code == code)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Incident.created_at.desc(), Incident.id).offset(offset).limit(limit)
    )
    items = [
        IncidentRow(**incident_out(incident).model_dump(), instance=summary(instance))
        for incident, instance in rows
    ]
    return Page(items=items, total=total, offset=offset, limit=limit)


def incident_out(x: Incident) -> IncidentOut:
    return IncidentOut(
        id=x.id,
        engine_id=x.engine_id,
        node=x.node,
        code=x.code,
        message=x.message,
        details=x.details,
        status=x.status,
        created_at=x.created_at,
    )


@router.post("/instances/{instance_id}/incidents/{incident_id}/retry", response_model=InstanceOut)
def retry_incident(
    instance_id: str, incident_id: str, request: Request, session: SessionDep, me: AdminUser
) -> InstanceOut:
    """Run the step that raised the incident again (after its cause was fixed). A notification
    that could not be sent is sent again."""
    return _act_on_incident(session, request, me, instance_id, incident_id, skip=False)


@router.post("/instances/{instance_id}/incidents/{incident_id}/skip", response_model=InstanceOut)
def skip_incident(
    instance_id: str, incident_id: str, request: Request, session: SessionDep, me: AdminUser
) -> InstanceOut:
    """Go on past the step as if it had done its work (its result stays unset): for a call whose
    effect was made by hand. A notification that could not be sent is given up. Incidents at a
    gateway cannot be skipped (409): which way to go is not the admin's guess to make."""
    return _act_on_incident(session, request, me, instance_id, incident_id, skip=True)


def _act_on_incident(
    session: Session,
    request: Request,
    me: Principal,
    instance_id: str,
    incident_id: str,
    *,
    skip: bool,
) -> InstanceOut:
    instance = lock_instance(session, instance_id)
    incident = session.get(Incident, incident_id)
    if incident is None or incident.instance_id != instance_id:
        raise not_found("incident", incident_id)
    if incident.status != "open":
        raise ApiError(409, "incident_closed", f"this incident is already {incident.status}")
    now = clock.now()
    if incident.engine_id.startswith("outbox:"):  # raised by the outbox, not by the engine
        row = session.get(Outbox, int(incident.engine_id.removeprefix("outbox:")))
        if row is not None and not skip:
            row.status, row.attempts, row.next_attempt_at, row.done_at = "pending", 0, now, None
        incident.status, incident.resolved_at = ("skipped" if skip else "resolved"), now
        instance.open_incidents = max(0, instance.open_incidents - 1)
    else:
        command = SkipIncident if skip else RetryIncident
        runner.run_command(
            session,
            cache=cache(request),
            instance=instance,
            command=command(incident.engine_id, by=me.username),
            actor=me.username,
            now=now,
        )
        if skip:
            incident.status = "skipped"
    audit(
        session,
        "incident.skipped" if skip else "incident.retried",
        actor=me.username,
        instance_id=instance_id,
        now=now,
        incident=incident_id,
    )
    session.commit()
    return detail(session, instance)
