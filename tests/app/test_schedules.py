"""Workflows started by the clock, once per run across processes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.main import create_app
from app.services.schedules import latest_due, parse_cron, start_due_runs

HOURLY_REPORT = {
    "format": 1,
    "key": "every-five",
    "name": "Every five minutes",
    "nodes": [
        {
            "id": "start",
            "type": "start",
            "name": "Start",
            "trigger": {"type": "schedule", "cron": "*/5 * * * *"},
        },
        {
            "id": "check",
            "type": "user_task",
            "name": "Check stock levels",
            "assignee": {"role": "warehouse"},
        },
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "check"},
        {"id": "e2", "from": "check", "to": "end"},
    ],
}


@pytest.fixture
def app(settings):
    application = create_app(replace(settings, controllable_clock=True))
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def started(admin) -> int:
    return admin.get("/api/instances", params={"workflow": "every-five"}).json()["total"]


def test_latest_due_picks_the_last_run_in_the_window():
    trigger = parse_cron("*/5 * * * *")
    after = datetime(2026, 3, 2, 9, 1, tzinfo=UTC)
    assert latest_due(trigger, after, datetime(2026, 3, 2, 9, 4, tzinfo=UTC)) is None
    assert latest_due(trigger, after, datetime(2026, 3, 2, 9, 17, tzinfo=UTC)) == datetime(
        2026, 3, 2, 9, 15, tzinfo=UTC
    )


def test_a_scheduled_workflow_starts_once_per_run(login, app):
    admin = login("admin")
    assert (
        admin.post("/api/workflows", json={"key": "every-five", "draft": HOURLY_REPORT}).status_code
        == 201
    )
    assert admin.post("/api/workflows/every-five/publish").status_code == 201
    assert started(admin) == 0
    admin.post("/api/clock/advance", json={"by": "PT6M"})
    assert started(admin) == 1
    now = app.state.clock.now()
    worker = app.state.worker
    for _ in range(3):  # several processes at the same moment: the lease lets one through
        start_due_runs(worker.sessionmaker, worker.cache, now=now)
    assert started(admin) == 1
    admin.post("/api/clock/advance", json={"by": "PT5M"})
    assert started(admin) == 2
    admin.post("/api/clock/advance", json={"by": "PT2H"})  # after a pause: the latest run only
    assert started(admin) == 3


def test_a_schedule_that_does_not_parse_does_not_publish(login):
    admin = login("admin")
    draft = {**HOURLY_REPORT, "key": "bad-cron"}
    draft["nodes"] = [
        {**HOURLY_REPORT["nodes"][0], "trigger": {"type": "schedule", "cron": "every day"}},
        *HOURLY_REPORT["nodes"][1:],
    ]
    admin.post("/api/workflows", json={"key": "bad-cron", "draft": draft})
    r = admin.post("/api/workflows/bad-cron/publish")
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["code"] == "bad_schedule"


def test_a_scheduled_start_that_fails_holds_up_nothing_else(login):
    admin = login("admin")
    draft = {**HOURLY_REPORT, "key": "needs-data"}
    start_node = {**HOURLY_REPORT["nodes"][0]}
    start_node["form"] = {
        "type": "object",
        "required": ["x"],
        "properties": {"x": {"type": "string"}},
    }
    draft["nodes"] = [start_node, *HOURLY_REPORT["nodes"][1:]]
    assert (
        admin.post("/api/workflows", json={"key": "needs-data", "draft": draft}).status_code == 201
    )
    assert admin.post("/api/workflows/needs-data/publish").status_code == 201
    r = admin.post("/api/clock/advance", json={"by": "PT6M"})
    assert r.status_code == 200, r.text
    assert admin.get("/api/instances", params={"workflow": "needs-data"}).json()["total"] == 0
