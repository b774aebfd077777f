"""Admin-defined business calendars, read by SLA due times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.main import create_app

SLA_FLOW = {
    "format": 1,
    "key": "sla-flow",
    "name": "SLA flow",
    "nodes": [
        {"id": "start", "type": "start", "name": "Start"},
        {
            "id": "work",
            "type": "user_task",
            "name": "Do it",
            "assignee": {"user": "walt"},
            "sla": {"due": "PT4H", "calendar": "business"},
        },
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "work"},
        {"id": "e2", "from": "work", "to": "end"},
    ],
}


@pytest.fixture
def app(settings):
    application = create_app(replace(settings, controllable_clock=True))
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def monday_3pm() -> datetime:
    ahead = datetime.now(UTC).date() + timedelta(days=7)
    monday = ahead - timedelta(days=ahead.weekday())
    return datetime(monday.year, monday.month, monday.day, 15, tzinfo=UTC)


def test_a_closure_pushes_an_sla_due_time_a_day(login):
    admin = login("admin")
    start = monday_3pm()
    tuesday = (start + timedelta(days=1)).date()
    r = admin.put("/api/calendars/business", json={"closures": [tuesday.isoformat()]})
    assert r.status_code == 200, r.text
    assert (
        admin.post("/api/workflows", json={"key": "sla-flow", "draft": SLA_FLOW}).status_code == 201
    )
    assert admin.post("/api/workflows/sla-flow/publish").status_code == 201
    assert admin.post("/api/clock/advance", json={"to": start.isoformat()}).status_code == 200
    task = admin.post("/api/workflows/sla-flow/instances", json={"data": {}}).json()["open_tasks"][
        0
    ]
    due = datetime.fromisoformat(task["due_at"])
    expected = datetime.combine(tuesday + timedelta(days=1), datetime.min.time(), UTC).replace(
        hour=11
    )
    assert (
        timedelta(0) <= due - expected < timedelta(minutes=1)
    )  # Monday 15:00 + 4h, Tuesday closed


def test_calendars_are_listed_for_everyone_and_changed_by_admins_only(login):
    sam, admin = login("sam"), login("admin")
    assert [c["name"] for c in sam.get("/api/calendars").json()] == ["business"]
    assert sam.put("/api/calendars/berlin", json={"timezone": "Europe/Berlin"}).status_code == 403
    r = admin.put(
        "/api/calendars/berlin",
        json={"timezone": "Europe/Berlin", "country": "DE", "subdivision": "BE"},
    )
    assert r.status_code == 200, r.text
    assert {c["name"] for c in sam.get("/api/calendars").json()} == {"business", "berlin"}
    assert admin.delete("/api/calendars/berlin").status_code == 204
    assert admin.delete("/api/calendars/berlin").status_code == 404


@pytest.mark.parametrize(
    "settings_json",
    [
        {"timezone": "Mars/Olympus"},
        {"work_days": []},
        {"start": "18:00", "end": "09:00"},
        {"country": "XX"},
    ],
)
def test_a_calendar_that_cannot_work_is_refused(login, settings_json):
    r = login("admin").put("/api/calendars/broken", json=settings_json)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_calendar"


def test_a_workflow_naming_an_unknown_calendar_does_not_publish(login):
    admin = login("admin")
    draft = {**SLA_FLOW, "key": "bad-cal"}
    draft["nodes"] = [dict(n) for n in SLA_FLOW["nodes"]]
    draft["nodes"][1] = {**draft["nodes"][1], "sla": {"due": "PT4H", "calendar": "nowhere"}}
    admin.post("/api/workflows", json={"key": "bad-cal", "draft": draft})
    r = admin.post("/api/workflows/bad-cal/publish")
    assert r.status_code == 422
    assert "unknown_calendar" in [p["code"] for p in r.json()["error"]["details"]]


def test_a_calendar_a_published_workflow_names_is_not_deleted(login):
    admin = login("admin")
    assert admin.put("/api/calendars/berlin", json={"timezone": "Europe/Berlin"}).status_code == 200
    draft = {**SLA_FLOW, "key": "berlin-sla"}
    draft["nodes"] = [dict(n) for n in SLA_FLOW["nodes"]]
    draft["nodes"][1] = {**draft["nodes"][1], "sla": {"due": "PT4H", "calendar": "berlin"}}
    assert (
        admin.post("/api/workflows", json={"key": "berlin-sla", "draft": draft}).status_code == 201
    )
    assert admin.post("/api/workflows/berlin-sla/publish").status_code == 201
    r = admin.delete("/api/calendars/berlin")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "calendar_in_use"
    assert r.json()["error"]["details"] == [{"workflow": "berlin-sla", "version": 1}]
    assert [c["name"] for c in admin.get("/api/calendars").json()].count("berlin") == 1
