"""Task notices: the email or SMS each person a task is given to gets when it is created.

A user task or approval node may carry ``notify``: a list of notices (``engine.model.
TaskNotice``). When one of its tasks is created, every notice is queued in the outbox once per
person the task is for, in the step's own transaction: its assignee, or else the people of its
pool who are in (active, not out of office, not excluded by four eyes). The outbox renders each
for its person (``{{ person.name }}``, ``{{ task.links.approve }}`` made for them, see
``app.services.actionlinks``) and sends it to the address in their profile unless the notice
says ``to``. Each SLA reminder of the task sends them again to whoever holds it then, and
so does handing the task on (an admin's reassignment, a delegation).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db.models import Membership, Outbox, Task, User
from app.services.access import away

MAX_RECIPIENTS = 100
"""A pool task's notices go to at most this many of its people (the first by user name): a
role of hundreds is told by its inbox, not by hundreds of emails."""


def recipients(session: Session, task: Task, *, now: datetime) -> list[str]:
    """Who a new task's notices go to: its assignee, or the people of its pool who are in."""
    if task.assignee:
        return [task.assignee]
    users = list(task.candidate_users or [])
    roles = list(task.candidate_roles or [])
    if not users and not roles:
        return []
    in_pool = or_(
        User.username.in_(users),
        User.id.in_(select(Membership.user_id).where(Membership.role.in_(roles))),
    )
    excluded = list(task.excluded_users or [])
    query = (
        select(User.username)
        .where(in_pool, User.is_active, ~away(User.username, now))
        .order_by(User.username)
        .limit(MAX_RECIPIENTS)
    )
    if excluded:
        query = query.where(User.username.not_in(excluded))
    return list(session.scalars(query))


def queue(
    session: Session,
    task: Task,
    notices: Sequence[dict[str, Any]],
    data: dict[str, Any],
    *,
    now: datetime,
    reminder: int | None = None,
    handed: bool = False,
) -> int:
    """Queue ``notices`` for each person ``task`` is for. Returns how many rows were queued.

    ``reminder``: the number of the SLA reminder this is (1, 2, ...): the notices go again to
    whoever holds the task now, marked "Reminder:" (the email's subject, an SMS's text).
    ``handed``: the task was just handed to someone else (reassigned, delegated): the notices
    go to its new holder(s)."""
    if not notices:
        return 0
    people = recipients(session, task, now=now)
    occasion = (
        f"remind{reminder}:"
        if reminder is not None
        else f"handed:{now.isoformat()}:"
        if handed
        else ""
    )
    for person in people:
        for i, notice in enumerate(notices):
            channel = notice.get("channel", "email")
            subject, body = notice.get("subject"), notice.get("body", "")
            if reminder is not None:
                if channel == "email":
                    subject = f"Reminder: {subject or '{{ task.name }}'}"
                else:
                    body = f"Reminder: {body}"
            session.add(
                Outbox(
                    instance_id=task.instance_id,
                    kind="send_notification",
                    idempotency_key=f"notice:{task.id}:{occasion}{i}:{person}",
                    payload={
                        "channel": channel,
                        "to": notice.get("to") or f"user:{person}",
                        "subject": subject,
                        "body": body,
                        "data": data,
                        "node": task.node,
                        "instance_id": task.instance_id,
                        "task_id": task.id,
                        "person": person,
                    },
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return len(people) * len(notices)


def address(session: Session, username: str, channel: str) -> str | None:
    """The person's own address for ``channel``: their email address or phone number."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        return None
    value = user.email if channel == "email" else user.phone if channel == "sms" else None
    return (value or "").strip() or None


def person(session: Session, username: str) -> dict[str, str]:
    """The person as templates see them: ``person.username``, ``person.name``."""
    name = session.scalar(select(User.display_name).where(User.username == username))
    return {"username": username, "name": name or username}
