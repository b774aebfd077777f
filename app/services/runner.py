"""Persisting engine steps: one command, one transaction.

``run_command`` locks the instance row (``FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers), runs ``engine.step``, applies
every effect in the same transaction, and writes the new state guarded by the
instance's version column. Synchronous effects (stage, tasks, timers, table
operations, message waits) land in their tables; asynchronous ones (http,
notifications, child workflows) go to the outbox with an idempotency key.
"""

from __future__ import annotations

import functools
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import TemplateError, meta
from sqlalchemy import delete, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from app.db.models import (
    Calendar,
    Incident,
    Instance,
    MessageWait,
    Outbox,
    Task,
    Timer,
    Workflow,
    WorkflowVersion,
    new_id,
)
from app.errors import ApiError, not_found
from app.services import assign, events, fields, notices, tables
from app.services.records import audit, notify, set_candidates, tell_admins_of_incident
from app.services.templates import TemplateRefused, render
from app.services.templates import environment as template_environment
from engine import (
    CallHttp,
    CancelTask,
    CancelTimer,
    CancelWait,
    Command,
    Compiled,
    CreateTask,
    Effect,
    InstanceFinished,
    RaiseIncident,
    ResolveIncident,
    ScheduleTimer,
    SendNotification,
    SetStage,
    SlaEvent,
    Start,
    StartSubworkflow,
    TableOperation,
    TableResult,
    WaitForMessage,
    compile_definition,
    parse_definition,
    step,
)
from engine.calendar import DEFAULT_CALENDARS, BusinessCalendar, calendar_from_dict

MAX_CHAINED_STEPS = 100
"""Table steps one command may chain (each answered in its transaction) before the rest are
refused: a workflow looping through table steps without waiting for anything."""
BATCH = "stepwise.batch"
"""``session.info`` key a caller sets (to a list) to apply many steps in one transaction: a
finished instance's id is appended to the list instead of its message waits being deleted
at once; the caller deletes them (``WHERE instance_id IN (...)``) before committing. The
timer worker's batches use it; without the key nothing changes."""


class DefinitionCache:
    """Compiled published versions by (key, version): immutable, so cached for good.
    Also the installation's business calendars, re-read every few seconds."""

    CALENDAR_TTL = timedelta(seconds=5)

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[tuple[str, int], Compiled] = OrderedDict()
        self._size = size
        self._calendars: tuple[datetime, dict[str, BusinessCalendar | None]] | None = None

    def calendars(self, session: Session) -> dict[str, BusinessCalendar | None]:
        """Admin-defined calendars over the built-ins (``business``, ``24x7``)."""
        now = datetime.now(UTC)
        if self._calendars is None or self._calendars[0] <= now:
            found: dict[str, BusinessCalendar | None] = dict(DEFAULT_CALENDARS)
            for row in session.scalars(select(Calendar)):
                try:
                    found[row.name] = calendar_from_dict({**row.settings, "name": row.name})
                except ValueError:
                    continue  # refused when saved; an old bad row is skipped, not fatal
            self._calendars = (now + self.CALENDAR_TTL, found)
        return self._calendars[1]

    def forget_calendars(self) -> None:
        self._calendars = None

    def get(self, session: Session, key: str, version: int) -> Compiled:
        found = self._items.get((key, version))
        if found is not None:
            self._items.move_to_end((key, version))
            return found
        row = session.scalar(
            select(WorkflowVersion).where(
                WorkflowVersion.workflow_key == key, WorkflowVersion.version == version
            )
        )
        if row is None:
            raise not_found("workflow version", f"{key} v{version}")
        compiled = compile_definition(parse_definition(row.definition))
        self._items[(key, version)] = compiled
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return compiled


def start_instance(
    session: Session,
    *,
    cache: DefinitionCache,
    workflow_key: str,
    data: dict[str, Any],
    actor: str | None,
    now: datetime,
    parent_id: str | None = None,
    parent_request: str | None = None,
    workflow: Workflow | None = None,
) -> Instance:
    """Start an instance of the published version of ``workflow_key`` (``workflow``: its row,
    when the caller has read it already)."""
    if workflow is None or workflow.key != workflow_key:
        workflow = session.get(Workflow, workflow_key)
    if workflow is None or workflow.archived:
        raise not_found("workflow", workflow_key)
    if workflow.published_version is None:
        raise ApiError(
            409, "not_published", f"workflow {workflow_key!r} has no published version yet"
        )
    compiled = cache.get(session, workflow_key, workflow.published_version)
    data = dict(data)
    token = secrets.token_urlsafe(24)
    instance = Instance(
        id=new_id(),
        workflow_key=workflow_key,
        workflow_version=workflow.published_version,
        status="running",
        state={},
        tracking_token=token,
        suspended=False,
        open_incidents=0,
        started_by=actor,
        started_at=now,
        updated_at=now,
        parent_id=parent_id,
        parent_request=parent_request,
    )
    data.setdefault("tracking_url", f"/track/{token}")
    validator = compiled.data_form()
    if validator is not None:
        errors = validator.errors({k: v for k, v in data.items() if k != "tracking_url"})
        if errors:
            raise ApiError(
                422,
                "invalid_data",
                "the start data does not fit the workflow's data schema",
                errors,
            )
    calendars = cache.calendars(session)
    state, effects = step(compiled, None, Start(data=data, by=actor), now, calendars=calendars)
    instance.business_key = _business_key(state["data"], compiled.definition.business_key)
    instance.state, instance.status, instance.stage = state, state["status"], state["stage"]
    session.add(instance)  # written at the next query or the commit, before the rows that
    # refer to it (the flush orders tables by their foreign keys): a batch of starts goes in
    # as one insert a table
    audit(
        session,
        "instance.started",
        actor=actor,
        instance_id=instance.id,
        now=now,
        workflow=workflow_key,
    )
    events.emit(
        session,
        "instance.started",
        now=now,
        instance_id=instance.id,
        data={"instance": events.instance_summary(instance)},
    )
    _finish_step(
        session,
        compiled,
        instance,
        state,
        effects,
        actor=actor,
        now=now,
        calendars=calendars,
        stored_fields={},
    )
    return instance


_NO_VALUE: tuple[Any, ...] = (None, "", [], {})


@functools.lru_cache(maxsize=256)
def _names_read(template: str) -> frozenset[str]:
    """The data fields a template reads; a name is rendered only when each has a value (so
    ``{{ item }} from {{ supplier }}`` never names a request "from")."""
    try:
        return frozenset(meta.find_undeclared_variables(template_environment().parse(template)))
    except TemplateError:
        return frozenset()


def _business_key(data: dict[str, Any], template: str | None = None) -> str | None:
    """What names the instance in lists: its workflow's ``business_key`` template over the
    data; else (no template, or it renders to nothing or fails: a name must never stop a
    start) the first of ``order_id``, ``business_key``, ``reference`` and ``id``."""
    if template and all(data.get(name) not in _NO_VALUE for name in _names_read(template)):
        try:
            named = str(render(template, dict(data))).strip()
        except (TemplateError, TemplateRefused, TypeError, ValueError, ArithmeticError):
            named = ""
        if named:
            return " ".join(named.split())[:200]
    for name in ("order_id", "business_key", "reference", "id"):
        value = data.get(name)
        if isinstance(value, str | int):
            return str(value)[:200]
    return None


def lock_instance(session: Session, instance_id: str) -> Instance:
    instance = session.scalar(select(Instance).where(Instance.id == instance_id).with_for_update())
    if instance is None:
        raise not_found("instance", instance_id)
    return instance


def run_command(
    session: Session,
    *,
    cache: DefinitionCache,
    instance: Instance,
    command: Command,
    actor: str | None,
    now: datetime,
) -> Instance:
    """Apply ``command`` to a locked ``instance`` (see ``lock_instance``) and persist the step."""
    if instance.suspended:
        raise ApiError(409, "suspended", "this instance is suspended; resume it first")
    compiled = cache.get(session, instance.workflow_key, instance.workflow_version)
    calendars = cache.calendars(session)
    state, effects = step(compiled, instance.state, command, now, calendars=calendars)
    _finish_step(
        session, compiled, instance, state, effects, actor=actor, now=now, calendars=calendars
    )
    return instance


def _finish_step(
    session: Session,
    compiled: Compiled,
    instance: Instance,
    state: dict[str, Any],
    effects: list[Effect],
    *,
    actor: str | None,
    now: datetime,
    calendars: Mapping[str, BusinessCalendar | None] | None = None,
    stored_fields: dict[str, str] | None = None,
) -> None:
    """Apply the step's effects (and the steps they lead to), then write the new state; the
    data fields reports group on follow the data (``stored_fields``: what is stored now, when
    not the fields of the state the instance had)."""
    if stored_fields is None:
        stored_fields = fields.report_fields(instance.state.get("data"))
    follow_ups: list[Command] = []
    chained = 0
    while True:
        budget = chained < MAX_CHAINED_STEPS
        follow_ups += _apply(
            session,
            compiled,
            instance,
            effects,
            actor=actor,
            now=now,
            tables_allowed=budget,
            data=state.get("data") or {},
        )
        if not follow_ups:
            break
        chained += 1
        if chained > 2 * MAX_CHAINED_STEPS:  # refused table steps that loop among themselves
            raise ApiError(
                409,
                "endless_loop",
                f"the workflow looped through more than {MAX_CHAINED_STEPS} table steps "
                "without waiting for anything; nothing was changed",
            )
        state, effects = step(compiled, state, follow_ups.pop(0), now, calendars=calendars)
    fields.sync(
        session,
        instance.id,
        stored_fields,
        fields.report_fields(state.get("data")),
        pending=sa_inspect(instance).pending,
    )
    instance.state = state
    instance.status = state["status"]
    instance.stage = state["stage"]
    instance.updated_at = now
    if state["status"] != "running" and instance.finished_at is None:
        instance.finished_at = now
    # No flush here: the caller's next query or its commit writes the step with whatever it
    # adds (its audit record, the task's own row), so rows of a kind go in one statement.


def _apply(
    session: Session,
    compiled: Compiled,
    instance: Instance,
    effects: list[Effect],
    *,
    actor: str | None,
    now: datetime,
    tables_allowed: bool = True,
    data: dict[str, Any],
) -> list[Command]:
    """Apply effects; a table operation's result, and a message held for a wait that has
    just begun, come back as the next commands. Past the chain's budget
    (``tables_allowed`` false) a table operation is not carried out: it fails, so that the
    step takes its error path or stops with an incident. ``data``: the instance data after
    the step, for task notices."""
    follow_ups: list[Command] = []
    for effect in effects:
        match effect:
            case CreateTask():
                _create_task(session, instance, effect, now=now, data=data)
            case CancelTask():
                session.execute(
                    update(Task)
                    .where(
                        Task.instance_id == instance.id,
                        Task.engine_id == effect.task_id,
                        Task.status == "open",
                    )
                    .values(status="cancelled", completed_at=now)
                )
            case ScheduleTimer():
                session.add(
                    Timer(
                        instance_id=instance.id,
                        engine_id=effect.timer_id,
                        purpose=effect.purpose,
                        node=effect.node,
                        task_engine_id=effect.task_id,
                        due_at=effect.at,
                    )
                )
            case CancelTimer():
                session.execute(
                    update(Timer)
                    .where(
                        Timer.instance_id == instance.id,
                        Timer.engine_id == effect.timer_id,
                        Timer.status == "pending",
                    )
                    .values(status="cancelled")
                )
            case SendNotification() | CallHttp() | StartSubworkflow():
                ident = getattr(effect, "notification_id", None) or getattr(
                    effect, "request_id", ""
                )
                session.add(
                    Outbox(
                        instance_id=instance.id,
                        kind=effect.kind,
                        idempotency_key=f"{instance.id}:{ident}",
                        payload=effect.to_dict(),
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
            case TableOperation() if not tables_allowed:
                follow_ups.append(
                    TableResult(
                        effect.request_id,
                        error=f"more than {MAX_CHAINED_STEPS} table steps in a row without "
                        "waiting for anything: not carried out",
                    )
                )
            case TableOperation():
                follow_ups.append(
                    TableResult(effect.request_id, **tables.apply_operation(session, effect))
                )
            case WaitForMessage():
                from app.services.messages import take_held  # (messages imports runner)

                held = take_held(session, instance=instance, effect=effect, now=now)
                if held is not None:  # it came early and was kept: answered at once
                    follow_ups.append(held)
                    continue
                session.add(
                    MessageWait(
                        instance_id=instance.id,
                        wait_id=effect.wait_id,
                        node=effect.node,
                        message=effect.message,
                        correlation=correlation_key(effect.correlation),
                        created_at=now,
                    )
                )
            case CancelWait():
                session.execute(
                    delete(MessageWait).where(
                        MessageWait.instance_id == instance.id,
                        MessageWait.wait_id == effect.wait_id,
                    )
                )
            case SetStage():
                audit(
                    session,
                    "instance.stage",
                    actor=actor,
                    instance_id=instance.id,
                    now=now,
                    stage=effect.stage,
                )
                events.emit(
                    session,
                    "instance.stage_changed",
                    now=now,
                    instance_id=instance.id,
                    data={
                        "instance": events.instance_summary(instance, stage=effect.stage),
                        "node": effect.node,
                    },
                )
            case SlaEvent():
                _sla_event(session, compiled, instance, effect, actor=actor, now=now, data=data)
            case RaiseIncident():
                session.add(
                    Incident(
                        instance_id=instance.id,
                        engine_id=effect.incident_id,
                        node=effect.node,
                        code=effect.code,
                        message=effect.message,
                        details=effect.details,
                        created_at=now,
                    )
                )
                instance.open_incidents += 1
                tell_admins_of_incident(
                    session,
                    workflow_key=instance.workflow_key,
                    instance_id=instance.id,
                    node=effect.node,
                    code=effect.code,
                    message=effect.message,
                    now=now,
                )
                audit(
                    session,
                    "incident.raised",
                    actor=actor,
                    instance_id=instance.id,
                    now=now,
                    code=effect.code,
                )
            case ResolveIncident():
                session.execute(
                    update(Incident)
                    .where(
                        Incident.instance_id == instance.id,
                        Incident.engine_id == effect.incident_id,
                    )
                    .values(status="resolved", resolved_at=now)
                )
                instance.open_incidents = max(0, instance.open_incidents - 1)
            case InstanceFinished():
                finished = session.info.get(BATCH)
                if finished is None:
                    session.execute(
                        delete(MessageWait).where(MessageWait.instance_id == instance.id)
                    )
                else:
                    finished.append(instance.id)  # the caller deletes them for the batch
                audit(
                    session,
                    "instance.finished",
                    actor=actor,
                    instance_id=instance.id,
                    now=now,
                    outcome=effect.outcome,
                )
                events.emit(  # instance.completed, .cancelled or .rejected
                    session,
                    f"instance.{effect.outcome}",
                    now=now,
                    instance_id=instance.id,
                    data={"instance": events.instance_summary(instance, status=effect.outcome)},
                )
                if instance.parent_id is not None:
                    session.add(
                        Outbox(
                            instance_id=instance.parent_id,
                            kind="subworkflow_finished",
                            idempotency_key=f"{instance.id}:finished",
                            payload={
                                "parent_id": instance.parent_id,
                                "request_id": instance.parent_request,
                                "outcome": effect.outcome,
                                "child_id": instance.id,
                            },
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
    return follow_ups


def correlation_key(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _create_task(
    session: Session,
    instance: Instance,
    effect: CreateTask,
    *,
    now: datetime,
    data: dict[str, Any],
) -> None:
    who = assign.resolve(session, effect, now=now)
    task = Task(
        id=new_id(),
        instance_id=instance.id,
        engine_id=effect.task_id,
        workflow_key=instance.workflow_key,
        node=effect.node,
        name=effect.name,
        assignee=who.assignee,
        away_owner=who.away_owner,
        role=effect.assignee.get("role") or (effect.fallback or {}).get("role"),
        candidate_users=who.candidate_users,
        candidate_roles=who.candidate_roles,
        excluded_users=who.excluded,
        form=effect.form,
        outcomes=list(effect.outcomes),
        instructions=effect.instructions,
        priority=effect.priority,
        due_at=effect.due,
        created_at=now,
        # a delegate covering for someone away has not taken it up yet: it goes back to its
        # owner when the window ends, unless the delegate starts on it (as for moved tasks)
        claimed_at=now if who.assignee and who.away_owner is None else None,
    )
    session.add(task)
    set_candidates(session, task, new=True)
    audit(
        session,
        "task.created",
        actor=None,
        instance_id=instance.id,
        task_id=task.id,
        now=now,
        node=effect.node,
        assignee=who.assignee,
        roles=who.candidate_roles,
        users=who.candidate_users,
        notes=who.notes,
    )
    events.emit(
        session,
        "task.created",
        now=now,
        instance_id=instance.id,
        data={"task": events.task_summary(task)},
    )
    if effect.notify:
        notices.queue(session, task, effect.notify, data, now=now)


def _sla_event(
    session: Session,
    compiled: Compiled,
    instance: Instance,
    effect: SlaEvent,
    *,
    actor: str | None,
    now: datetime,
    data: dict[str, Any],
) -> None:
    task = session.scalar(
        select(Task).where(Task.instance_id == instance.id, Task.engine_id == effect.task_id)
    )
    if task is None or task.status != "open":
        return
    key = f"{instance.id}:{effect.task_id}:sla:{effect.event}:{effect.level}"
    refused: str | None = None
    instead: str | None = None  # where a reassignment went while its user is away
    holders = (
        [f"user:{task.assignee}"] if task.assignee else [f"role:{r}" for r in task.candidate_roles]
    )
    if effect.event == "remind":
        task.at_risk = True
        for to in holders:
            notify(
                session,
                to,
                f"Reminder: {task.name} is due soon",
                now=now,
                instance_id=instance.id,
                task_id=task.id,
                key=f"{key}:{to}",
            )
        plan = compiled.tasks.get(task.node)
        if plan is not None and plan.notify:  # the task's emails and texts, once more
            notices.queue(session, task, plan.notify, data, now=now, reminder=effect.level + 1)
    elif effect.event == "due":
        task.overdue = True
        task.at_risk = True
        events.emit(
            session,
            "task.overdue",
            now=now,
            instance_id=instance.id,
            data={"task": events.task_summary(task)},
        )
    elif effect.event == "escalate" and effect.action == "priority" and effect.priority is not None:
        task.priority = effect.priority
    elif effect.event == "escalate" and effect.action == "reassign" and effect.to:
        spec = effect.to
        if spec.get("user") and spec["user"] in (task.excluded_users or []):
            refused = f"{spec['user']} may not take this task (four-eyes rule); it stays put"
        elif spec.get("user"):
            from app.services.people import give  # people builds on the runner

            instead = give(session, task, spec["user"], now=now)  # while away: to their cover
        elif spec.get("role"):
            task.assignee, task.candidate_roles, task.candidate_users = None, [spec["role"]], []
        set_candidates(session, task)
    if effect.event == "escalate" and effect.to and refused is None and instead is None:
        to = (
            f"user:{effect.to['user']}"
            if effect.to.get("user")
            else f"role:{effect.to.get('role')}"
        )
        verb = "now yours" if effect.action == "reassign" else "is late"
        notices.tell(
            session,
            to,
            f"Escalation {effect.level}: {task.name} {verb}",
            _late_by(instance, task),
            now=now,
            instance_id=instance.id,
            task_id=task.id,
            key=f"{key}:{to}",
        )
    if effect.event == "escalate" and effect.action == "reassign" and refused is None:
        plan = compiled.tasks.get(task.node)
        if plan is not None and plan.notify:  # its new holder gets what its first one got
            notices.queue(session, task, plan.notify, data, now=now, handed=True)
    audit(
        session,
        f"sla.{effect.event}",
        actor=actor,
        instance_id=instance.id,
        task_id=task.id,
        now=now,
        level=effect.level,
        escalation=effect.action,
        to=effect.to,
        refused=refused,
        instead=instead,
    )


def _late_by(instance: Instance, task: Task) -> str:
    """What an escalation says about its task: which request, and when it was due."""
    when, what = (task.due_at, "was due") if task.due_at else (task.created_at, "is open since")
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    which = instance.business_key or instance.id
    return f"{task.name} ({instance.workflow_key} {which}) {what} {when:%Y-%m-%d %H:%M} UTC."
