"""Workflows started by the clock: a start node with ``trigger: {type: schedule, cron}``.

Every process looks for due runs; the ``schedule_runs`` primary key (workflow, fire time)
is the lease, so each run starts exactly once across the cluster. After a pause (the
service was down), only the latest missed run is started, not every one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import ScheduleRun, Workflow, WorkflowVersion
from app.services import runner
from app.services.runner import DefinitionCache

log = logging.getLogger("stepwise.schedules")


def parse_cron(expression: str) -> CronTrigger:
    """A standard five-field cron expression, in UTC (ValueError if it does not parse)."""
    return CronTrigger.from_crontab(expression, timezone=UTC)


def check_cron(expression: str) -> str | None:
    try:
        parse_cron(expression)
    except (ValueError, TypeError) as exc:
        return f"'{expression}' is not a cron schedule (five fields: minute hour day month weekday): {exc}"
    return None


def latest_due(trigger: CronTrigger, after: datetime, now: datetime) -> datetime | None:
    """The last fire time in (after, now], or None."""
    found = None
    moment = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
    for _ in range(10_000):
        if moment is None or moment > now:
            break
        found = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return found


def start_due_runs(make: sessionmaker[Session], cache: DefinitionCache, *, now: datetime) -> int:
    """Start every scheduled workflow whose run is due. Returns how many were started."""
    started = 0
    with make() as session:
        scheduled = _scheduled(session, cache)
    for key, cron, published_at in scheduled:
        with make() as session:
            last = session.scalar(
                select(func.max(ScheduleRun.fire_at)).where(ScheduleRun.workflow_key == key)
            )
            due = latest_due(parse_cron(cron), last or published_at, now)
            if due is None:
                continue
            session.add(ScheduleRun(workflow_key=key, fire_at=due, created_at=now))
            try:
                session.flush()  # the lease: a second process fails here and moves on
            except IntegrityError:
                session.rollback()
                continue
            try:
                instance = runner.start_instance(
                    session, cache=cache, workflow_key=key, data={}, actor="schedule", now=now
                )
            except Exception:  # e.g. a start form that needs data: this run is spent, logged
                log.exception("scheduled start of %s at %s failed", key, due.isoformat())
                session.rollback()
                session.add(ScheduleRun(workflow_key=key, fire_at=due, created_at=now))
                session.commit()
                continue
            run = session.get(ScheduleRun, (key, due))
            if run is not None:
                run.instance_id = instance.id
            session.commit()
            started += 1
    return started


def _scheduled(session: Session, cache: DefinitionCache) -> list[tuple[str, str, datetime]]:
    rows = session.execute(
        select(Workflow.key, Workflow.published_version, WorkflowVersion.published_at)
        .join(
            WorkflowVersion,
            (WorkflowVersion.workflow_key == Workflow.key)
            & (WorkflowVersion.version == Workflow.published_version),
        )
        .where(Workflow.archived.is_(False))
    ).all()
    out = []
    for key, version, published_at in rows:
        if version is None:
            continue
        compiled = cache.get(session, key, version)
        trigger = compiled.nodes[compiled.start].trigger
        if trigger.type == "schedule" and trigger.cron and check_cron(trigger.cron) is None:
            out.append((key, trigger.cron, published_at))
    return out
