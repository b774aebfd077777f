"""Task notices: the email or SMS each person a task is given to gets when it is created.

A user task or approval node may carry ``notify``: a list of notices (``engine.model.
TaskNotice``). When one of its tasks is created, every notice is queued in the outbox once per
person the task is for, in the step's own transaction: its assignee, or else the people of its
pool who are in (active, not out of office, not excluded by four eyes). The outbox renders each
for its person (``{{ person.name }}``, ``{{ task.links.approve }}`` made for them, see
``app.services.actionlinks``) and sends it to the address in their profile unless the notice
says ``to``. Each SLA reminder of the task sends them again to whoever holds it then, and
so does handing the task on (an admin's reassignment, a delegation).

``tell`` is for the service's own words about a task (an SLA escalation, an out-of-office
hand-over): the in-app notification, and the same text by email to each person it is for,
with a link to the task.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db.models import Membership, Task, User
from app.services.access import away
from app.services.records import notify, queue_notification

MAX_RECIPIENTS = 100
"""A pool task's notices go to at most this many of its people (the first by user name): a
role of hundreds is told by its inbox, not by hundreds of emails."""


def recipients(session: Session, task: Task, *, now: datetime) -> list[str]:
    """Who a new task's notices go to: its assignee, or the people of its pool who are in."""
    if task.assignee:
        return [task.assignee]
    return present(
        session,
        users=task.candidate_users or [],
        roles=task.candidate_roles or [],
        excluded=task.excluded_users or [],
        now=now,
    )


def present(
    session: Session,
    *,
    users: Sequence[str] = (),
    roles: Sequence[str] = (),
    excluded: Sequence[str] = (),
    now: datetime,
) -> list[str]:
    """The people named in ``users`` or holding one of ``roles`` who are in (active, not
    away, not ``excluded``): the first ``MAX_RECIPIENTS`` by user name."""
    if not users and not roles:
        return []
    in_pool = or_(
        User.username.in_(list(users)),
        User.id.in_(select(Membership.user_id).where(Membership.role.in_(list(roles)))),
    )
    query = (
        select(User.username)
        .where(in_pool, User.is_active, ~away(User.username, now))
        .order_by(User.username)
        .limit(MAX_RECIPIENTS)
    )
    if excluded:
        query = query.where(User.username.not_in(list(excluded)))
    return list(session.scalars(query))


def tell(
    session: Session,
    to: str,
    title: str,
    body: str = "",
    *,
    now: datetime,
    instance_id: str,
    task_id: str,
    key: str,
) -> None:
    """Tell ``user:<name>`` or ``role:<name>`` about a task in the app, and by email each of
    them who is in. The email is the notification's text (final text, like ``notify``'s)
    and a link to the task; it goes to the address in their profile, and is skipped for
    whoever has none, when email is not set up, or when the ``task_emails`` setting is off."""
    notify(session, to, title, body, now=now, instance_id=instance_id, task_id=task_id, key=key)
    kind, _, name = to.partition(":")
    people = (
        [name]
        if kind == "user"
        else present(session, roles=[name], now=now)
        if kind == "role"
        else []
    )
    for person in people:
        email = {
            "channel": "email",
            "to": f"user:{person}",
            "subject": title,
            "body": body,
            "data": {},
            "instance_id": instance_id,
            "task_id": task_id,
            "person": person,
            "literal": True,
            "link": True,
        }
        email_key = f"{key}:email:{person}"[:200]
        queue_notification(session, email, key=email_key, now=now, instance_id=instance_id)


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
            payload = {
                "channel": channel,
                "to": notice.get("to") or f"user:{person}",
                "subject": subject,
                "body": body,
                "data": data,
                "node": task.node,
                "instance_id": task.instance_id,
                "task_id": task.id,
                "person": person,
            }
            key = f"notice:{task.id}:{occasion}{i}:{person}"
            queue_notification(session, payload, key=key, now=now, instance_id=task.instance_id)
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
