"""Bookkeeping that has done its job is deleted; what still matters is never touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.db.models import (
    ActionLink,
    LoginAttempt,
    LoginSession,
    Outbox,
    Timer,
    User,
    WebhookDelivery,
)
from app.services.housekeeping import sweep
from app.services.outbox import tick
from tests.app.builders import order, start_order

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(hours=1)


def count(app: Any, model: Any, *where: Any) -> int:
    with app.state.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_done_bookkeeping_goes_and_live_rows_stay(app: Any, login: Any) -> None:
    admin = login("admin")
    instance = start_order(admin, order("H-1", method="invoice"))  # a finance task at once
    tick(app.state.worker, now=datetime.now(UTC))  # delivers what the start queued
    with app.state.sessionmaker() as session:
        user = session.scalar(select(User).where(User.username == "sam"))
        assert user is not None
        task_id = instance["open_tasks"][0]["id"]
        session.add_all(
            [
                LoginSession(
                    id="expired", user_id=user.id, csrf_token="x", created_at=OLD, expires_at=OLD
                ),
                LoginSession(
                    id="live",
                    user_id=user.id,
                    csrf_token="x",
                    created_at=OLD,
                    expires_at=NOW + timedelta(hours=1),
                ),
                LoginAttempt(username="sam", client="c", at=OLD),
                LoginAttempt(username="sam", client="c", at=RECENT),
                Outbox(
                    kind="send_notification",
                    idempotency_key="old-done",
                    payload={},
                    status="done",
                    created_at=OLD,
                    done_at=OLD,
                ),
                Outbox(
                    kind="send_notification",
                    idempotency_key="recent-done",
                    payload={},
                    status="done",
                    created_at=RECENT,
                    done_at=RECENT,
                ),
                Outbox(
                    kind="send_notification",
                    idempotency_key="old-failed",
                    payload={},
                    status="failed",
                    created_at=OLD,
                ),
                Outbox(
                    kind="send_notification",
                    idempotency_key="old-pending",
                    payload={},
                    status="pending",
                    created_at=OLD,
                    next_attempt_at=OLD,
                ),
                Timer(
                    instance_id=instance["id"],
                    engine_id="t-old",
                    purpose="sla",
                    node="x",
                    due_at=OLD,
                    status="fired",
                    fired_at=OLD,
                ),
                Timer(
                    instance_id=instance["id"],
                    engine_id="t-cancelled",
                    purpose="sla",
                    node="x",
                    due_at=OLD,
                    status="cancelled",
                ),
                Timer(
                    instance_id=instance["id"],
                    engine_id="t-pending",
                    purpose="sla",
                    node="x",
                    due_at=OLD,
                    status="pending",
                ),
                Timer(
                    instance_id=instance["id"],
                    engine_id="t-failed",
                    purpose="sla",
                    node="x",
                    due_at=OLD,
                    status="failed",
                ),
                ActionLink(
                    task_id=task_id,
                    outcome="approve",
                    username="sam",
                    created_at=OLD,
                    expires_at=OLD,
                ),
                ActionLink(
                    task_id=task_id,
                    outcome="approve",
                    username="sam",
                    created_at=RECENT,
                    expires_at=NOW + timedelta(days=1),
                ),
                WebhookDelivery(
                    workflow_key="order-management",
                    idempotency_key="old",
                    body_sha256="x",
                    instance_id=instance["id"],
                    received_at=OLD,
                ),
                WebhookDelivery(
                    workflow_key="order-management",
                    idempotency_key="recent",
                    body_sha256="x",
                    instance_id=instance["id"],
                    received_at=RECENT,
                ),
            ]
        )
        session.commit()

    removed = sweep(app.state.sessionmaker, now=NOW, batch=2)  # batches of 2: the loop turns

    assert removed["sessions"] >= 1
    assert removed["webhook_deliveries"] == 1
    assert count(app, LoginSession, LoginSession.id == "expired") == 0
    assert count(app, LoginSession, LoginSession.id == "live") == 1
    assert count(app, LoginAttempt, LoginAttempt.at < NOW - timedelta(days=1)) == 0
    assert count(app, LoginAttempt, LoginAttempt.at == RECENT) == 1
    assert count(app, Outbox, Outbox.idempotency_key == "old-done") == 0
    kept = {"recent-done", "old-failed", "old-pending"}
    assert count(app, Outbox, Outbox.idempotency_key.in_(kept)) == 3
    assert count(app, Timer, Timer.engine_id.in_(("t-old", "t-cancelled"))) == 0
    assert count(app, Timer, Timer.engine_id.in_(("t-pending", "t-failed"))) == 2
    assert count(app, ActionLink, ActionLink.expires_at == OLD) == 0
    assert count(app, ActionLink) == 1
    assert count(app, WebhookDelivery, WebhookDelivery.idempotency_key == "old") == 0
    assert count(app, WebhookDelivery, WebhookDelivery.idempotency_key == "recent") == 1

    assert sweep(app.state.sessionmaker, now=NOW)["outbox"] == 0  # nothing left to do
