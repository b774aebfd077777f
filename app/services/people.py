"""People being away, delegates, and in-app notifications.

During an out-of-office window, tasks for that person go to their delegate; when
the window starts, their open tasks move to the delegate; when it ends, tasks the
delegate has not touched can go back (a setting of the window). Chains (A -> B
while B -> C) resolve to the first available person; a loop, or a delegate who is
not in the task's role, falls back to the role's pool, and the admins are told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Membership, Notification, OutOfOffice, Task, User
from app.services import notices
from app.services.access import away as away_at
from app.services.records import audit, notify, set_candidates

MAX_CHAIN = 10


def away(session: Session, username: str, now: datetime) -> OutOfOffice | None:
    """The window ``username`` is away in at ``now``, if any."""
    return session.scalar(
        select(OutOfOffice)
        .where(
            OutOfOffice.username == username,
            OutOfOffice.starts_at <= now,
            OutOfOffice.ends_at > now,
        )
        .order_by(OutOfOffice.starts_at)
        .limit(1)
    )


def away_users(session: Session, names: list[str], now: datetime) -> set[str]:
    if not names:
        return set()
    rows = session.scalars(
        select(OutOfOffice.username).where(
            OutOfOffice.username.in_(names), OutOfOffice.starts_at <= now, OutOfOffice.ends_at > now
        )
    )
    return set(rows)


def has_role(session: Session, username: str, role: str) -> bool:
    found = session.scalar(
        select(Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(User.username == username, Membership.role == role, User.is_active)
    )
    return found is not None


@dataclass
class Cover:
    """Who covers for an absent person: ``user``, or nobody (``None``: use the role's pool)."""

    user: str | None
    note: str


def cover_for(session: Session, username: str, now: datetime, *, role: str | None = None) -> Cover:
    """Follow delegates from ``username`` to the first person who is not away."""
    seen = [username]
    current = username
    for _ in range(MAX_CHAIN):
        window = away(session, current, now)
        if window is None:
            if current == username:
                return Cover(current, "")
            if role is not None and not has_role(session, current, role):
                return Cover(None, f"{current} is not in role {role}; back to the pool")
            active = session.scalar(select(User.is_active).where(User.username == current))
            if not active:
                return Cover(None, f"{current} is not an active user; back to the pool")
            return Cover(current, f"{' -> '.join(seen)} (out of office)")
        if window.delegate in seen:
            return Cover(
                None, f"delegates go round in a loop ({' -> '.join([*seen, window.delegate])})"
            )
        seen.append(window.delegate)
        current = window.delegate
    return Cover(None, "the chain of delegates is too long")


def deliver_inbox(session: Session, payload: dict[str, Any], *, now: datetime) -> int:
    """Write in-app notifications for every recipient of a queued one. Returns how many."""
    to = str(payload.get("to", ""))
    kind, _, name = to.partition(":")
    if kind == "role":  # its members who are in: role pools leave out people who are away
        recipients = list(
            session.scalars(
                select(User.username)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.role == name, User.is_active, ~away_at(User.username, now))
            )
        )
    else:
        recipients = [name or to]
    for username in recipients:
        session.add(
            Notification(
                username=username,
                title=str(payload.get("subject") or "")[:300],
                body=str(payload.get("body") or ""),
                instance_id=payload.get("instance_id"),
                task_id=payload.get("task_id"),
                created_at=now,
            )
        )
    return len(recipients)


def _task_role(task: Task) -> str | None:
    return task.role or (task.candidate_roles[0] if task.candidate_roles else None)


def sweep_windows(session: Session, *, now: datetime) -> int:
    """Move tasks at the start and end of out-of-office windows. Returns windows handled."""
    handled = 0
    starting = session.scalars(
        select(OutOfOffice).where(OutOfOffice.started.is_(False), OutOfOffice.starts_at <= now)
    ).all()
    for window in starting:
        window.started = True
        handled += 1
        if window.ends_at <= now:
            continue
        tasks = session.scalars(
            select(Task).where(Task.status == "open", Task.assignee == window.username)
        ).all()
        for task in tasks:
            cover = cover_for(session, window.username, now, role=_task_role(task))
            _hand_over(session, task, window.username, cover, now=now, window_id=window.id)
    ending = session.scalars(
        select(OutOfOffice).where(OutOfOffice.ended.is_(False), OutOfOffice.ends_at <= now)
    ).all()
    for window in ending:
        window.ended = True
        window.started = True
        handled += 1
        if not window.return_tasks:
            continue
        tasks = session.scalars(
            select(Task).where(
                Task.status == "open",
                Task.away_owner == window.username,
                Task.claimed_at.is_(None),  # the delegate has not started on it
            )
        ).all()
        for task in tasks:
            previous = task.assignee
            task.assignee, task.away_owner = window.username, None
            audit(
                session,
                "task.returned",
                actor=None,
                instance_id=task.instance_id,
                task_id=task.id,
                now=now,
                from_user=previous,
                to=window.username,
            )
            notices.tell(
                session,
                f"user:{window.username}",
                f"Back with you: {task.name}",
                now=now,
                instance_id=task.instance_id,
                task_id=task.id,
                key=f"return:{window.id}:{task.id}",
            )
    return handled


def give(session: Session, task: Task, username: str, *, now: datetime) -> str | None:
    """Give ``task`` to ``username`` (an admin's reassignment, an SLA escalation's). While
    they are away it goes where their own tasks went when the absence began: to whoever
    covers for them, else their role's pool, and it comes back when the absence ends.
    Returns the note saying where it went instead, or None when it went to them."""
    role = _task_role(task)
    task.assignee, task.candidate_users, task.candidate_roles = username, [], []
    window = away(session, username, now)
    if window is None:
        return None
    cover = cover_for(session, username, now, role=role)
    if cover.user is not None and cover.user in (task.excluded_users or []):
        cover = Cover(None, f"{cover.user} covers for {username} but may not take this task")
    if cover.user is None and role is not None:
        task.role = task.role or role
    _hand_over(session, task, username, cover, now=now, window_id=window.id)
    return cover.note


def _hand_over(
    session: Session, task: Task, owner: str, cover: Cover, *, now: datetime, window_id: str
) -> None:
    if cover.user is None:
        role = _task_role(task)
        task.assignee, task.away_owner = None, owner
        if role is None:
            task.candidate_users = [owner]
        else:
            task.candidate_roles = [role]
        set_candidates(session, task)
        notify(
            session,
            "role:admin",
            f"No one covers {task.name} for {owner}",
            cover.note,
            now=now,
            instance_id=task.instance_id,
            task_id=task.id,
            key=f"uncovered:{task.id}:{now.isoformat()}",
        )
    else:
        task.assignee, task.away_owner, task.claimed_at = cover.user, owner, None
        notices.tell(
            session,
            f"user:{cover.user}",
            f"{task.name} (for {owner}, who is away)",
            cover.note,
            now=now,
            instance_id=task.instance_id,
            task_id=task.id,
            key=f"cover:{window_id}:{task.id}:{cover.user}",
        )
    audit(
        session,
        "task.covered",
        actor=None,
        on_behalf_of=owner,
        instance_id=task.instance_id,
        task_id=task.id,
        now=now,
        to=cover.user,
        note=cover.note,
    )
