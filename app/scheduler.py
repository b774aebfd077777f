"""The in-process scheduler: APScheduler runs one short-interval job that does a worker tick.

Timers and outbox rows live in the database, not in APScheduler's memory, so a
restart loses nothing: the first tick after it fires whatever came due.
"""

from __future__ import annotations

import logging

import httpx
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI

from app.services.outbox import Worker, tick

log = logging.getLogger("stepwise.scheduler")


def make_worker(app: FastAPI) -> Worker:
    return Worker(
        sessionmaker=app.state.sessionmaker,
        cache=app.state.definitions,
        settings=app.state.settings,
        client=httpx.Client(timeout=10),
        clock=app.state.clock,
    )


def start(app: FastAPI, *, interval_s: float = 1.0) -> BackgroundScheduler:
    worker = app.state.worker

    def job() -> None:
        try:
            tick(worker)
        except Exception:  # the next tick tries again; nothing is lost
            log.exception("worker tick failed")

    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(
        job, "interval", seconds=interval_s, max_instances=1, coalesce=True, id="tick"
    )
    scheduler.start()
    return scheduler
