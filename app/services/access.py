"""Who may see and act on what: tasks by assignee and candidates, instances by taking part."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.db.models import Instance, OutOfOffice, Task, TaskCandidate
from app.deps import Principal


def away(username: str | SQLColumnExpression[str], now: datetime) -> ColumnElement[bool]:
    """``username`` (a name, or a column such as ``User.username``) is out of office at
    ``now``."""
    return exists().where(
        OutOfOffice.username == username, OutOfOffice.starts_at <= now, OutOfOffice.ends_at > now
    )


def is_away(session: Session, username: str, now: datetime) -> bool:
    return bool(session.scalar(select(away(username, now))))


def offer(me: Principal) -> ColumnElement[bool]:
    """The task is offered to me by name, or to one of my roles while I am in: role pools
    leave out people who are out of office (DESIGN semantics 7)."""
    return exists().where(
        TaskCandidate.task_id == Task.id,
        or_(
            and_(TaskCandidate.kind == "user", TaskCandidate.name == me.username),
            and_(
                TaskCandidate.kind == "role",
                TaskCandidate.name.in_(sorted(me.roles)),
                ~away(me.username, clock.now()),
            )
            if me.roles
            else false(),
        ),
    )


def offered_to(me: Principal) -> ColumnElement[bool]:
    """Open, unassigned tasks offered to me or one of my roles, and not barred from me."""
    candidate = offer(me)
    barred = exists().where(
        TaskCandidate.task_id == Task.id,
        TaskCandidate.kind == "exclude",
        TaskCandidate.name == me.username,
    )
    return and_(Task.status == "open", Task.assignee.is_(None), candidate, ~barred)


def task_visible(me: Principal) -> ColumnElement[bool]:
    """Tasks I may read: mine, offered to me, delegated by me, done by me (admins: all)."""
    if me.is_admin:
        return Task.id.isnot(None)
    return or_(
        Task.assignee == me.username,
        Task.delegated_from == me.username,
        Task.completed_by == me.username,
        offered_to(me),
    )


def can_take(
    me: Principal, task: Task, roles_now: frozenset[str], *, away_now: bool = False
) -> bool:
    """May I claim (or complete unclaimed) this task? Roles are checked as they are now;
    someone ``away_now`` takes nothing from their roles' pools."""
    if task.status != "open" or me.username in (task.excluded_users or []):
        return False
    if task.assignee is not None:
        return task.assignee == me.username
    return me.username in (task.candidate_users or []) or (
        not away_now and bool(roles_now & set(task.candidate_roles or []))
    )


def takes_from_pool(me: Principal, task: Task) -> bool:
    """Would I take ``task`` from one of my roles' pools (not as its assignee or by name)?"""
    return (
        task.assignee is None
        and me.username not in (task.candidate_users or [])
        and bool(me.roles & set(task.candidate_roles or []))
    )


def instance_visible(me: Principal) -> ColumnElement[bool]:
    """Instances I take part in: started, or with a task I may see (admins: all)."""
    if me.is_admin:
        return Instance.id.isnot(None)
    took_part = exists(select(Task.id).where(Task.instance_id == Instance.id, task_visible(me)))
    return or_(Instance.started_by == me.username, took_part)
