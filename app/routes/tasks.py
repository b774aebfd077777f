"""The inbox: tasks for me and my roles; claim, unclaim, complete, delegate, reassign, comments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.db.models import Comment, Instance, Membership, Role, Task, User, Workflow
from app.deps import CurrentUser, Principal, SessionDep
from app.errors import ApiError, forbidden, not_found
from app.routes.instances import cache, comment_out, task_out
from app.schemas import (
    ERRORS,
    CommentIn,
    CommentOut,
    CompleteIn,
    DelegateIn,
    InstanceBrief,
    Page,
    ReassignIn,
    TaskCan,
    TaskDetail,
    TaskOut,
)
from app.services import notices, runner
from app.services.access import can_take, is_away, offered_to, takes_from_pool, task_visible
from app.services.inbox import at_risk_threshold, seconds_left, sla_state
from app.services.people import away_users, give
from app.services.records import audit, notify, set_candidates
from engine import AssignTask, CommandError, CompleteTask

router = APIRouter(prefix="/api", tags=["tasks"], responses=ERRORS)


class BulkClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=200
    )


class ClaimResult(BaseModel):
    id: str
    result: Literal["claimed", "already_taken", "not_allowed"]
    code: str = Field(description="claimed, or the error code a single claim would answer")
    message: str = ""
    task: TaskOut | None = None


class BulkClaimOut(BaseModel):
    results: list[ClaimResult]


class HandoverPerson(BaseModel):
    username: str
    display_name: str
    in_team: bool = Field(description="a member of a role the task is offered to")
    away: bool = Field(description="out of office now")


class HandoverOut(BaseModel):
    people: list[HandoverPerson] = Field(
        description="active people the task may go to, its own team first, then by name"
    )
    roles: list[str] = Field(
        description="for an admin, every role (the task's own first); for the holder, none"
    )


HANDOVER_LIMIT = 500
"""The most people a hand-over list names; the dialog still takes any user name typed."""


@router.get("/tasks", response_model=Page[TaskOut])
def inbox(
    session: SessionDep,
    me: CurrentUser,
    scope: Annotated[str, Query(pattern="^(inbox|mine|roles|delegated|done|all)$")] = "inbox",
    status: Annotated[str | None, Query(pattern="^(open|completed|cancelled)$")] = None,
    workflow: str | None = None,
    overdue: bool | None = None,
    at_risk: bool | None = None,
    instance: str | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[TaskOut]:
    """``inbox``: mine and my roles' pool; ``mine``; ``roles``: the pool; ``delegated``: by me;
    ``done``: completed by me; ``all``: everything I may see. Overdue first, then by due time."""
    query = select(Task)
    mine = Task.assignee == me.username
    if scope == "inbox":
        query = query.where(or_(mine, offered_to(me)))
        status = status or "open"
    elif scope == "mine":
        query = query.where(mine)
    elif scope == "roles":
        query = query.where(offered_to(me))
    elif scope == "delegated":
        query = query.where(Task.delegated_from == me.username)
    elif scope == "done":
        query = query.where(Task.completed_by == me.username)
    else:
        query = query.where(task_visible(me))
    if status:
        query = query.where(Task.status == status)
    if workflow:
        query = query.where(Task.workflow_key == workflow)
    if overdue is not None:
        query = query.where(Task.overdue.is_(overdue))
    if at_risk is not None:
        query = query.where(Task.at_risk.is_(at_risk))
    if instance:
        query = query.where(Task.instance_id == instance)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(
        Task.overdue.desc(),
        Task.priority.desc(),
        Task.due_at.is_(None),
        Task.due_at,
        Task.created_at,
    )
    rows = session.scalars(query.offset(offset).limit(limit))
    return Page(items=[task_out(t) for t in rows], total=total, offset=offset, limit=limit)


def _visible(session: Session, me: Principal, task_id: str) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, task_visible(me)))
    if task is None:
        raise not_found("task", task_id)
    return task


@router.get("/tasks/{task_id}", response_model=TaskDetail)
def get_task(task_id: str, request: Request, session: SessionDep, me: CurrentUser) -> TaskDetail:
    """The task page: the task, its form (JSON Schema) with its UI hints, its instructions,
    a summary of its instance, its SLA state and what I may do with it (``can``)."""
    task = _visible(session, me, task_id)
    instance = session.get(Instance, task.instance_id)
    if instance is None:
        raise not_found("instance", task.instance_id)
    compiled = cache(request).get(session, instance.workflow_key, instance.workflow_version)
    workflow = session.get(Workflow, instance.workflow_key)
    data = instance.state.get("data", {})
    now = clock.now()
    threshold = at_risk_threshold(request.app.state.settings)
    return TaskDetail(
        **task_out(task).model_dump(),
        form=task.form,
        ui=getattr(compiled.nodes.get(task.node), "ui", None),
        instructions=task.instructions,
        instance_stage=instance.stage,
        instance_data=data,
        instance=InstanceBrief(
            id=instance.id,
            workflow_key=instance.workflow_key,
            workflow_name=(workflow.name if workflow else "") or instance.workflow_key,
            status=instance.status,
            stage=instance.stage,
            business_key=instance.business_key,
            started_by=instance.started_by,
            started_at=instance.started_at,
            key_fields=key_fields(data, compiled.definition.data),
        ),
        can=task_can(me, task, away_now=_away_from_pool(session, me, task)),
        sla_state=sla_state(task, now, threshold),
        seconds_left=seconds_left(task, now),
    )


KEY_FIELDS = 12


def key_fields(data: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """The data's top-level plain values, in the data schema's order, then the data's."""
    order = list((schema or {}).get("properties") or {})
    names = [n for n in order if n in data] + [n for n in data if n not in order]
    found: dict[str, Any] = {}
    for name in names:
        value = data[name]
        if name == "tracking_url" or not isinstance(value, str | int | float | bool):
            continue
        if isinstance(value, str) and len(value) > 200:
            continue
        found[name] = value
        if len(found) == KEY_FIELDS:
            break
    return found


def task_can(me: Principal, task: Task, *, away_now: bool = False) -> TaskCan:
    """What ``me`` may do with ``task`` now (the same rules the actions apply)."""
    is_open = task.status == "open"
    takes = can_take(me, task, me.roles, away_now=away_now)
    has_pool = bool(task.candidate_roles or task.candidate_users)
    return TaskCan(
        claim=takes and task.assignee is None,
        unclaim=is_open
        and task.assignee is not None
        and (task.assignee == me.username or me.is_admin)
        and has_pool,
        complete=takes,
        delegate=is_open and task.assignee == me.username,
        reassign=is_open and me.is_admin,
    )


def _locked(session: Session, me: Principal, task_id: str) -> tuple[Instance, Task]:
    """Lock the task's instance (so concurrent actions on it queue), then read the task as it
    is now, if I may see it: two statements, and the task's state is the one after the lock."""
    owner = select(Task.instance_id).where(Task.id == task_id).scalar_subquery()
    instance = session.scalar(select(Instance).where(Instance.id == owner).with_for_update())
    task = session.scalar(
        select(Task)
        .where(Task.id == task_id, task_visible(me))
        .execution_options(populate_existing=True)
    )
    if instance is None or task is None:
        hidden = session.get(Task, task_id) if instance is not None else None
        if hidden is not None and hidden.status == "open" and _away_from_pool(session, me, hidden):
            raise _out_of_office()
        raise not_found("task", task_id)
    return instance, task


def _away_from_pool(session: Session, me: Principal, task: Task) -> bool:
    """Would I take ``task`` from my roles' pool while I am out of office?"""
    return takes_from_pool(me, task) and is_away(session, me.username, clock.now())


def _out_of_office() -> ApiError:
    return ApiError(
        403,
        "out_of_office",
        "you are out of office: your roles' pool tasks are not offered to you until your "
        "absence ends (end it early under Out of office)",
    )


def _check_takes(session: Session, me: Principal, task: Task, refusal: str) -> None:
    """Refuse unless I may claim or complete ``task`` now (see ``can_take``)."""
    if not can_take(me, task, me.roles):
        raise forbidden(refusal)
    if _away_from_pool(session, me, task):  # an admin sees every pool, also while away
        raise _out_of_office()


def _not_open(task: Task) -> ApiError:
    who = f" by {task.completed_by}" if task.completed_by else ""
    return ApiError(409, "task_not_open", f"this task was already {task.status}{who}")


def _done_by_someone_else(task: Task, me: Principal) -> bool:
    return task.status == "completed" and task.completed_by not in (None, me.username)


def _was_offered(task: Task, me: Principal) -> bool:
    """Could I have done this task (though it is no longer open, so no longer mine to see)?"""
    if me.username in (task.excluded_users or []):
        return False
    return (
        me.username in (task.assignee, task.delegated_from)
        or me.username in (task.candidate_users or [])
        or bool(me.roles & set(task.candidate_roles or []))
    )


def _completed_by_someone_else(session: Session, task: Task) -> ApiError:
    """409 ``task_already_completed``, naming who completed the task and when."""
    who = task.completed_by or ""
    user = session.scalar(select(User).where(User.username == who))
    name = f"{user.display_name} ({who})" if user is not None and user.display_name else who
    when = task.completed_at
    at = f" at {when.strftime('%Y-%m-%d %H:%M')} UTC" if when is not None else ""
    return ApiError(
        409,
        "task_already_completed",
        f"{name} completed this task{at}",
        {"completed_by": who, "completed_at": when.isoformat() if when else None},
    )


@router.post("/tasks/claim", response_model=BulkClaimOut)
def claim_many(
    body: BulkClaimIn, request: Request, session: SessionDep, me: CurrentUser
) -> BulkClaimOut:
    """Claim several tasks, each on its own: a result per id, in the order given (repeated
    ids once). ``claimed`` (also when it was mine already), ``already_taken`` (someone holds
    it, or it is no longer open), ``not_allowed`` (not offered to me, not found, suspended)."""
    results: list[ClaimResult] = []
    for task_id in dict.fromkeys(body.ids):
        try:
            claimed = claim(task_id, request, session, me)
        except (ApiError, CommandError) as exc:
            session.rollback()
            failure = exc if isinstance(exc, ApiError) else ApiError(409, exc.code, exc.message)
            results.append(_claim_failure(session, me, task_id, failure))
            continue
        results.append(ClaimResult(id=task_id, result="claimed", code="claimed", task=claimed))
    return BulkClaimOut(results=results)


def _claim_failure(session: Session, me: Principal, task_id: str, exc: ApiError) -> ClaimResult:
    """Why a claim failed. A pool task someone else took is hidden from the rest of the pool
    (404 on its own); to those it was offered to, a bulk claim says it was taken."""
    code, message = exc.code, exc.message
    if code == "not_found":
        task = session.get(Task, task_id)
        if task is not None and _was_offered(task, me):
            held = task.status == "open"
            code = "already_claimed" if held else "task_not_open"
            message = "someone else has taken this task" if held else f"it is {task.status}"
    taken = code in ("already_claimed", "task_not_open")
    return ClaimResult(
        id=task_id,
        result="already_taken" if taken else "not_allowed",
        code=code,
        message=message,
    )


@router.post("/tasks/{task_id}/claim", response_model=TaskOut)
def claim(task_id: str, request: Request, session: SessionDep, me: CurrentUser) -> TaskOut:
    instance, task = _locked(session, me, task_id)
    if task.status != "open":
        raise _not_open(task)
    if task.assignee is not None:
        if task.assignee == me.username:
            if task.claimed_at is None:  # taking up a task given to you marks it started
                task.claimed_at = clock.now()
                session.commit()
            return task_out(task)
        raise ApiError(409, "already_claimed", f"{task.assignee} has this task already")
    _check_takes(session, me, task, "this task is not offered to you or your roles")
    now = clock.now()
    task.assignee, task.claimed_at = me.username, now
    return _assigned(
        session,
        request,
        me,
        instance,
        task,
        me.username,
        "task.claimed",
        now=now,
    )


@router.post("/tasks/{task_id}/unclaim", response_model=TaskOut)
def unclaim(task_id: str, request: Request, session: SessionDep, me: CurrentUser) -> TaskOut:
    instance, task = _locked(session, me, task_id)
    if task.status != "open":
        raise _not_open(task)
    if task.assignee != me.username and not me.is_admin:
        raise forbidden("only whoever holds a task may give it back")
    if not task.candidate_roles and not task.candidate_users:
        raise ApiError(
            409, "no_pool", "this task was assigned to one person; ask for it to be reassigned"
        )
    now = clock.now()
    task.assignee, task.claimed_at = None, None
    return _assigned(
        session,
        request,
        me,
        instance,
        task,
        None,
        "task.unclaimed",
        now=now,
    )


@router.post("/tasks/{task_id}/complete", response_model=TaskOut)
def complete(
    task_id: str, body: CompleteIn, request: Request, session: SessionDep, me: CurrentUser
) -> TaskOut:
    """Complete a task with its form's data (validated against the form's JSON Schema).
    An unclaimed task offered to you is claimed and completed in one go."""
    try:
        instance, task = _locked(session, me, task_id)
    except ApiError as exc:
        done = session.get(Task, task_id) if exc.status == 404 else None
        if done is not None and _done_by_someone_else(done, me) and _was_offered(done, me):
            raise _completed_by_someone_else(session, done) from None  # lost the race: say to whom
        raise
    if _done_by_someone_else(task, me):
        raise _completed_by_someone_else(session, task)
    if task.status != "open":
        raise _not_open(task)
    _check_takes(session, me, task, "this task is not yours to complete")
    now = clock.now()
    command = CompleteTask(task.engine_id, body.data, by=me.username, outcome=body.outcome)
    runner.run_command(
        session,
        cache=cache(request),
        instance=instance,
        command=command,
        actor=me.username,
        now=now,
    )
    task.status, task.completed_at, task.completed_by = "completed", now, me.username
    task.assignee = task.assignee or me.username
    task.result, task.outcome = body.data, body.outcome
    owner = task.delegated_from or task.away_owner
    if owner and owner != me.username:  # the owner sees it done, on their behalf
        notify(
            session,
            f"user:{owner}",
            f"{me.username} completed {task.name} for you",
            now=now,
            instance_id=instance.id,
            task_id=task.id,
            key=f"done-for:{task.id}",
        )
    audit(
        session,
        "task.completed",
        actor=me.username,
        on_behalf_of=owner,
        instance_id=instance.id,
        task_id=task.id,
        now=now,
        node=task.node,
        outcome=body.outcome,
        stage=instance.stage,
    )
    session.commit()
    return task_out(task)


def _active_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise ApiError(422, "unknown_user", f"there is no active user {username!r}")
    return user


@router.post("/tasks/{task_id}/delegate", response_model=TaskOut)
def delegate(
    task_id: str, body: DelegateIn, request: Request, session: SessionDep, me: CurrentUser
) -> TaskOut:
    """Hand a task you hold to someone else; it is done on your behalf."""
    instance, task = _locked(session, me, task_id)
    if task.status != "open":
        raise _not_open(task)
    if task.assignee != me.username:
        raise forbidden("claim the task before delegating it")
    _active_user(session, body.to)
    if body.to in (task.excluded_users or []):
        raise ApiError(422, "four_eyes", f"{body.to} may not take this task (four-eyes rule)")
    now = clock.now()
    task.assignee, task.delegated_from = body.to, me.username
    return _assigned(
        session,
        request,
        me,
        instance,
        task,
        body.to,
        "task.delegated",
        now=now,
        told=(f"user:{body.to}", f"{me.username} handed you {task.name}", body.note or ""),
        to=body.to,
        note=body.note,
    )


@router.post("/tasks/{task_id}/reassign", response_model=TaskOut)
def reassign(
    task_id: str, body: ReassignIn, request: Request, session: SessionDep, me: CurrentUser
) -> TaskOut:
    """An admin gives a task to a user or back to a role's pool. The SLA clock keeps running."""
    if not me.is_admin:
        raise forbidden("only an admin may reassign tasks")
    if (body.user is None) == (body.role is None):
        raise ApiError(422, "invalid_request", "give either a user or a role")
    instance, task = _locked(session, me, task_id)
    if task.status != "open":
        raise _not_open(task)
    now = clock.now()
    instead: str | None = None
    if body.user is not None:
        _active_user(session, body.user)
        if body.user in (task.excluded_users or []):  # they could not complete it
            raise ApiError(422, "four_eyes", f"{body.user} may not take this task (four-eyes rule)")
        instead = give(session, task, body.user, now=now)  # while away: to their cover
    else:
        if session.get(Role, body.role) is None:
            raise ApiError(422, "unknown_role", f"there is no role {body.role!r}")
        task.assignee, task.candidate_users, task.candidate_roles = None, [], [body.role]
    set_candidates(session, task)
    return _assigned(
        session,
        request,
        me,
        instance,
        task,
        task.assignee,
        "task.reassigned",
        now=now,
        told=_reassigned_news(me, task, body, instead),
        user=body.user,
        role=body.role,
        instead=instead,
    )


def _reassigned_news(
    me: Principal, task: Task, body: ReassignIn, instead: str | None
) -> tuple[str, str, str] | None:
    """Who an admin's reassignment tells, and what. A user who is away: their cover was
    told already (``people.give``)."""
    if instead is not None:
        return None
    if body.user is not None:
        return (f"user:{body.user}", f"{task.name} is now yours", f"{me.username} gave it to you.")
    return (f"role:{body.role}", f"New in your pool: {task.name}", f"{me.username} put it there.")


HANDED_ON = ("task.delegated", "task.reassigned")
"""Hand-overs after which a task's notices go to its new holders."""


def _assigned(
    session: Session,
    request: Request,
    me: Principal,
    instance: Instance,
    task: Task,
    holder: str | None,
    action: str,
    *,
    now: datetime,
    told: tuple[str, str, str] | None = None,
    **details: Any,
) -> TaskOut:
    """Tell the engine who holds the task now, write it in the audit log, tell its new
    holders (``told``: to, title, body), and commit."""
    command = AssignTask(task.engine_id, holder)
    runner.run_command(
        session,
        cache=cache(request),
        instance=instance,
        command=command,
        actor=me.username,
        now=now,
    )
    audit(
        session,
        action,
        actor=me.username,
        instance_id=instance.id,
        task_id=task.id,
        now=now,
        **details,
    )
    noticed = False  # the task's own notices went to its new holders
    if action in HANDED_ON:  # its new holders hear of it as its first ones did
        compiled = cache(request).get(session, instance.workflow_key, instance.workflow_version)
        plan = compiled.tasks.get(task.node)
        if plan is not None and plan.notify:
            data = instance.state.get("data") or {}
            noticed = notices.queue(session, task, plan.notify, data, now=now, handed=True) > 0
    if told is not None and told[0] != f"user:{me.username}":
        to, title, body = told
        key = f"{action}:{task.id}:{now.isoformat()}:{to}"
        if to.startswith("role:") or noticed:
            # a pool hears in the app only; so does a holder who got the task's own notices
            notify(
                session, to, title, body, now=now, instance_id=instance.id, task_id=task.id, key=key
            )
        else:  # in the app and by email
            notices.tell(
                session, to, title, body, now=now, instance_id=instance.id, task_id=task.id, key=key
            )
    session.commit()
    return task_out(task)


@router.get("/tasks/{task_id}/handover", response_model=HandoverOut)
def handover(task_id: str, session: SessionDep, me: CurrentUser) -> HandoverOut:
    """Who the task could be handed to, for the delegate and reassign dialogs: for whoever
    holds it, and for admins. Active people other than its holder and those the four-eyes
    rule keeps out; the members of its roles first, then by name."""
    task = _visible(session, me, task_id)
    if task.assignee != me.username and not me.is_admin:
        raise forbidden("only whoever holds the task, or an admin, may hand it over")
    kept_out = {name for name in (task.assignee, *(task.excluded_users or ())) if name}
    # its pool's roles, or the role a policy picked its holder from
    team_roles = list(
        dict.fromkeys(str(r) for r in (task.role, *(task.candidate_roles or ())) if r)
    )
    people = select(User.username, User.display_name).where(
        User.is_active, User.username.not_in(kept_out)
    )
    team = (
        session.execute(
            people.join(Membership, Membership.user_id == User.id)
            .where(Membership.role.in_(team_roles))
            .distinct()
        ).all()
        if team_roles
        else []
    )
    team_names = {u.username for u in team}
    others = session.execute(
        people.where(User.username.not_in(team_names))
        .order_by(User.display_name, User.username)
        .limit(HANDOVER_LIMIT)
    ).all()
    listed = [*sorted(team, key=lambda u: (u.display_name.casefold(), u.username)), *others]
    listed = listed[:HANDOVER_LIMIT]
    away = away_users(session, [u.username for u in listed], clock.now())
    offered = [
        HandoverPerson(
            username=u.username,
            display_name=u.display_name or u.username,
            in_team=u.username in team_names,
            away=u.username in away,
        )
        for u in listed
    ]
    roles: list[str] = []
    if me.is_admin:
        every = session.scalars(select(Role.name).order_by(Role.name))
        roles = [*team_roles, *(r for r in every if r not in team_roles)]
    return HandoverOut(people=offered, roles=roles)


@router.get("/tasks/{task_id}/comments", response_model=list[CommentOut])
def comments(task_id: str, session: SessionDep, me: CurrentUser) -> list[CommentOut]:
    task = _visible(session, me, task_id)
    rows = session.scalars(
        select(Comment).where(Comment.task_id == task.id).order_by(Comment.created_at)
    )
    return [comment_out(c) for c in rows]


@router.post("/tasks/{task_id}/comments", response_model=CommentOut, status_code=201)
def add_comment(task_id: str, body: CommentIn, session: SessionDep, me: CurrentUser) -> CommentOut:
    task = _visible(session, me, task_id)
    now = clock.now()
    comment = Comment(
        instance_id=task.instance_id,
        task_id=task.id,
        author=me.username,
        body=body.body,
        created_at=now,
    )
    session.add(comment)
    audit(
        session,
        "comment.added",
        actor=me.username,
        instance_id=task.instance_id,
        task_id=task.id,
        now=now,
    )
    session.commit()
    return comment_out(comment)
