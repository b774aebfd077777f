"""Signed action links (app/services/actionlinks.py, app/routes/actionlinks.py): a GET shows
and never acts, a POST completes the task once as the link's person; reused, expired,
altered links and tasks done or moved elsewhere get a page that says why."""

from __future__ import annotations

import stat
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db.models import ActionLink, Task
from app.main import create_app
from app.services.actionlinks import KEY_FILE, action_links, task_context


@pytest.fixture
def app(settings):
    application = create_app(replace(settings, controllable_clock=True))
    yield application
    application.state.worker.client.close()
    application.state.engine.dispose()


def approval_flow(key: str, approvers: list[dict[str, Any]], *, prepare: bool = False) -> dict:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "start", "name": "Start"},
        {"id": "approve", "type": "approval", "name": "Approve refund", "approvers": approvers},
        {"id": "ok", "type": "end", "name": "Refunded", "stage": "Refunded"},
        {"id": "no", "type": "end", "name": "Refused", "outcome": "rejected"},
    ]
    edges = [
        {"id": "e1", "from": "start", "to": "approve"},
        {"id": "e2", "from": "approve", "to": "ok", "outcome": "approve"},
        {"id": "e3", "from": "approve", "to": "no", "outcome": "reject"},
    ]
    if prepare:
        nodes.insert(
            1,
            {"id": "prepare", "type": "user_task", "name": "Prepare", "assignee": {"user": "sam"}},
        )
        edges[0] = {"id": "e0", "from": "prepare", "to": "approve"}
        edges.append({"id": "e1", "from": "start", "to": "prepare"})
    return {"format": 1, "key": key, "name": key, "nodes": nodes, "edges": edges}


def open_approval(admin, key: str, approvers: list[dict[str, Any]], **options: Any) -> str:
    """A new instance of ``key`` (published on first use); the id of its approval task."""
    if admin.get(f"/api/workflows/{key}").status_code == 404:
        flow = approval_flow(key, approvers, **options)
        assert admin.post("/api/workflows", json={"key": key, "draft": flow}).status_code == 201
        published = admin.post(f"/api/workflows/{key}/publish")
        assert published.status_code == 201, published.text
    started = admin.post(f"/api/workflows/{key}/instances", json={"data": {"amount": 40}})
    assert started.status_code == 201, started.text
    tasks = admin.get("/api/tasks", params={"scope": "all", "instance": started.json()["id"]})
    (task,) = [t for t in tasks.json()["items"] if t["status"] == "open"]
    task_id: str = task["id"]
    return task_id


def links_for(app, task_id: str, user: str | None = None) -> dict[str, str]:
    with app.state.sessionmaker() as session:
        task = session.get(Task, task_id)
        links = action_links(session, task, app.state.clock.now(), user=user)
        session.commit()
    return links


def task(admin, task_id: str) -> dict[str, Any]:
    found: dict[str, Any] = admin.get(f"/api/tasks/{task_id}").json()
    return found


def test_a_get_shows_the_decision_and_does_not_act(login, anonymous, app):
    admin = login("admin")
    task_id = open_approval(admin, "refund", [{"user": "sam"}])
    links = links_for(app, task_id)
    assert set(links) == {"approve", "reject"}
    assert links["approve"].startswith("/act/")
    for _ in range(3):  # a mail scanner, a preview, the person
        page = anonymous.get(links["approve"])
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert "Approve refund" in page.text
        assert '<form method="post"' in page.text
    assert task(admin, task_id)["status"] == "open"


def test_approve_works_once_as_the_assignee_and_is_audited(login, anonymous, app):
    admin = login("admin")
    task_id = open_approval(admin, "refund", [{"user": "sam"}])
    links = links_for(app, task_id)
    done = anonymous.post(links["approve"])
    assert done.status_code == 200, done.text
    assert "done" in done.text
    after = task(admin, task_id)
    assert (after["status"], after["completed_by"], after["outcome"]) == (
        "completed",
        "sam",
        "approve",
    )
    instance = admin.get(f"/api/instances/{after['instance_id']}").json()
    assert instance["stage"] == "Refunded"
    events = admin.get(f"/api/instances/{after['instance_id']}/history").json()
    completed = [e for e in events if e["action"] == "task.completed"]
    assert [e["actor"] for e in completed] == ["sam"]
    (via,) = [e for e in events if e["action"] == "task.action_link"]
    assert via["actor"] == "sam"
    assert via["details"]["via"] == "action link"
    assert via["details"]["outcome"] == "approve"

    for again in (anonymous.post(links["approve"]), anonymous.get(links["approve"])):
        assert again.status_code == 410
        assert "already used" in again.text
    other = anonymous.post(links["reject"])  # the other outcome's link: the task is done
    assert other.status_code == 409
    assert "already completed by sam (approve)" in other.text


def test_an_expired_link_is_refused(login, anonymous, app):
    admin = login("admin")
    task_id = open_approval(admin, "refund", [{"user": "sam"}])
    links = links_for(app, task_id)
    assert admin.post("/api/clock/advance", json={"by": "PT169H"}).status_code == 200
    for response in (anonymous.get(links["approve"]), anonymous.post(links["approve"])):
        assert response.status_code == 410
        assert "expired" in response.text
    assert task(admin, task_id)["status"] == "open"


def test_a_tampered_link_is_refused(login, anonymous, app):
    admin = login("admin")
    task_id = open_approval(admin, "refund", [{"user": "sam"}])
    link = links_for(app, task_id)["reject"]
    last = "A" if link[-1] != "A" else "B"
    altered = anonymous.post(link[:-1] + last)
    assert altered.status_code == 403
    assert "altered" in altered.text
    unknown = anonymous.post("/act/" + "0" * 32 + link[link.index(".") :])
    assert unknown.status_code == 404
    assert anonymous.get("/act/garbage").status_code == 404
    # the row changed behind the link (reject turned into approve) no longer matches its signature
    with app.state.sessionmaker() as session:
        row = session.get(ActionLink, link.rsplit("/", 1)[1].split(".")[0])
        row.outcome = "approve"
        session.commit()
    swapped = anonymous.post(link)
    assert swapped.status_code == 403
    assert task(admin, task_id)["status"] == "open"


def test_a_task_completed_elsewhere_or_reassigned_refuses_its_links(login, anonymous, app):
    admin, sam = login("admin"), login("sam")
    done_id = open_approval(admin, "refund", [{"user": "sam"}])
    done_links = links_for(app, done_id)
    assert sam.post(f"/api/tasks/{done_id}/complete", json={"outcome": "reject"}).status_code == 200
    closed = anonymous.get(done_links["approve"])
    assert closed.status_code == 409
    assert "already completed by sam (reject)" in closed.text

    moved_id = open_approval(admin, "refund", [{"user": "sam"}])
    moved_links = links_for(app, moved_id)
    assert admin.post(f"/api/tasks/{moved_id}/reassign", json={"user": "dana"}).status_code == 200
    moved = anonymous.post(moved_links["approve"])
    assert moved.status_code == 409
    assert "reassigned" in moved.text
    assert task(admin, moved_id)["status"] == "open"


def test_links_go_through_the_task_rules_four_eyes_included(login, anonymous, app):
    """Sam prepared the request, so four eyes keeps him off its approval: no links are made
    for him, and a link made for someone the task is not offered to does not act."""
    admin, sam = login("admin"), login("sam")
    key = "refund-4eyes"
    flow = approval_flow(key, [{"role": "sales", "not_same_as": "prepare"}], prepare=True)
    assert admin.post("/api/workflows", json={"key": key, "draft": flow}).status_code == 201
    assert admin.post(f"/api/workflows/{key}/publish").status_code == 201
    started = admin.post(f"/api/workflows/{key}/instances", json={"data": {}}).json()
    (prepare,) = started["open_tasks"]
    assert sam.post(f"/api/tasks/{prepare['id']}/complete", json={"data": {}}).status_code == 200
    pool = admin.get("/api/tasks", params={"scope": "all", "instance": started["id"]}).json()
    (approval,) = [t for t in pool["items"] if t["status"] == "open"]
    assert links_for(app, approval["id"], user="sam") == {}
    assert links_for(app, approval["id"]) == {}  # a pool task has no holder to make them for
    outsider = links_for(app, approval["id"], user="walt")
    refused = anonymous.post(outsider["approve"])
    assert refused.status_code == 404  # walt may not even see it
    assert task(admin, approval["id"])["status"] == "open"


def test_links_are_for_open_tasks_with_outcomes_and_reach_templates_as_task_links(login, app):
    admin = login("admin")
    task_id = open_approval(admin, "refund", [{"user": "sam"}])
    first = links_for(app, task_id)
    assert links_for(app, task_id) == first  # a retried notification carries the same links
    with app.state.sessionmaker() as session:
        row = session.get(Task, task_id)
        context = task_context(session, row, app.state.clock.now())
        session.commit()
    assert context["links"] == first
    assert context["name"] == "Approve refund"
    login("sam").post(f"/api/tasks/{task_id}/complete", json={"outcome": "approve"})
    assert links_for(app, task_id) == {}


def test_the_link_key_is_kept_in_the_data_dir_or_taken_from_the_settings(
    login, anonymous, app, settings
):
    admin = login("admin")
    task_id = open_approval(admin, "refund", [{"user": "sam"}])
    link = links_for(app, task_id)["approve"]
    key_file = settings.data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    other = create_app(replace(settings, action_link_secret="a-key-from-the-environment"))
    try:
        with TestClient(other) as client:
            assert client.get(link).status_code == 403  # signed with another key
    finally:
        other.state.engine.dispose()
    same = create_app(replace(settings, extra={"public_url": "https://stepwise.example/"}))
    try:
        with TestClient(same) as client:
            assert client.get(link).status_code == 200  # the same key, read from the file
        absolute = links_for(same, open_approval(admin, "refund", [{"user": "sam"}]))
        assert absolute["approve"].startswith("https://stepwise.example/act/")
    finally:
        same.state.engine.dispose()
