"""What the designer asks of the workflow routes: validating a definition it has not saved,
renaming a workflow, and test runs in a sandbox that writes nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.app.builders import order

Login = Callable[[str], TestClient]
START = "2026-01-05T09:00:00+00:00"


def simple(**changes: Any) -> dict[str, Any]:
    """start → a task for admin (with a form) → end."""
    draft: dict[str, Any] = {
        "format": 1,
        "key": "simple",
        "name": "Simple",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {
                "id": "check",
                "type": "user_task",
                "name": "Check the request",
                "assignee": {"user": "admin"},
                "form": {
                    "type": "object",
                    "required": ["ok"],
                    "properties": {"ok": {"type": "boolean"}, "note": {"type": "string"}},
                },
            },
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "check"},
            {"id": "e2", "from": "check", "to": "end"},
        ],
    }
    draft.update(changes)
    return draft


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


def instance_count(client: TestClient) -> int:
    total: int = client.get("/api/instances").json()["total"]
    return total


# --- POST /api/workflows/validate -------------------------------------------------------------


def test_validate_body_reports_the_problems_of_an_unsaved_definition(login: Login) -> None:
    dana = login("dana")
    draft = simple()
    draft["nodes"].append({"id": "lost", "type": "end", "name": "Lost"})
    response = dana.post("/api/workflows/validate", json={"definition": draft})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is False
    assert {(p["code"], p["node"]) for p in body["problems"]} >= {("unreachable", "lost")}
    assert dana.get("/api/workflows/simple").status_code == 404


def test_validate_body_checks_names_against_the_installation(login: Login) -> None:
    draft = simple()
    draft["nodes"][1]["assignee"] = {"role": "astronauts"}
    body = login("dana").post("/api/workflows/validate", json={"definition": draft}).json()
    assert [p["code"] for p in body["problems"]] == ["unknown_role"]
    assert body["problems"][0]["node"] == "check"
    assert body["problems"][0]["field"] == "assignee.role"


def test_validate_body_answers_a_definition_that_does_not_parse_with_its_field_problems(
    login: Login,
) -> None:
    body = login("dana").post("/api/workflows/validate", json={"definition": {"nodes": 3}}).json()
    assert body["valid"] is False
    assert {p["code"] for p in body["problems"]} == {"invalid_field"}


def test_validate_body_refuses_what_is_not_a_definition(login: Login) -> None:
    dana = login("dana")
    assert_error(
        dana.post("/api/workflows/validate", json={"definition": []}), 422, "invalid_request"
    )
    assert_error(dana.post("/api/workflows/validate", json={}), 422, "invalid_request")
    assert_error(
        dana.post("/api/workflows/validate", json={"definition": {}, "extra": 1}),
        422,
        "invalid_request",
    )
    assert_error(
        login("sam").post("/api/workflows/validate", json={"definition": {}}), 403, "forbidden"
    )


# --- PATCH /api/workflows/{key} ---------------------------------------------------------------


def test_rename_changes_the_name_in_the_list_and_the_draft_and_bumps_the_revision(
    login: Login,
) -> None:
    dana = login("dana")
    made = dana.post("/api/workflows", json={"key": "trip", "name": "Trip"}).json()
    response = dana.patch(
        "/api/workflows/trip", json={"name": "  Business trip ", "description": "Book it"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["description"]) == ("Business trip", "Book it")
    assert (body["draft"]["name"], body["draft"]["description"]) == ("Business trip", "Book it")
    assert body["draft_revision"] == made["draft_revision"] + 1
    assert body["updated_by"] == "dana"
    listed = {w["key"]: w["name"] for w in dana.get("/api/workflows").json()}
    assert listed["trip"] == "Business trip"
    # a designer still holding the old revision is told, not overwritten
    stale = dana.put(
        "/api/workflows/trip/draft", json={"draft": simple(), "revision": made["draft_revision"]}
    )
    assert_error(stale, 409, "stale_draft")


def test_rename_only_the_description_keeps_the_name(login: Login) -> None:
    dana = login("dana")
    dana.post("/api/workflows", json={"key": "trip", "name": "Trip"})
    body = dana.patch("/api/workflows/trip", json={"description": "New"}).json()
    assert (body["name"], body["description"], body["draft"]["name"]) == ("Trip", "New", "Trip")


def test_rename_refuses_bad_input(login: Login) -> None:
    dana = login("dana")
    dana.post("/api/workflows", json={"key": "trip", "name": "Trip"})
    for payload in ({}, {"name": "   "}, {"name": "x" * 201}, {"name": 3}, {"title": "Trip"}):
        assert_error(dana.patch("/api/workflows/trip", json=payload), 422, "invalid_request")
    assert_error(dana.patch("/api/workflows/nowhere", json={"name": "X"}), 404, "not_found")
    assert dana.get("/api/workflows/trip").json()["name"] == "Trip"


# --- POST /api/workflows/{key}/simulate -------------------------------------------------------


def test_simulate_runs_the_saved_draft_to_the_end_and_stores_nothing(login: Login) -> None:
    admin = login("admin")
    before = instance_count(admin)
    response = admin.post("/api/workflows/order-management/simulate", json={"start": START})
    assert response.status_code == 200, response.text
    run = response.json()
    assert (run["status"], run["finished"], run["stage"]) == ("completed", True, "Delivered")
    nodes = [p["node"] for p in run["path"]]
    assert nodes[0] == "received"
    assert nodes[-1] == "done"
    assert "pick" in nodes
    assert run["current"] == []
    assert run["waiting"] == []
    assert run["start_data"]["payment"]["method"] == "card"  # sample data from the data schema
    assert run["steps"][0]["command"] == "start"
    assert run["moves"] == len(run["steps"]) - 1
    assert instance_count(admin) == before
    assert admin.get("/api/tasks").json()["total"] == 0


def test_simulate_steps_one_move_at_a_time_replaying_the_same_run(login: Login) -> None:
    dana = login("dana")
    url = "/api/workflows/order-management/simulate"
    paths = []
    for moves in range(4):
        run = dana.post(url, json={"start": START, "moves": moves, "hold": ["pick"]}).json()
        assert run["moves"] == moves
        assert run["finished"] is False
        paths.append([p["node"] for p in run["path"]])
    assert all(a == b[: len(a)] for a, b in itertools.pairwise(paths))
    assert paths[0][-1] == "capture"  # waiting for the payment service's answer
    held = dana.post(url, json={"start": START, "moves": 2, "hold": ["pick"]}).json()
    assert held["current"] == ["pick"]
    (wait,) = held["waiting"]
    assert (wait["node"], wait["kind"], wait["name"]) == ("pick", "task", "Pick items")
    assert wait["sample"] == {"picked": True, "bin": "sample"}
    assert {t["purpose"] for t in wait["timers"]} == {"sla_due", "sla_remind", "sla_escalate"}


def test_simulate_lets_the_timers_of_a_held_task_fire_and_then_stops(login: Login) -> None:
    run = (
        login("dana")
        .post("/api/workflows/order-management/simulate", json={"start": START, "hold": ["pick"]})
        .json()
    )
    assert (run["status"], run["finished"], run["current"]) == ("running", True, ["pick"])
    assert run["waiting"][0]["timers"] == []
    fired = [s["command"] for s in run["steps"]].count("FireTimer")
    assert fired == 4  # reminder, due, two escalations


def test_simulate_follows_chosen_outcomes_task_data_and_failures(login: Login) -> None:
    dana = login("dana")
    url = "/api/workflows/order-management/simulate"
    rejected = dana.post(
        url,
        json={"start": START, "data": order("SIM-1", total=1500), "outcomes": {"review": "reject"}},
    ).json()
    assert rejected["status"] == "cancelled"
    assert "cancelled_notice" in [p["node"] for p in rejected["path"]]
    failed = dana.post(url, json={"start": START, "http_fail": ["capture"]}).json()
    assert "payment_failed_notice" in [p["node"] for p in failed["path"]]
    picked = dana.post(url, json={"start": START, "tasks": {"pick": {"bin": "B-7"}}}).json()
    assert picked["data"]["bin"] == "B-7"


def test_simulate_runs_a_posted_definition_rather_than_the_saved_draft(login: Login) -> None:
    dana = login("dana")
    dana.post("/api/workflows", json={"key": "simple"})
    run = dana.post(
        "/api/workflows/simple/simulate",
        json={"definition": simple(), "moves": 0, "hold": ["check"], "start": START},
    ).json()
    assert run["current"] == ["check"]
    assert run["waiting"][0]["sample"] == {"ok": True, "note": "sample"}
    done = dana.post(
        "/api/workflows/simple/simulate",
        json={"definition": simple(), "tasks": {"check": {"ok": False}}, "start": START},
    ).json()
    assert done["status"] == "completed"
    assert done["data"]["ok"] is False


def test_simulate_refuses_bad_input_with_json_errors(login: Login) -> None:
    dana = login("dana")
    dana.post("/api/workflows", json={"key": "simple"})
    url = "/api/workflows/simple/simulate"
    payloads: list[dict[str, Any]] = [
        {"moves": -1},
        {"moves": 5000},
        {"tasks": []},
        {"hold": "check"},
        {"definition": "simple"},
        {"start": "yesterday"},
        {"whatever": True},
    ]
    for payload in payloads:
        assert_error(dana.post(url, json=payload), 422, "invalid_request")
    broken = dana.post(url, json={"definition": {"nodes": [{"id": "a", "type": "teleport"}]}})
    error = assert_error(broken, 422, "invalid_workflow")
    assert {p["code"] for p in error["details"]} <= {"invalid_field", "invalid_item"}
    assert error["details"]
    form = simple()
    form["nodes"][0]["form"] = {
        "type": "object",
        "required": ["amount"],
        "properties": {"amount": {"type": "number"}},
    }
    refused = dana.post(url, json={"definition": form, "data": {"amount": "lots"}})
    assert_error(refused, 422, "invalid_form")
    odd = simple(data={"type": "object", "properties": {"a": {"type": "string", "minLength": "x"}}})
    assert_error(dana.post(url, json={"definition": odd}), 422, "cannot_simulate")
    assert dana.post(url, json={"definition": odd, "data": {"a": "given"}}).status_code == 200
    assert_error(dana.post("/api/workflows/nowhere/simulate", json={}), 404, "not_found")
    assert_error(login("walt").post(url, json={}), 403, "forbidden")


def test_an_admin_publishes_a_workflow_as_a_template_others_use_it_and_it_can_be_removed(
    login: Login,
) -> None:
    admin, dana = login("admin"), login("dana")
    draft = {**simple(), "category": "Checks"}
    assert admin.post("/api/workflows", json={"key": "simple", "draft": draft}).status_code == 201
    made = admin.post(
        "/api/templates",
        json={"workflow": "simple", "id": "simple-check", "name": "Simple check"},
    )
    assert made.status_code == 201, made.text
    gallery = {t["id"]: t for t in dana.get("/api/templates").json()}
    assert gallery["simple-check"]["shipped"] is False
    assert gallery["simple-check"]["category"] == "Checks"  # the workflow's own
    assert gallery["order-management"]["shipped"] is True
    assert gallery["order-management"]["category"] == "Sales and orders"
    assert {gallery[k]["category"] for k in ("purchase-approval", "vacation-request")} == {
        "Finance",
        "People",
    }
    used = dana.post("/api/templates/simple-check/use", json={"key": "my-check"})
    assert used.status_code == 201, used.text
    assert used.json()["draft"]["nodes"][1]["id"] == "check"
    assert used.json()["name"] == "Simple check"

    assert (
        admin.post("/api/templates", json={"workflow": "simple", "id": "simple-check"}).status_code
        == 409
    )
    assert dana.post("/api/templates", json={"workflow": "simple", "id": "x"}).status_code == 403
    assert admin.delete("/api/templates/order-management").status_code == 409
    assert admin.delete("/api/templates/simple-check").status_code == 204
    assert "simple-check" not in {t["id"] for t in dana.get("/api/templates").json()}
    assert dana.post("/api/templates/simple-check/use", json={"key": "again"}).status_code == 404


def test_a_draft_with_errors_does_not_become_a_template(login: Login) -> None:
    admin = login("admin")
    broken = simple()
    broken["edges"] = broken["edges"][:1]  # the task leads nowhere
    assert admin.post("/api/workflows", json={"key": "simple", "draft": broken}).status_code == 201
    refused = admin.post("/api/templates", json={"workflow": "simple"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_workflow"
    assert admin.post("/api/templates", json={"workflow": "nope"}).status_code == 404


def test_an_archived_workflow_cannot_be_started_until_it_is_restored(login: Login) -> None:
    admin, sam = login("admin"), login("sam")
    running = admin.post(
        "/api/workflows/order-management/instances", json={"data": order("ARCH-1")}
    ).json()
    archived = admin.post("/api/workflows/order-management/archive")
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived"] is True
    assert "order-management" not in [w["key"] for w in admin.get("/api/workflows").json()]
    shelf = admin.get("/api/workflows", params={"archived": "true"}).json()
    assert [w["key"] for w in shelf] == ["order-management"]
    assert sam.get("/api/workflows", params={"archived": "true"}).status_code == 403
    refused = admin.post(
        "/api/workflows/order-management/instances", json={"data": order("ARCH-2")}
    )
    assert refused.status_code == 404
    still = admin.get(f"/api/instances/{running['id']}").json()
    assert still["status"] == "running"  # what runs goes on to its end

    restored = admin.post("/api/workflows/order-management/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["archived"] is False
    again = admin.post("/api/workflows/order-management/instances", json={"data": order("ARCH-3")})
    assert again.status_code == 201, again.text
    actions = [e["action"] for e in admin.get("/api/admin/audit").json()["items"]]
    assert "workflow.archived" in actions
    assert "workflow.restored" in actions


# --- POST /api/workflows/{key}/publish ---------------------------------------------------------


def test_publishing_an_unchanged_draft_is_refused_and_makes_no_version(login: Login) -> None:
    admin = login("admin")
    made = admin.post("/api/workflows", json={"key": "simple", "name": "Simple", "draft": simple()})
    assert made.status_code == 201, made.text
    assert admin.post("/api/workflows/simple/publish").status_code == 201
    again = admin.post("/api/workflows/simple/publish")
    error = assert_error(again, 409, "unchanged")
    assert "published version 1" in error["message"]
    assert admin.get("/api/workflows/simple").json()["versions"] == [1]

    revision = admin.get("/api/workflows/simple").json()["draft_revision"]
    renamed = simple(name="Simple, renamed")
    saved = admin.put("/api/workflows/simple/draft", json={"draft": renamed, "revision": revision})
    assert saved.status_code == 200, saved.text
    assert admin.post("/api/workflows/simple/publish").json()["version"] == 2


def test_a_written_out_address_its_channel_cannot_send_to_is_a_warning(login: Login) -> None:
    def to(channel: str, address: str) -> dict[str, Any]:
        return {
            "id": "tell",
            "type": "notify",
            "name": "Tell",
            "channel": channel,
            "to": address,
            "body": "Hi",
        }

    def warned(step: dict[str, Any]) -> list[str]:
        draft = simple()
        draft["nodes"].insert(1, step)
        draft["edges"] = [
            {"id": "e1", "from": "start", "to": "tell"},
            {"id": "e0", "from": "tell", "to": "check"},
            {"id": "e2", "from": "check", "to": "end"},
        ]
        found = login("admin").post("/api/workflows/validate", json={"definition": draft}).json()
        problems = found["problems"] if isinstance(found, dict) else found
        return [p["message"] for p in problems if p["code"] == "bad_address"]

    (message,) = warned(to("email", "dana"))
    assert (
        message
        == "Tell: 'dana' is not an address for email: write an email address, or user:<name> for a person's own address"
    )
    assert warned(to("sms", "walt")) != []
    assert warned(to("inbox", "walt")) != []
    for fine in (
        to("email", "user:dana"),
        to("email", "ops@shop.example"),
        to("email", "user:{{ instance.started_by }}"),
        to("sms", "+49 151 000"),
        to("inbox", "role:warehouse"),
    ):
        assert warned(fine) == [], fine
