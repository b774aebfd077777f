"""The in-process scheduler: APScheduler runs two short-interval jobs, one firing due
timers and one sending the outbox, so that a slow HTTP call never holds timers up.

Timers and outbox rows live in the database, not in APScheduler's memory, so a
restart loses nothing: the first run after it fires whatever came due. Each job runs
once at a time (``max_instances=1``, runs missed meanwhile coalesced into one); a timer
run keeps firing batches while there are due timers, for up to
``outbox.TICK_BUDGET_S``.
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path
from typing import IO

import httpx
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI

from app import clock
from app.services import housekeeping, retention
from app.services.documents import DocumentStore
from app.services.outbox import Worker, tick_outbox, tick_timers

log = logging.getLogger("stepwise.scheduler")
TIMER_INTERVAL_S = 0.2
OUTBOX_INTERVAL_S = 1.0
RETENTION_INTERVAL_S = 3600.0
RETENTION_BATCHES = 200  # at most 100,000 instances an hour, in short transactions


class Ownership:
    """On SQLite one process owns the timers and the outbox: whoever holds an exclusive lock
    on a file beside the database. The others keep asking, so a survivor takes over when the
    owner stops. On PostgreSQL every process shares the work (``SKIP LOCKED``)."""

    def __init__(self, url: str) -> None:
        self.path: Path | None = None
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            self.path = Path(url.split("///", 1)[1] + ".worker-lock")
        self._file: IO[bytes] | None = None

    def owns(self) -> bool:
        if self.path is None or self._file is not None:
            return True
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        log.info("this process now runs the timers and the outbox for %s", self.path.stem)
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


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
    ownership: Ownership = app.state.ownership

    def timers() -> None:
        if not ownership.owns():
            return
        try:
            tick_timers(worker)
        except Exception:  # the next run tries again; nothing is lost
            log.exception("timer run failed")

    def outbox() -> None:
        if not ownership.owns():
            return
        try:
            tick_outbox(worker)
        except Exception:
            log.exception("outbox run failed")

    def history() -> None:
        if not ownership.owns():
            return
        try:
            if worker.clock is not None:
                clock.use(worker.clock)
            retention.sweep(
                worker.sessionmaker,
                now=clock.now(),
                archive_dir=worker.settings.data_dir / "archive",
                max_batches=RETENTION_BATCHES,
                documents=DocumentStore.of(worker.settings),
            )
        except Exception:
            log.exception("retention sweep failed")
        try:
            housekeeping.sweep(worker.sessionmaker, now=clock.now())
        except Exception:
            log.exception("housekeeping failed")

    apscheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _TimersStillRunning) for f in apscheduler_log.filters):
        apscheduler_log.addFilter(_TimersStillRunning())
    scheduler = BackgroundScheduler(daemon=True)
    for job, seconds, job_id in (
        (timers, timer_interval_s, "timers"),
        (outbox, interval_s, "outbox"),
        (history, RETENTION_INTERVAL_S, "retention"),
    ):
        scheduler.add_job(
            job, "interval", seconds=seconds, max_instances=1, coalesce=True, id=job_id
        )
    scheduler.start()
    return scheduler
