"""Records every service writes: the audit log, inbox candidates, queued notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db.models import AuditEvent, Outbox, Task, TaskCandidate


def audit(
    session: Session,
    action: str,
    *,
    actor: str | None,
    instance_id: str | None = None,
    task_id: str | None = None,
    on_behalf_of: str | None = None,
    now: datetime,
    **details: Any,
) -> None:
    session.add(
        AuditEvent(
            at=now,
            actor=actor,
            on_behalf_of=on_behalf_of,
            action=action,
            instance_id=instance_id,
            task_id=task_id,
            details=details,
        )
    )


def set_candidates(session: Session, task: Task, *, new: bool = False) -> None:
    """Mirror a task's candidate users and roles into the table inbox queries use."""
    if not new:
        session.execute(delete(TaskCandidate).where(TaskCandidate.task_id == task.id))
    session.add_all(
        TaskCandidate(task_id=task.id, kind="user", name=u) for u in task.candidate_users
    )
    session.add_all(
        TaskCandidate(task_id=task.id, kind="role", name=r) for r in task.candidate_roles
    )
    session.add_all(
        TaskCandidate(task_id=task.id, kind="exclude", name=u) for u in task.excluded_users
    )


def notify_once(
    session: Session,
    to: str,
    title: str,
    body: str = "",
    *,
    now: datetime,
    instance_id: str | None = None,
    key: str,
) -> None:
    """``notify``, unless a notification with ``key`` was queued already (then nothing,
    not an error: the key says which notifications count as one). It stands for several
    instances, so its row belongs to none; ``instance_id`` is only what it links to."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert(Outbox) if dialect == "postgresql" else sqlite_insert(Outbox)
    session.execute(
        insert.values(
            instance_id=None,
            kind="send_notification",
            idempotency_key=key,
            payload=_inbox_payload(to, title, body, instance_id=instance_id, task_id=None),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        ).on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


def tell_admins_of_incident(
    session: Session,
    *,
    workflow_key: str,
    instance_id: str,
    node: str,
    code: str,
    message: str,
    now: datetime,
) -> None:
    """Admins hear of incidents in their inbox: once an hour per workflow, step and problem,
    so that a system down for every instance does not bury them under one per instance."""
    notify_once(
        session,
        "role:admin",
        f"Incident in {workflow_key} at {node}: {code}",
        f"{message}\n\nSee Admin → Incidents.",
        now=now,
        instance_id=instance_id,
        key=f"incident:{workflow_key}:{node}:{code}:{now.strftime('%Y-%m-%dT%H')}"[:200],
    )


def notify(
    session: Session,
    to: str,
    title: str,
    body: str = "",
    *,
    now: datetime,
    instance_id: str | None = None,
    task_id: str | None = None,
    key: str,
) -> None:
    """Queue an in-app notification for ``user:<name>`` or ``role:<name>`` through the outbox.
    ``title`` and ``body`` are final text, not templates: they quote what people typed (a task
    name, an out-of-office note), which must show as typed, ``{{`` and all."""
    payload = _inbox_payload(to, title, body, instance_id=instance_id, task_id=task_id)
    queue_notification(session, payload, key=key, now=now, instance_id=instance_id)


def queue_notification(
    session: Session,
    payload: dict[str, Any],
    *,
    key: str,
    now: datetime,
    instance_id: str | None,
) -> None:
    """An outbox row for the outbox worker to send now: ``payload`` says the channel, the
    address and the text (see ``app.services.outbox._notify``); ``key`` makes it once."""
    session.add(
        Outbox(
            instance_id=instance_id,
            kind="send_notification",
            idempotency_key=key,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
    )


def _inbox_payload(
    to: str, title: str, body: str, *, instance_id: str | None, task_id: str | None
) -> dict[str, Any]:
    """An in-app notification's outbox payload: final text (``literal``), not a template."""
    return {
        "channel": "inbox",
        "to": to,
        "subject": title,
        "body": body,
        "data": {},
        "instance_id": instance_id,
        "task_id": task_id,
        "literal": True,
    }
