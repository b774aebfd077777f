"""Bookkeeping that has done its job goes: expired logins, old failed-login records, delivered
outbox rows, fired and cancelled timers, spent action links, and webhook delivery ids past
the time a sender retries.

=======================  ========================================================  ==========
table                    a row goes when                                           kept for
=======================  ========================================================  ==========
``sessions``             it has expired                                            —
``login_attempts``       it is older than the throttling needs                     1 day
``outbox``               it was delivered (``done``) this long ago                 7 days
``timers``               it fired or was cancelled this long ago (by ``due_at``)   7 days
``action_links``         it expired this long ago (used or not)                    7 days
``webhook_deliveries``   it was received this long ago (retries come in days)      30 days
=======================  ========================================================  ==========

Rows that still matter — a pending outbox row or timer, a ``failed`` one an admin may look
into, a live session — are never touched. Each batch is its own short transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import ActionLink, LoginAttempt, LoginSession, Outbox, Timer, WebhookDelivery

log = logging.getLogger(__name__)

BATCH = 1000


@dataclass(frozen=True)
class Keep:
    """How long each kind of finished bookkeeping is kept."""

    login_attempts: timedelta = timedelta(days=1)
    outbox: timedelta = timedelta(days=7)
    timers: timedelta = timedelta(days=7)
    action_links: timedelta = timedelta(days=7)
    webhook_deliveries: timedelta = timedelta(days=30)


def sweep(
    sessions: sessionmaker[Session],
    *,
    now: datetime,
    keep: Keep = Keep(),
    batch: int = BATCH,
) -> dict[str, int]:
    """Delete what has done its job; returns how many rows went, per table."""
    # logins are checked against the system clock (a moved demo clock does not end them)
    expired = min(now, datetime.now(UTC))
    rules: list[tuple[str, Any, ColumnElement[bool]]] = [
        ("sessions", LoginSession, LoginSession.expires_at <= expired),
        ("login_attempts", LoginAttempt, LoginAttempt.at < now - keep.login_attempts),
        ("outbox", Outbox, (Outbox.status == "done") & (Outbox.done_at < now - keep.outbox)),
        (
            "timers",
            Timer,
            Timer.status.in_(("fired", "cancelled")) & (Timer.due_at < now - keep.timers),
        ),
        ("action_links", ActionLink, ActionLink.expires_at < now - keep.action_links),
        (
            "webhook_deliveries",
            WebhookDelivery,
            WebhookDelivery.received_at < now - keep.webhook_deliveries,
        ),
    ]
    removed: dict[str, int] = {}
    for name, model, condition in rules:
        table = model.__table__
        columns = list(table.primary_key.columns)
        key = tuple_(*columns)
        while True:
            with sessions() as session:
                ids = session.execute(select(*columns).where(condition).limit(batch)).all()
                if ids:
                    session.execute(delete(table).where(key.in_([tuple(i) for i in ids])))
                    session.commit()
            removed[name] = removed.get(name, 0) + len(ids)
            if len(ids) < batch:
                break
    if any(removed.values()):
        log.info("housekeeping removed %s", {k: v for k, v in removed.items() if v})
    return removed
