"""The task page (``GET /api/tasks/{id}``) and completing a task someone else completed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.app.builders import assert_error, away, count_then_check, counted, publish

PACKING = {
    "format": 1,
    "name": "Packing",
    "data": {
        "type": "object",
        "required": ["order_id"],
        "properties": {
            "order_id": {"type": "string"},
            "customer": {"type": "object"},
            "total": {"type": "number"},
            "gift": {"type": "boolean"},
        },
    },
    "nodes": [
        {"id": "start", "type": "start", "name": "Start", "stage": "Packing"},
        {
            "id": "pack",
            "type": "user_task",
            "name": "Pack the parcel",
            "assignee": {"role": "warehouse"},
            "instructions": "Wrap each item; weigh the parcel.",
            "form": {
                "type": "object",
                "required": ["weight_kg"],
                "properties": {"weight_kg": {"type": "number", "exclusiveMinimum": 0}},
            },
            "ui": {"weight_kg": {"ui:widget": "updown", "ui:help": "in kilograms"}},
            "sla": {"due": "PT4H"},
        },
        {"id": "end", "type": "end", "name": "Done"},
    ],
    "edges": [
        {"id": "e0", "from": "start", "to": "pack"},
        {"id": "e1", "from": "pack", "to": "end"},
    ],
}
DATA = {
    "gift": True,
    "note": "x" * 300,
    "customer": {"name": "Ada Lovelace"},
    "total": 42.5,
    "order_id": "P-1",
}


@pytest.fixture
def task_id(login) -> str:
    admin = login("admin")
    assert (
        admin.post("/api/workflows", json={"key": "packing", "draft": PACKING}).status_code == 201
    )
    assert admin.post("/api/workflows/packing/publish").status_code == 201
    started = login("sam").post("/api/workflows/packing/instances", json={"data": DATA})
    assert started.status_code == 201, started.text
    found: str = admin.get("/api/tasks", params={"scope": "all"}).json()["items"][0]["id"]
    return found


def page(client: TestClient, task_id: str) -> dict[str, Any]:
    response = client.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_the_task_page_has_the_form_its_hints_the_instance_and_what_i_may_do(login, task_id):
    walt = login("walt")
    task = page(walt, task_id)
    assert task["instructions"] == "Wrap each item; weigh the parcel."
    assert task["form"]["required"] == ["weight_kg"]
    assert task["ui"] == {"weight_kg": {"ui:widget": "updown", "ui:help": "in kilograms"}}
    instance = task["instance"]
    assert (instance["workflow_name"], instance["stage"], instance["business_key"]) == (
        "Packing",
        "Packing",
        "P-1",
    )
    assert instance["started_by"] == "sam"
    # plain values only, in the data schema's order; long texts and records left out
    assert instance["key_fields"] == {"order_id": "P-1", "total": 42.5, "gift": True}
    assert task["sla_state"] == "ok"
    assert 4 * 3600 - 60 < task["seconds_left"] <= 4 * 3600
    assert task["can"] == {
        "claim": True,
        "unclaim": False,
        "complete": True,
        "delegate": False,
        "reassign": False,
    }
    assert walt.post(f"/api/tasks/{task_id}/claim").status_code == 200
    assert page(walt, task_id)["can"] == {
        "claim": False,
        "unclaim": True,
        "complete": True,
        "delegate": True,
        "reassign": False,
    }
    assert page(login("admin"), task_id)["can"] == {
        "claim": False,
        "unclaim": True,
        "complete": False,
        "delegate": False,
        "reassign": True,
    }
    assert_error(login("sam").get(f"/api/tasks/{task_id}"), 404, "not_found")


def test_completing_a_task_someone_else_completed_is_409_naming_them(login, task_id):
    walt, wendy = login("walt"), login("wendy")
    assert page(wendy, task_id)["can"]["complete"] is True  # she opened it too
    done = walt.post(f"/api/tasks/{task_id}/complete", json={"data": {"weight_kg": 1.5}})
    assert done.status_code == 200, done.text

    late = wendy.post(f"/api/tasks/{task_id}/complete", json={"data": {"weight_kg": 2}})
    assert_error(late, 409, "task_already_completed")
    error = late.json()["error"]
    assert error["message"].startswith("Walt Warehouse (walt) completed this task at ")
    assert error["details"]["completed_by"] == "walt"
    assert datetime.fromisoformat(error["details"]["completed_at"]) == datetime.fromisoformat(
        done.json()["completed_at"]
    )
    # whoever did it is told it is done; those it was never offered to learn nothing
    assert_error(
        walt.post(f"/api/tasks/{task_id}/complete", json={"data": {"weight_kg": 2}}),
        409,
        "task_not_open",
    )
    assert_error(
        login("sam").post(f"/api/tasks/{task_id}/complete", json={"data": {"weight_kg": 2}}),
        404,
        "not_found",
    )


def test_an_admin_cannot_reassign_a_task_to_someone_the_four_eyes_rule_excludes(
    login: Any,
) -> None:
    admin, walt = login("admin"), login("walt")
    publish(admin, count_then_check("four-eyes"))
    _, check = counted(admin, walt, "four-eyes")
    refused = admin.post(f"/api/tasks/{check['id']}/reassign", json={"user": "walt"})
    assert_error(refused, 422, "four_eyes")
    assert admin.get(f"/api/tasks/{check['id']}").json()["assignee"] is None
    given = admin.post(f"/api/tasks/{check['id']}/reassign", json={"user": "wendy"})
    assert given.status_code == 200, given.text
    assert given.json()["assignee"] == "wendy"


def test_the_holder_is_offered_who_may_take_the_task_its_team_first(login: Any) -> None:
    admin, walt, wendy = login("admin"), login("walt"), login("wendy")
    publish(admin, count_then_check("handover"))
    _, check = counted(admin, walt, "handover")
    assert wendy.post(f"/api/tasks/{check['id']}/claim").status_code == 200

    offered = wendy.get(f"/api/tasks/{check['id']}/handover")
    assert offered.status_code == 200, offered.text
    people = offered.json()["people"]
    names = [p["username"] for p in people]
    assert "wendy" not in names  # she holds it
    assert "walt" not in names  # he counted: the four-eyes rule keeps him out
    assert names[0] == "mia"
    assert people[0]["in_team"]
    assert people[0]["display_name"] == "Mia Manager"
    assert [p["in_team"] for p in people].count(True) == 1
    assert {"sam", "suki", "admin"} <= set(names)
    assert offered.json()["roles"] == []  # delegating goes to a person

    as_admin = admin.get(f"/api/tasks/{check['id']}/handover").json()
    assert as_admin["roles"][0] == "warehouse"
    assert {"sales", "shipping"} <= set(as_admin["roles"])
    # held by wendy, it is no longer in mia's pool
    assert_error(login("mia").get(f"/api/tasks/{check['id']}/handover"), 404, "not_found")


def test_someone_out_of_office_is_offered_marked_away(login: Any) -> None:
    admin, walt, wendy = login("admin"), login("walt"), login("wendy")
    publish(admin, count_then_check("handover-away"))
    _, check = counted(admin, walt, "handover-away")
    assert wendy.post(f"/api/tasks/{check['id']}/claim").status_code == 200
    away(admin, "mia", "suki", datetime.now(UTC), days=2)
    people = wendy.get(f"/api/tasks/{check['id']}/handover").json()["people"]
    assert next(p for p in people if p["username"] == "mia")["away"] is True
    assert next(p for p in people if p["username"] == "sam")["away"] is False
