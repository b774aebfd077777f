"""The in-process scheduler: APScheduler runs two short-interval jobs, one firing due
timers and one sending the outbox, so that a slow HTTP call never holds timers up.

Timers and outbox rows live in the database, not in APScheduler's memory, so a
restart loses nothing: the first run after it fires whatever came due. Each job runs
once at a time (``max_instances=1``, runs missed meanwhile coalesced into one); a timer
run keeps firing batches while there are due timers, for up to
``outbox.TICK_BUDGET_S``.
"""

from __future__ import annotations

import logging

import httpx
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI

from app.services.outbox import Worker, tick_outbox, tick_timers

log = logging.getLogger("stepwise.scheduler")
TIMER_INTERVAL_S = 0.2
OUTBOX_INTERVAL_S = 1.0


def make_worker(app: FastAPI) -> Worker:
    return Worker(
        sessionmaker=app.state.sessionmaker,
        cache=app.state.definitions,
        settings=app.state.settings,
        client=httpx.Client(timeout=10),
        clock=app.state.clock,
    )


class _TimersStillRunning(logging.Filter):
    """Drop APScheduler's warning that a timer run was skipped because the previous one is
    still going: under a backlog that run lasts longer than the interval, by design."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = record.args[0] if isinstance(record.args, tuple) and record.args else None
        skipped = "maximum number of running instances" in str(record.msg)
        return not (skipped and getattr(job, "id", None) == "timers")


def start(
    app: FastAPI,
    *,
    interval_s: float = OUTBOX_INTERVAL_S,
    timer_interval_s: float = TIMER_INTERVAL_S,
) -> BackgroundScheduler:
    """Start the timer job (every ``timer_interval_s``) and the outbox job (every
    ``interval_s``) in background threads."""
    worker = app.state.worker

    def timers() -> None:
        try:
            tick_timers(worker)
        except Exception:  # the next run tries again; nothing is lost
            log.exception("timer run failed")

    def outbox() -> None:
        try:
            tick_outbox(worker)
        except Exception:
            log.exception("outbox run failed")

    apscheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _TimersStillRunning) for f in apscheduler_log.filters):
        apscheduler_log.addFilter(_TimersStillRunning())
    scheduler = BackgroundScheduler(daemon=True)
    for job, seconds, job_id in (
        (timers, timer_interval_s, "timers"),
        (outbox, interval_s, "outbox"),
    ):
        scheduler.add_job(
            job, "interval", seconds=seconds, max_instances=1, coalesce=True, id=job_id
        )
    scheduler.start()
    return scheduler
