"""New request and My requests in the browser: an employee starts a vacation request from its
start form and follows it; names and labels with markup stay text."""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import expect

from tests.ui.conftest import screenshot
from tests.ui.test_inbox import call


def test_an_employee_starts_a_vacation_request_and_follows_it(server, page_as):
    suki = page_as("suki")
    suki.get_by_role("navigation", name="Main").get_by_role("link", name="New request").click()
    card = suki.locator("[data-key='vacation-request']")
    expect(card).to_contain_text("Vacation request")
    expect(card).to_contain_text("People")  # its category
    suki.get_by_label("Category").select_option("People")
    expect(suki.locator("[data-key='order-management']")).to_have_count(0)
    card.get_by_role("button", name="Start").click()

    form = suki.get_by_role("region", name="Vacation request")
    form.get_by_label("First day off").fill("2031-07-01")
    form.get_by_label("Back on").fill("2031-07-15")
    form.get_by_label("Who covers your tasks").fill("shay")
    form.get_by_label("Note for your manager").fill('Summer — "family" trip <b>2031</b>')
    screenshot(suki, "new-request")
    form.get_by_role("button", name="Send request").click()

    suki.wait_for_url("**/requests?new=*")
    instance_id = suki.url.rsplit("new=", 1)[1]
    row = suki.locator(f"tr[data-instance='{instance_id}']")
    expect(row).to_have_class("highlight")
    expect(row).to_contain_text("Vacation request")
    expect(row).to_contain_text("Waiting for approval")
    expect(row).to_contain_text("Running")
    expect(suki.get_by_role("status")).to_contain_text("has started")
    screenshot(suki, "my-requests")

    row.get_by_role("link", name="Vacation request").click()
    suki.wait_for_url(f"**/instances/{instance_id}")
    expect(suki.get_by_role("heading", name="Vacation request", level=1)).to_be_visible()
    expect(suki.locator("[data-node='approve']")).to_have_class(re.compile(r"\bstep-waiting\b"))
    expect(suki.get_by_role("region", name="Data")).to_contain_text(
        'Summer — "family" trip <b>2031</b>'
    )
    expect(suki.get_by_role("region", name="Open tasks")).to_contain_text("Approve vacation")

    stored = call(server, "suki", "GET", f"/api/instances/{instance_id}").json()
    assert stored["data"]["starts_on"] == "2031-07-01"
    assert stored["data"]["delegate"] == "shay"
    assert suki.errors == []


def test_a_start_form_with_missing_answers_says_which_before_sending(server, page_as):
    suki = page_as("suki")
    suki.goto("/new")
    suki.locator("[data-key='vacation-request']").get_by_role("button", name="Start").click()
    form = suki.get_by_role("region", name="Vacation request")
    form.get_by_label("First day off").fill("2031-08-01")
    form.get_by_role("button", name="Send request").click()
    expect(form.get_by_role("alert").or_(form.locator(".panel.errors"))).to_contain_text("Back on")
    assert suki.url.endswith("/new")  # nothing was sent
    assert suki.errors == []


def test_workflow_names_and_form_labels_with_markup_render_as_text(server, page_as):
    key = f"ui-markup-{secrets.token_hex(3)}"
    name = f"<script>alert('name')</script> \"Quotes\" & <b>{key}</b>"
    label = "<img src=x onerror=alert('label')> it's \"odd\""
    draft = {
        "format": 1,
        "key": key,
        "name": name,
        "description": "<i>not italic</i>",
        "nodes": [
            {
                "id": "start",
                "type": "start",
                "name": "Start",
                "trigger": {"type": "manual"},
                "form": {
                    "type": "object",
                    "properties": {"odd": {"type": "string", "title": label}},
                },
            },
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [{"id": "e1", "from": "start", "to": "end"}],
    }
    made = call(
        server, "admin", "POST", "/api/workflows", json={"key": key, "name": name, "draft": draft}
    )
    assert made.status_code == 201, made.text
    published = call(server, "admin", "POST", f"/api/workflows/{key}/publish")
    assert published.status_code == 201, published.text

    walt = page_as("walt")
    dialogs: list[str] = []
    walt.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    walt.goto("/new")
    card = walt.locator(f"[data-key='{key}']")
    expect(card.get_by_role("heading")).to_have_text(name)
    expect(card).to_contain_text("<i>not italic</i>")
    card.get_by_role("button", name="Start").click()
    expect(walt.get_by_label(label)).to_be_visible()
    assert walt.locator("main img, main script, main b, main i").count() == 0
    walt.get_by_label(label).fill("<svg onload=alert(1)>")
    walt.get_by_role("button", name="Send request").click()
    walt.wait_for_url("**/requests?new=*")
    expect(walt.locator("tr.highlight")).to_contain_text(name)
    walt.locator("tr.highlight").get_by_role("link").click()
    expect(walt.get_by_role("heading", level=1)).to_have_text(name)
    expect(walt.get_by_role("region", name="Data")).to_contain_text("<svg onload=alert(1)>")
    assert dialogs == []
    assert walt.errors == []


def test_a_manager_decides_a_request_with_its_outcome_buttons(server, page_as):
    started = call(
        server,
        "suki",
        "POST",
        "/api/workflows/vacation-request/instances",
        json={"data": {"starts_on": "2032-01-10", "ends_on": "2032-01-20", "delegate": "shay"}},
    )
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]
    approve = next(t for t in started.json()["open_tasks"] if t["node"] == "approve")

    mia = page_as("mia")
    mia.goto(f"/tasks/{approve['id']}")
    expect(mia.get_by_role("heading", name="Your decision")).to_be_visible()
    expect(mia.get_by_text("Check the team's plan for these days")).to_be_visible()
    expect(mia.get_by_role("button", name="Reject")).to_be_visible()
    screenshot(mia, "task-approval")
    mia.get_by_role("button", name="Approve").click()
    mia.wait_for_url("**/inbox")
    # setting up the delegation is an outgoing step: run the workers now rather than wait
    call(server, "admin", "POST", "/api/clock/advance", json={"by": "PT1S"}).raise_for_status()

    suki = page_as("suki")
    suki.goto("/requests")
    row = suki.locator(f"tr[data-instance='{instance_id}']")
    expect(row).to_contain_text("Approved")
    task = call(server, "suki", "GET", f"/api/instances/{instance_id}/history").json()
    assert any(a["action"] == "task.completed" and a["actor"] == "mia" for a in task)
    assert mia.errors == []
