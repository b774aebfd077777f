"""The inbox and the task page in the browser: the pick of a new order at the top of a warehouse
employee's inbox and done through its rendered form, a task arriving without a reload, two
people completing one task, phone-sized screens, an empty inbox, and text that stays text."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.conftest import Server, screenshot


def order(order_id: str) -> dict[str, Any]:
    """An order paid by invoice: finance confirms the payment by hand (the quickest way on)."""
    return {
        "order_id": order_id,
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "items": [{"sku": "MUG-01", "quantity": 1}],
        "total": 20,
        "payment": {"method": "invoice"},
    }


def call(server: Server, username: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One API request as ``username``."""
    client = server.client(username)
    try:
        return client.request(method, path, **kwargs)
    finally:
        client.close()


def open_task(server: Server, instance_id: str, node: str) -> dict[str, Any]:
    instance = call(server, "admin", "GET", f"/api/instances/{instance_id}").json()
    found = [t for t in instance["open_tasks"] if t["node"] == node]
    assert len(found) == 1, instance["open_tasks"]
    task: dict[str, Any] = found[0]
    return task


def order_at_pick(server: Server, *, picker: str = "walt") -> tuple[str, str, dict[str, Any]]:
    """Start an order as sam, confirm its payment as fiona, and give its pick to ``picker``.

    The pick goes to the least loaded warehouse person; other tests leave loads behind, so the
    admin hands it to ``picker`` to keep each test on its own."""
    order_id = f"UI-{secrets.token_hex(3).upper()}"
    started = call(
        server,
        "sam",
        "POST",
        "/api/workflows/order-management/instances",
        json={"data": order(order_id)},
    )
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]
    capture = open_task(server, instance_id, "capture_manually")
    done = call(
        server,
        "fiona",
        "POST",
        f"/api/tasks/{capture['id']}/complete",
        json={"data": {"captured": True}},
    )
    assert done.status_code == 200, done.text
    pick = open_task(server, instance_id, "pick")
    if pick["assignee"] != picker:
        moved = call(
            server, "admin", "POST", f"/api/tasks/{pick['id']}/reassign", json={"user": picker}
        )
        assert moved.status_code == 200, moved.text
    return order_id, instance_id, open_task(server, instance_id, "pick")


def order_at_pack(server: Server, *, picker: str = "walt") -> tuple[str, str, dict[str, Any]]:
    """An order whose pick ``picker`` has done: its pack waits in the warehouse pool, offered to
    everyone there but the picker (four eyes)."""
    order_id, instance_id, pick = order_at_pick(server, picker=picker)
    done = call(
        server, picker, "POST", f"/api/tasks/{pick['id']}/complete", json={"data": {"picked": True}}
    )
    assert done.status_code == 200, done.text
    return order_id, instance_id, open_task(server, instance_id, "pack")


def test_a_warehouse_employee_finds_the_pick_first_and_completes_it_through_its_form(
    server, page_as
):
    order_id, instance_id, pick = order_at_pick(server)
    walt = page_as("walt")
    first = walt.locator("tbody tr").first
    expect(first).to_have_attribute("data-task", pick["id"])
    expect(first).to_contain_text("Pick items")
    expect(first).to_contain_text(order_id)
    expect(first).to_contain_text("On track")
    expect(first.locator(".sla-countdown")).to_have_text(re.compile(r"^in \d+(d \d+h|h \d+m|m)$"))
    screenshot(walt, "inbox")

    first.get_by_role("link", name="Pick items").click()
    expect(walt.get_by_role("heading", name="Pick items", level=1)).to_be_visible()
    expect(walt.get_by_text("Pick every line of the order")).to_be_visible()
    expect(walt.get_by_role("region", name="Order management")).to_contain_text(order_id)
    walt.get_by_label("All items picked").check()
    walt.get_by_label("Packing bin").fill("B-7")
    screenshot(walt, "task")
    walt.get_by_role("button", name="Complete").click()

    walt.wait_for_url("**/inbox")
    expect(walt.get_by_role("status").filter(has_text="is done")).to_be_visible()
    expect(walt.locator(f"[data-task='{pick['id']}']")).to_have_count(0)
    task = call(server, "admin", "GET", f"/api/tasks/{pick['id']}").json()
    assert (task["status"], task["completed_by"]) == ("completed", "walt")
    data = call(server, "admin", "GET", f"/api/instances/{instance_id}").json()["data"]
    assert (data["picked"], data["bin"]) == (True, "B-7")
    assert walt.errors == []


def test_the_inbox_and_task_page_fit_a_phone(server, page_as):
    order_id, _, pick = order_at_pick(server)
    walt = page_as("walt", width=390, height=844)
    card = walt.locator(f"li[data-task='{pick['id']}']")
    expect(card).to_contain_text(order_id)
    assert walt.locator("table.task-table").count() == 0  # cards, not a table, on a phone
    assert walt.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(walt, "inbox-phone")
    card.get_by_role("link", name="Pick items").click()
    expect(walt.get_by_label("All items picked")).to_be_visible()
    assert walt.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(walt, "task-phone")
    assert walt.errors == []


def test_the_shipping_inbox_shows_a_new_task_without_a_reload(server, page_as):
    order_id, instance_id, pack = order_at_pack(server)
    shay = page_as("shay")
    expect(shay.get_by_text("Live", exact=True)).to_be_visible()  # the event stream is open
    shay.evaluate("window.__sameDocument = true")
    assert shay.locator("[data-node='hand_over']", has_text=order_id).count() == 0

    done = call(
        server,
        "wendy",
        "POST",
        f"/api/tasks/{pack['id']}/complete",
        json={"data": {"items_checked": True, "weight_kg": 1.4}},
    )
    assert done.status_code == 200, done.text
    # the carrier's label is an outgoing call: run the workers now rather than wait for them
    call(server, "admin", "POST", "/api/clock/advance", json={"by": "PT1S"}).raise_for_status()

    arrived = shay.locator("[data-node='hand_over']", has_text=order_id)
    expect(arrived).to_be_visible()
    expect(arrived).to_contain_text("Hand over to carrier")
    assert shay.evaluate("window.__sameDocument") is True  # no reload happened
    assert open_task(server, instance_id, "hand_over")["id"] == arrived.get_attribute("data-task")


def test_without_the_event_stream_the_inbox_polls_for_new_tasks(server, page_as):
    wendy = page_as("wendy")
    wendy.route(
        "**/api/inbox/events*",
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body='{"error": {"code": "not_found", "message": "gone"}}',
        ),
    )
    wendy.reload()
    expect(wendy.get_by_text("Refreshes every 10 s")).to_be_visible()
    wendy.evaluate("window.__sameDocument = true")
    order_id, _, pack = order_at_pack(server)  # walt picks: the pack is offered to wendy
    arrived = wendy.locator(f"[data-task='{pack['id']}']")
    expect(arrived).to_contain_text(order_id, timeout=15_000)  # the next poll brings it
    assert wendy.evaluate("window.__sameDocument") is True


def test_the_second_of_two_people_completing_one_task_is_told_who_was_first(server, page_as):
    _, _, pack = order_at_pack(server)
    wendy, mia = page_as("wendy"), page_as("mia")
    for page in (wendy, mia):
        page.goto(f"/tasks/{pack['id']}")
        page.get_by_label("Every item checked against the order").check()
        page.get_by_label("Parcel weight (kg)").fill("2.5")

    wendy.get_by_role("button", name="Complete").click()
    wendy.wait_for_url("**/inbox")
    mia.get_by_role("button", name="Complete").click()

    conflict = mia.get_by_test_id("conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("Wendy Warehouse (wendy) completed this task at")
    expect(conflict).to_contain_text("nothing to do")
    expect(mia.get_by_role("button", name="Complete")).to_be_disabled()
    screenshot(mia, "task-conflict")
    assert mia.errors == []


def test_a_comment_with_markup_shows_as_text_and_runs_nothing(server, page_as):
    _, _, pick = order_at_pick(server)
    walt = page_as("walt")
    dialogs: list[str] = []
    walt.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    walt.goto(f"/tasks/{pick['id']}")
    hostile = "<img src=x onerror=alert(1)> \"quoted\" <script>alert('x')</script>"
    walt.get_by_label("Add a comment").fill(hostile)
    walt.get_by_role("button", name="Add comment").click()
    expect(walt.locator(".comment-body")).to_have_text(hostile)
    assert walt.locator(".comments img").count() == 0
    walt.reload()
    expect(walt.locator(".comment-body")).to_have_text(hostile)
    assert dialogs == []
    assert walt.errors == []


def test_someone_with_no_tasks_sees_that_nothing_is_waiting(server, page_as):
    username = f"new-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    made = call(
        server,
        "admin",
        "POST",
        "/api/admin/users",
        json={
            "username": username,
            "display_name": "New Starter",
            "roles": [],
            "password": password,
        },
    )
    assert made.status_code == 201, made.text
    server.passwords[username] = password
    page = page_as(username)
    empty = page.get_by_test_id("inbox-empty")
    expect(empty).to_contain_text("Nothing waiting for you")
    expect(empty.get_by_role("link", name="start a request")).to_be_visible()
    screenshot(page, "inbox-empty")
    assert page.errors == []


def test_pool_tasks_are_claimed_together_and_a_saved_view_brings_a_filter_back(server, page_as):
    packs = [order_at_pack(server, picker="mia") for _ in range(2)]
    walt = page_as("walt")
    for _, _, pack in packs:
        row = walt.locator(f"[data-task='{pack['id']}']")
        expect(row).to_contain_text("Open to warehouse team")
        row.get_by_role("checkbox", name="Select Pack and verify").check()
    walt.get_by_role("button", name="Claim 2 selected").click()
    expect(walt.get_by_role("status").filter(has_text="You took 2 tasks")).to_be_visible()
    for _, _, pack in packs:
        row = walt.locator(f"[data-task='{pack['id']}']")
        expect(row).to_contain_text("You")
        expect(row.get_by_role("checkbox")).to_have_count(0)
        task = call(server, "walt", "GET", f"/api/tasks/{pack['id']}").json()
        assert task["assignee"] == "walt"

    first_order = packs[0][0]
    walt.get_by_role("search").get_by_label("Search").fill(first_order)
    walt.get_by_role("search").get_by_role("button", name="Search").click()
    expect(walt.locator("[data-task]")).to_have_count(1)
    walt.get_by_role("group", name="Show").get_by_role("button", name="Mine").click()
    expect(walt.locator("[data-task]")).to_have_count(1)
    walt.get_by_role("button", name="+ Save these filters").click()
    walt.get_by_label("Name of the view").fill(f"Order {first_order}")
    walt.get_by_role("button", name="Save", exact=True).click()

    walt.goto("/inbox")  # all filters gone ...
    expect(walt.locator(f"[data-task='{packs[1][2]['id']}']")).to_be_visible()
    walt.get_by_role(
        "button", name=f"Order {first_order}", exact=True
    ).click()  # ... and back with the view
    expect(walt.locator("[data-task]")).to_have_count(1)
    expect(walt.locator("[data-task]")).to_contain_text(first_order)
    expect(walt.get_by_role("search").get_by_label("Search")).to_have_value(first_order)
    assert walt.errors == []


def test_a_file_field_uploads_the_document_and_keeps_its_reference(server, page_as):
    key = f"ui-receipt-{secrets.token_hex(3)}"
    draft = {
        "format": 1,
        "key": key,
        "name": "Expense receipt",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "trigger": {"type": "manual"}},
            {
                "id": "attach",
                "type": "user_task",
                "name": "Attach the receipt",
                "assignee": {"user": "walt"},
                "form": {
                    "type": "object",
                    "required": ["receipt"],
                    "properties": {
                        "receipt": {"type": "string", "format": "document", "title": "Receipt"}
                    },
                },
            },
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "attach"},
            {"id": "e2", "from": "attach", "to": "end"},
        ],
    }
    made = call(server, "admin", "POST", "/api/workflows", json={"key": key, "draft": draft})
    assert made.status_code == 201, made.text
    assert call(server, "admin", "POST", f"/api/workflows/{key}/publish").status_code == 201
    started = call(server, "walt", "POST", f"/api/workflows/{key}/instances", json={"data": {}})
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]
    task_id = started.json()["open_tasks"][0]["id"]

    walt = page_as("walt")
    walt.goto(f"/tasks/{task_id}")
    walt.get_by_label("Receipt", exact=True).set_input_files(
        files=[{"name": "taxi.txt", "mimeType": "text/plain", "buffer": b"Taxi, 23.40 EUR\n"}]
    )
    expect(walt.get_by_role("link", name="taxi.txt")).to_be_visible()
    walt.get_by_role("button", name="Complete").click()
    walt.wait_for_url("**/inbox")

    instance = call(server, "walt", "GET", f"/api/instances/{instance_id}").json()
    documents = call(server, "walt", "GET", f"/api/instances/{instance_id}/documents").json()
    assert [d["filename"] for d in documents] == ["taxi.txt"]
    assert documents[0]["task_id"] == task_id
    assert instance["data"]["receipt"] == documents[0]["id"]
    walt.goto(f"/instances/{instance_id}")
    link = walt.get_by_role("region", name="Documents").get_by_role("link", name="taxi.txt")
    expect(link).to_have_attribute("href", f"/api/documents/{documents[0]['id']}")
    assert walt.errors == []


def test_a_box_that_must_be_ticked_starts_unticked_and_says_so_in_words(server, page_as):
    _, _, pick = order_at_pick(server)
    walt = page_as("walt")
    walt.goto(f"/tasks/{pick['id']}")
    box = walt.get_by_label("All items picked")
    expect(box).not_to_be_checked()  # `const: true`: ticking it is the point
    walt.get_by_role("button", name="Complete").click()
    form = walt.get_by_role("region", name="Complete the task")
    expect(form).to_contain_text("All items picked: must be ticked")
    box.check()  # the error goes as the field is fixed
    expect(form).not_to_contain_text("must be ticked")
    expect(walt).to_have_title("Pick items · Stepwise")
    walt.get_by_role("button", name="Complete").click()
    walt.wait_for_url("**/inbox")
    assert call(server, "admin", "GET", f"/api/tasks/{pick['id']}").json()["status"] == "completed"
    assert walt.errors == []


def test_a_rejection_is_asked_about_first_and_its_reason_kept(server, page_as):
    big = {**order(f"UI-{secrets.token_hex(3).upper()}"), "total": 1500}
    started = call(
        server, "admin", "POST", "/api/workflows/order-management/instances", json={"data": big}
    )
    assert started.status_code == 201, started.text
    review = open_task(server, started.json()["id"], "review")
    sam = page_as("sam")
    sam.goto(f"/tasks/{review['id']}")
    if sam.get_by_role("button", name="Claim").count():
        sam.get_by_role("button", name="Claim").click()
    sam.get_by_role("button", name="Reject").click()
    dialog = sam.get_by_role("dialog")
    expect(dialog).to_contain_text("Your decision is final")
    dialog.get_by_role("button", name="Keep it").click()
    assert call(server, "admin", "GET", f"/api/tasks/{review['id']}").json()["status"] == "open"

    sam.get_by_role("button", name="Reject").click()
    sam.get_by_role("dialog").get_by_label("Reason (kept in the audit log)").fill(
        "Card looks stolen"
    )
    sam.get_by_role("dialog").get_by_role("button", name="Reject").click()
    sam.wait_for_url("**/inbox")
    task = call(server, "admin", "GET", f"/api/tasks/{review['id']}").json()
    assert (task["status"], task["outcome"]) == ("completed", "reject")
    comments = call(server, "admin", "GET", f"/api/tasks/{review['id']}/comments").json()
    assert [c["body"] for c in comments] == ["Reject: Card looks stolen"]
    assert sam.errors == []


def test_the_delegate_dialog_suggests_who_may_take_the_task_its_team_first(server, page_as):
    _, _, pick = order_at_pick(server)
    walt = page_as("walt")
    walt.goto(f"/tasks/{pick['id']}")
    walt.get_by_role("button", name="Delegate…").click()
    expect(walt.get_by_role("dialog", name="Delegate this task")).to_be_visible()
    offered = walt.locator("#handover-people option")
    expect(offered.first).to_have_attribute("value", "mia")  # Mia Manager, warehouse too
    expect(walt.locator('#handover-people option[value="wendy"]')).to_have_text(
        "Wendy Warehouse · this task's team"
    )
    expect(walt.locator('#handover-people option[value="sam"]')).to_have_text("Sam Sales")
    expect(walt.locator('#handover-people option[value="walt"]')).to_have_count(0)  # he holds it
    assert walt.errors == []


def test_a_delegation_to_an_unknown_person_keeps_the_dialog_open_with_the_reason(server, page_as):
    _, _, pick = order_at_pick(server)
    walt = page_as("walt")
    walt.goto(f"/tasks/{pick['id']}")
    walt.get_by_role("button", name="Delegate…").click()
    dialog = walt.get_by_role("dialog", name="Delegate this task")
    dialog.get_by_label("Person").fill("nobody-here")
    dialog.get_by_role("button", name="Delegate").click()
    expect(dialog).to_contain_text("there is no active user 'nobody-here'")
    expect(dialog.get_by_label("Person")).to_have_value("nobody-here")
    dialog.get_by_label("Person").fill("Wendy Warehouse")  # named as the list shows her
    dialog.get_by_role("button", name="Delegate").click()
    expect(dialog).to_have_count(0)
    task = call(server, "admin", "GET", f"/api/tasks/{pick['id']}").json()
    assert task["assignee"] == "wendy"
    assert walt.errors == []
