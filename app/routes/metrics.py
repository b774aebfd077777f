"""Operational figures in the Prometheus text format, for a monitoring system to scrape.

``GET /api/admin/metrics`` with an admin's API token (``Authorization: Bearer sw_…``) or
session. Every figure is a gauge read from the database at the moment of the scrape, so
any node answers for the whole installation:

| metric | labels | what |
|---|---|---|
| ``stepwise_instances`` | ``workflow``, ``status`` | instances |
| ``stepwise_open_incidents`` | ``workflow`` | open incidents on running instances |
| ``stepwise_open_tasks`` | ``workflow`` | open tasks |
| ``stepwise_overdue_tasks`` | ``workflow`` | open tasks past their due time |
| ``stepwise_outbox_rows`` | ``kind``, ``status`` | outbox rows not yet done (pending, failed) |
| ``stepwise_outbox_oldest_pending_seconds`` | | how long the oldest due pending row has waited |
| ``stepwise_timers_pending`` | | timers not fired yet |
| ``stepwise_timers_late_seconds`` | | how late the most overdue pending timer is (0: none) |
| ``stepwise_dead_letters`` | ``status`` | webhook deliveries that could not start an instance |

Counts over the live rows only (done outbox rows and fired timers are not counted), so a
scrape stays cheap however long the installation has run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from app import clock
from app.db.models import DeadLetter, Incident, Instance, Outbox, Task, Timer
from app.deps import AdminUser, SessionDep
from app.schemas import ERRORS

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERRORS)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: object) -> str:
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(
    name: str, help_text: str, samples: Iterable[tuple[dict[str, object], float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}")
    return lines


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return max((now - moment).total_seconds(), 0.0) if moment is not None else 0.0


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
)
def metrics(session: SessionDep, me: AdminUser) -> Response:
    """The installation's figures in the Prometheus text format (see the module's table)."""
    now = clock.now()
    lines: list[str] = []
    instances = session.execute(
        select(Instance.workflow_key, Instance.status, func.count())
        .group_by(Instance.workflow_key, Instance.status)
        .order_by(Instance.workflow_key, Instance.status)
    )
    lines += _family(
        "stepwise_instances",
        "Workflow instances by workflow and status.",
        (({"workflow": w, "status": s}, n) for w, s, n in instances),
    )
    incidents = session.execute(
        select(Instance.workflow_key, func.count())
        .join(Incident, Incident.instance_id == Instance.id)
        .where(Incident.status == "open", Instance.status == "running")
        .group_by(Instance.workflow_key)
        .order_by(Instance.workflow_key)
    )
    lines += _family(
        "stepwise_open_incidents",
        "Open incidents on running instances, by workflow.",
        (({"workflow": w}, n) for w, n in incidents),
    )
    tasks = session.execute(
        select(
            Task.workflow_key,
            func.count(),
            func.count().filter(Task.due_at < now),
        )
        .where(Task.status == "open")
        .group_by(Task.workflow_key)
        .order_by(Task.workflow_key)
    ).all()
    lines += _family(
        "stepwise_open_tasks",
        "Open tasks by workflow.",
        (({"workflow": w}, n) for w, n, _ in tasks),
    )
    lines += _family(
        "stepwise_overdue_tasks",
        "Open tasks past their due time, by workflow.",
        (({"workflow": w}, late) for w, _, late in tasks),
    )
    outbox = session.execute(
        select(Outbox.kind, Outbox.status, func.count())
        .where(Outbox.status.in_(("pending", "failed")))
        .group_by(Outbox.kind, Outbox.status)
        .order_by(Outbox.kind, Outbox.status)
    )
    lines += _family(
        "stepwise_outbox_rows",
        "Outbox rows not yet done, by kind and status.",
        (({"kind": k, "status": s}, n) for k, s, n in outbox),
    )
    oldest = session.scalar(
        select(func.min(Outbox.next_attempt_at)).where(
            Outbox.status == "pending", Outbox.next_attempt_at <= now
        )
    )
    lines += _family(
        "stepwise_outbox_oldest_pending_seconds",
        "How long the oldest due pending outbox row has waited.",
        [({}, _seconds_since(oldest, now))],
    )
    pending, earliest = session.execute(
        select(func.count(), func.min(Timer.due_at)).where(Timer.status == "pending")
    ).one()
    lines += _family("stepwise_timers_pending", "Timers not fired yet.", [({}, pending)])
    lines += _family(
        "stepwise_timers_late_seconds",
        "How late the most overdue pending timer is.",
        [({}, _seconds_since(earliest, now))],
    )
    letters = session.execute(
        select(DeadLetter.status, func.count())
        .group_by(DeadLetter.status)
        .order_by(DeadLetter.status)
    )
    lines += _family(
        "stepwise_dead_letters",
        "Webhook deliveries kept because they could not start an instance, by status.",
        (({"status": s}, n) for s, n in letters),
    )
    return Response("\n".join(lines) + "\n", media_type=CONTENT_TYPE)
