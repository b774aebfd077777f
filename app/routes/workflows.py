"""Workflows: drafts, validation, publishing, versions, templates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.db.models import GalleryTemplate, Role, User, Workflow, WorkflowVersion
from app.deps import AdminUser, CurrentUser, DesignerUser, Principal, SessionDep
from app.errors import ApiError, forbidden, not_found
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
from app.services.templates import problems as template_problems
from designer import Scenario, Simulation, sample_for, simulate
from designer.templates import list_templates, read_template
from engine import Definition, DefinitionError, EngineError, parse_definition, validate

router = APIRouter(prefix="/api", tags=["workflows"], responses=ERRORS)


MAX_MOVES = 1000
"""The most moves a test run plays after its start (a loop with no exit stops there)."""


class DefinitionIn(BaseModel):
    """A definition to check without saving it."""

    model_config = ConfigDict(extra="forbid")
    definition: dict[str, Any]


class WorkflowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _name_or_description(self) -> WorkflowUpdate:
        if self.name is None and self.description is None:
            raise ValueError("give a name or a description")
        if self.name is not None and not self.name.strip():
            raise ValueError("a workflow's name cannot be empty")
        return self


class SimulateIn(BaseModel):
    """A test run: what to run and how the outside world answers.

    Attributes:
        definition: the definition to run; default: the saved draft.
        data: the start data; default: sample data from the ``data`` schema and start form.
        start: when the run starts (repeat it to replay the same run step by step).
        moves: how many answers to play after the start; ``None``: to the end.
        tasks: form data per step id (over the form's sample data).
        outcomes: the outcome chosen per approval step id.
        hold: steps whose tasks nobody completes (timers then decide).
        http_fail: http steps whose calls fail.
        messages: whether awaited messages arrive.
    """

    model_config = ConfigDict(extra="forbid")
    definition: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    start: datetime | None = None
    moves: int | None = Field(default=None, ge=0, le=MAX_MOVES)
    tasks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    outcomes: dict[str, str] = Field(default_factory=dict)
    hold: list[str] = Field(default_factory=list, max_length=10_000)
    http_fail: list[str] = Field(default_factory=list, max_length=10_000)
    messages: bool = True


class SimPathOut(BaseModel):
    node: str
    edge: str | None
    at: datetime


class SimStepOut(BaseModel):
    at: datetime
    command: str
    effects: list[str]


class SimTimerOut(BaseModel):
    purpose: str
    at: datetime
    edge: str | None = None


class SimWaitOut(BaseModel):
    """Where a token of the run waits now."""

    node: str
    name: str
    type: str
    kind: str
    task_id: str | None = None
    sample: dict[str, Any] | None = None
    outcomes: list[str] = Field(default_factory=list)
    timers: list[SimTimerOut] = Field(default_factory=list)


class SimIncidentOut(BaseModel):
    node: str | None
    code: str
    message: str


class SimulationOut(BaseModel):
    start: datetime
    start_data: dict[str, Any]
    status: str
    finished: bool
    moves: int
    now: datetime
    path: list[SimPathOut]
    current: list[str]
    waiting: list[SimWaitOut]
    incidents: list[SimIncidentOut]
    steps: list[SimStepOut]
    data: dict[str, Any]
    stage: str | None


def start_sample(definition: Definition) -> dict[str, Any]:
    """Start data for a test run: samples of the ``data`` schema and of the start form."""
    data: dict[str, Any] = {}
    for schema in (definition.data, *(n.form for n in definition.nodes if n.type == "start")):
        sample = sample_for(schema) if schema else {}
        if isinstance(sample, dict):
            data.update(sample)
    return data


def _effect_text(effect: Any) -> str:
    node = getattr(effect, "node", None)
    return f"{type(effect).__name__} {node}" if node else type(effect).__name__


def _simulation_out(
    definition: Definition,
    run: Simulation,
    *,
    data: dict[str, Any],
    start: datetime,
    finished: bool,
) -> SimulationOut:
    state = run.state
    nodes = {n.id: n for n in definition.nodes}
    tasks_by_wait: dict[str, list[str]] = {}
    for task_id, task in state.get("tasks", {}).items():
        if task.get("status") == "open":
            tasks_by_wait.setdefault(str(task.get("wait")), []).append(task_id)
    timers_by_node: dict[str, list[SimTimerOut]] = {}
    for timer in state.get("timers", {}).values():
        timers_by_node.setdefault(str(timer.get("node")), []).append(
            SimTimerOut(purpose=str(timer["purpose"]), at=timer["at"], edge=timer.get("edge"))
        )
    waiting: list[SimWaitOut] = []
    for wait_id, wait in state.get("waits", {}).items():
        node = nodes.get(str(wait.get("node")))
        if node is None:
            continue
        form = getattr(node, "form", None)
        sample = sample_for(form) if form else {}
        waiting.append(
            SimWaitOut(
                node=node.id,
                name=node.name or node.id,
                type=node.type,
                kind=str(wait.get("kind")),
                task_id=next(iter(tasks_by_wait.get(wait_id, [])), None),
                sample=sample if isinstance(sample, dict) else {},
                outcomes=list(getattr(node, "outcomes", []) or []),
                timers=sorted(timers_by_node.get(node.id, []), key=lambda t: t.at),
            )
        )
    incidents = [
        SimIncidentOut(
            node=incident.get("node"),
            code=str(incident.get("code")),
            message=str(incident.get("message", "")),
        )
        for incident in state.get("incidents", {}).values()
        if incident.get("status") == "open"
    ]
    return SimulationOut(
        start=start,
        start_data=data,
        status=str(state.get("status")),
        finished=finished,
        moves=len(run.steps) - 1,
        now=run.steps[-1][0] if run.steps else start,
        path=[SimPathOut(node=p["node"], edge=p.get("edge"), at=p["at"]) for p in state["path"]],
        current=sorted({str(t["node"]) for t in state.get("tokens", {}).values()}),
        waiting=waiting,
        incidents=incidents,
        steps=[
            SimStepOut(at=at, command=command, effects=[_effect_text(e) for e in effects])
            for at, command, effects in run.steps
        ],
        data=state.get("data", {}),
        stage=state.get("stage"),
    )


def _summary(w: Workflow) -> WorkflowSummary:
    return WorkflowSummary(
        key=w.key,
        name=w.name,
        description=w.description,
        published_version=w.published_version,
        draft_revision=w.draft_revision,
        updated_at=w.updated_at,
        updated_by=w.updated_by,
        archived=w.archived,
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
    out += _template_problems(draft)
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


def _template_problems(draft: dict[str, Any]) -> list[ProblemOut]:
    """Message and request templates that would not compile, or that the sandbox refuses:
    found at publish, not by the first instance to reach the step."""
    out: list[ProblemOut] = [
        ProblemOut(
            code="bad_template",
            message=f"How requests are named: {why}",
            field=field,
            severity="error",
        )
        for field, why in template_problems(draft.get("business_key"), "business_key")
    ]
    for node in draft.get("nodes", []) if isinstance(draft.get("nodes"), list) else []:
        if not isinstance(node, dict):
            continue
        if node.get("type") == "notify":
            parts = {k: node.get(k) for k in ("to", "subject", "body")}
        elif node.get("type") == "http" and isinstance(node.get("request"), dict):
            request = node["request"]
            parts = {f"request.{k}": request.get(k) for k in ("url", "headers", "body")}
        elif node.get("type") in ("user_task", "approval") and isinstance(node.get("notify"), list):
            parts = {
                f"notify[{i}].{k}": notice.get(k)
                for i, notice in enumerate(node["notify"])
                if isinstance(notice, dict)
                for k in ("to", "subject", "body")
            }
        else:
            continue
        if node.get("type") == "notify":
            out += _address_problems(node)
        for name, value in parts.items():
            for field, why in template_problems(value, name):
                out.append(
                    ProblemOut(
                        code="bad_template",
                        message=f"{node.get('name') or node.get('id')}: {why}",
                        node=node.get("id"),
                        field=field,
                        severity="error",
                    )
                )
    return out


def _address_problems(node: dict[str, Any]) -> list[ProblemOut]:
    """A ``notify`` step's written-out ``to`` that its channel cannot send to (a user name
    for an email, say): a warning, since the step would only fail when an instance gets
    there. Templated addresses are known only then."""
    channel, to = node.get("channel", "email"), node.get("to")
    if not isinstance(to, str) or "{{" in to or "{%" in to or not to.strip():
        return []
    to = to.strip()
    person = to.startswith("user:")
    fits = {
        "email": person or "@" in to,
        "sms": person or to.lstrip("+").replace(" ", "").isdigit(),
        "inbox": person or to.startswith("role:"),
    }.get(str(channel), True)
    if fits:
        return []
    wanted = {
        "email": "an email address, or user:<name> for a person's own address",
        "sms": "a phone number, or user:<name> for a person's own number",
        "inbox": "user:<name> or role:<name>",
    }[str(channel)]
    return [
        ProblemOut(
            code="bad_address",
            message=f"{node.get('name') or node.get('id')}: {to!r} is not an address for "
            f"{channel}: write {wanted}",
            node=node.get("id"),
            field="to",
            severity="warning",
        )
    ]


@router.get("/workflows", response_model=list[WorkflowSummary])
def list_workflows(
    session: SessionDep, me: CurrentUser, archived: bool = False
) -> list[WorkflowSummary]:
    """The workflows in use; ``archived=true``: those taken out of use (designers, admins)."""
    if archived and not me.is_designer:
        raise forbidden("only a designer or an admin may see archived workflows")
    rows = session.scalars(
        select(Workflow).where(Workflow.archived.is_(archived)).order_by(Workflow.key)
    )
    return [_summary(w) for w in rows]


@router.post("/workflows/{key}/archive", response_model=WorkflowSummary)
def archive(key: str, session: SessionDep, me: AdminUser) -> WorkflowSummary:
    """Take a workflow out of use: nobody can start it any more (the API, its webhook, its
    schedule, the request form), and it leaves the lists. Its running instances go on to
    their end. ``restore`` brings it back."""
    return _set_archived(session, me, key, archived=True)


@router.post("/workflows/{key}/restore", response_model=WorkflowSummary)
def restore(key: str, session: SessionDep, me: AdminUser) -> WorkflowSummary:
    """Bring an archived workflow back into use, as it was."""
    return _set_archived(session, me, key, archived=False)


def _set_archived(session: Session, me: Principal, key: str, *, archived: bool) -> WorkflowSummary:
    workflow = session.get(Workflow, key)
    if workflow is None:
        raise not_found("workflow", key)
    if workflow.archived != archived:
        workflow.archived = archived
        now = clock.now()
        workflow.updated_at, workflow.updated_by = now, me.username
        action = "workflow.archived" if archived else "workflow.restored"
        audit(session, action, actor=me.username, now=now, key=key)
        session.commit()
    return _summary(workflow)


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


@router.post("/workflows/validate", response_model=ValidationOut)
def validate_definition(body: DefinitionIn, session: SessionDep, me: DesignerUser) -> ValidationOut:
    """Validate a definition the designer is editing, without saving it."""
    problems = _problems(session, body.definition)
    return ValidationOut(valid=not any(p.severity == "error" for p in problems), problems=problems)


@router.patch("/workflows/{key}", response_model=WorkflowOut)
def update_workflow(
    key: str, body: WorkflowUpdate, session: SessionDep, me: DesignerUser
) -> WorkflowOut:
    """Rename a workflow or change its description; the draft carries the same name."""
    now = clock.now()
    workflow = session.scalar(select(Workflow).where(Workflow.key == key).with_for_update())
    if workflow is None or workflow.archived:
        raise not_found("workflow", key)
    draft = dict(workflow.draft)
    if body.name is not None:
        workflow.name = draft["name"] = body.name.strip()
    if body.description is not None:
        workflow.description = draft["description"] = body.description
    workflow.draft = draft
    workflow.draft_revision += 1
    workflow.updated_at = now
    workflow.updated_by = me.username
    audit(
        session,
        "workflow.updated",
        actor=me.username,
        now=now,
        key=key,
        name=workflow.name,
    )
    session.commit()
    return _out(session, workflow)


@router.post("/workflows/{key}/simulate", response_model=SimulationOut)
def simulate_workflow(
    key: str, body: SimulateIn, session: SessionDep, me: DesignerUser
) -> SimulationOut:
    """Test-run a definition (the posted one, or the saved draft) in a sandbox.

    Nothing is stored: people's tasks are completed with sample data (unless held),
    systems answer with sample responses, timers fire in time order. ``moves`` limits how
    many answers are played after the start, so that a caller can step one move at a
    time by asking again with the same start time and one move more.
    """
    raw = dict(body.definition) if body.definition is not None else dict(_get(session, key).draft)
    raw["key"] = key
    definition = parse_definition(raw)
    start = body.start or clock.now()
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    scenario = Scenario(
        tasks=body.tasks,
        outcomes=body.outcomes,
        hold=set(body.hold),
        http_fail=set(body.http_fail),
        messages=body.messages,
    )
    limit = MAX_MOVES if body.moves is None else body.moves
    try:
        data = body.data if body.data is not None else start_sample(definition)
        run = simulate(definition, data, start=start, scenario=scenario, max_steps=limit + 1)
        finished = len(run.steps) <= limit or run.status != "running"
        if not finished:  # stopped by the limit: is there a next move at all?
            peek = simulate(definition, data, start=start, scenario=scenario, max_steps=limit + 2)
            finished = len(peek.steps) == len(run.steps)
        return _simulation_out(definition, run, data=data, start=start, finished=finished)
    except (DefinitionError, EngineError):
        raise  # the app answers these (422 invalid_workflow, the command's own status)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        # sample data from a form or data schema that is not valid JSON Schema (validation
        # reports it as bad_form); the run cannot go on without data of the caller's
        raise ApiError(
            422,
            "cannot_simulate",
            f"the test run cannot make sample data here ({exc}); fix the forms or give the data",
        ) from None


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
    if workflow.published_version is not None:
        current = session.scalar(
            select(WorkflowVersion.definition).where(
                WorkflowVersion.workflow_key == key,
                WorkflowVersion.version == workflow.published_version,
            )
        )
        if current == workflow.draft:  # a version the same as the last says nothing new
            raise ApiError(
                409,
                "unchanged",
                f"the draft is the same as the published version {workflow.published_version}:"
                " nothing to publish",
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
def templates(session: SessionDep, me: CurrentUser) -> list[dict[str, Any]]:
    """The gallery: the shipped templates, then those admins published from workflows, each
    with its ``category`` (the workflow's own, empty when it has none)."""
    out: list[dict[str, Any]] = []
    for key in list_templates():
        raw = read_template(key)
        out.append(
            {
                "id": key,
                "name": raw.get("name", key),
                "description": raw.get("description", ""),
                "category": raw.get("category", ""),
                "shipped": True,
            }
        )
    for row in session.scalars(select(GalleryTemplate).order_by(GalleryTemplate.name)):
        out.append(
            {
                **_published_template(row),
                "source_workflow": row.source_workflow,
                "created_by": row.created_by,
                "created_at": row.created_at.isoformat(),
            }
        )
    return out


def _published_template(row: GalleryTemplate) -> dict[str, Any]:
    """A template an admin published, as the gallery shows it."""
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "category": str(row.definition.get("category") or ""),
        "shipped": False,
    }


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workflow: str = Field(max_length=100, description="the workflow whose draft becomes a template")
    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


@router.post("/templates", response_model=dict[str, Any], status_code=201, tags=["templates"])
def publish_template(body: TemplateCreate, session: SessionDep, me: AdminUser) -> dict[str, Any]:
    """Put a workflow in the gallery as a template (its draft, which must have no errors)."""
    workflow = _get(session, body.workflow)
    template_id = body.id or workflow.key
    if template_id in list_templates() or session.get(GalleryTemplate, template_id) is not None:
        raise ApiError(409, "exists", f"the gallery has a template {template_id!r} already")
    errors = [p for p in _problems(session, workflow.draft) if p.severity == "error"]
    if errors:
        raise ApiError(
            422,
            "invalid_workflow",
            f"the draft has {len(errors)} error(s); fix them before it becomes a template",
            [p.model_dump() for p in errors],
        )
    now = clock.now()
    row = GalleryTemplate(
        id=template_id,
        name=body.name or workflow.name,
        description=workflow.description if body.description is None else body.description,
        definition=dict(workflow.draft),
        source_workflow=workflow.key,
        created_at=now,
        created_by=me.username,
    )
    session.add(row)
    audit(session, "template.published", actor=me.username, now=now, template=template_id)
    session.commit()
    return _published_template(row)


@router.delete("/templates/{template_id}", status_code=204, tags=["templates"])
def remove_template(template_id: str, session: SessionDep, me: AdminUser) -> None:
    """Take a published template out of the gallery (the shipped ones stay: 409)."""
    if template_id in list_templates():
        raise ApiError(409, "shipped", "a shipped template cannot be removed")
    row = session.get(GalleryTemplate, template_id)
    if row is None:
        raise not_found("template", template_id)
    session.delete(row)
    audit(session, "template.removed", actor=me.username, now=clock.now(), template=template_id)
    session.commit()


@router.post(
    "/templates/{template_id}/use", response_model=WorkflowOut, status_code=201, tags=["templates"]
)
def use_template(
    template_id: str, body: WorkflowCreate, session: SessionDep, me: DesignerUser
) -> WorkflowOut:
    """Start a new workflow (``body.key``) from a template's draft."""
    stored = session.get(GalleryTemplate, template_id)
    if stored is not None:
        raw: dict[str, Any] = {**stored.definition, "name": stored.name}
    else:
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
