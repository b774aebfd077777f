"""Instances in the browser: the list and its search, and an instance's page — the diagram
with the path taken and why each gateway went its way, stages, data, documents and the admin's
actions."""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import expect

from tests.ui.conftest import screenshot
from tests.ui.test_inbox import call, order_at_pick

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def test_an_orders_page_shows_its_path_and_why_the_stock_gateway_went_on(server, page_as):
    order_id, instance_id, _ = order_at_pick(server)
    sam = page_as("sam")  # who started it
    sam.goto(f"/instances/{instance_id}")
    expect(sam.get_by_role("heading", level=1)).to_have_text(f"Order management · {order_id}")
    diagram = sam.get_by_test_id("path-diagram")
    expect(diagram).to_be_visible()

    for visited in ("received", "check_payment", "capture_manually", "check_stock", "in_stock"):
        expect(diagram.locator(f"[data-node='{visited}']")).to_have_class(
            re.compile(r"\bstep-visited\b")
        )
    expect(diagram.locator("[data-node='pick']")).to_have_class(re.compile(r"\bstep-waiting\b"))
    expect(diagram.locator("[data-node='pack']")).to_have_class(re.compile(r"\bstep-idle\b"))
    expect(diagram.locator(".edge-taken")).to_have_count(9)

    gateway = diagram.locator("[data-node='in_stock']")
    gateway.hover()
    why = sam.get_by_test_id("why-in_stock")
    expect(why).to_be_visible()
    expect(why).to_contain_text("stock_check.route == 'in_stock' held")
    expect(why).to_contain_text("stock_check.route = “in_stock”")
    expect(why).to_contain_text("In stock")
    screenshot(sam, "instance")

    sam.mouse.move(0, 0)
    expect(why).to_be_hidden()
    diagram.locator("[data-node='check_stock']").focus()  # the keyboard gets the same answer
    table_why = sam.get_by_test_id("why-check_stock")
    expect(table_why).to_contain_text("every line reserved")

    expect(sam.locator(".timeline")).to_contain_text("Received")
    expect(sam.locator(".timeline li.current")).to_contain_text("Being prepared")
    expect(sam.get_by_role("region", name="Open tasks")).to_contain_text("Pick items")
    expect(sam.get_by_role("region", name="Audit log")).to_contain_text("Task completed")
    data = sam.get_by_role("region", name="Data")
    expect(data).to_contain_text(order_id)
    expect(data).to_contain_text("Ada Lovelace")
    assert sam.get_by_role("button", name="Suspend…").count() == 0  # not an admin
    assert sam.errors == []


def test_instances_are_found_by_a_data_value_and_an_empty_search_says_so(server, page_as):
    order_id, instance_id, _ = order_at_pick(server)
    admin = page_as("admin")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Instances").click()
    search = admin.get_by_role("search", name="Find instances")
    search.get_by_label("Data field").fill("order_id")
    search.get_by_label("equals").fill(order_id)
    search.get_by_role("button", name="Search").click()
    rows = admin.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-instance", instance_id)
    expect(rows.first).to_contain_text("Being prepared")
    screenshot(admin, "instances")

    search.get_by_label("equals").fill("no-such-order")
    search.get_by_role("button", name="Search").click()
    expect(admin.get_by_role("status").filter(has_text="No instance matches")).to_be_visible()

    search.get_by_role("button", name="Clear").click()
    search.get_by_label("Data field").fill("order_id")
    search.get_by_label("equals").fill(order_id)
    search.get_by_role("button", name="Search").click()
    admin.locator("tbody tr").first.get_by_role("link").click()
    admin.wait_for_url(f"**/instances/{instance_id}")
    assert admin.errors == []


def test_an_admin_suspends_resumes_and_cancels_an_instance_after_confirming(server, page_as):
    _, instance_id, _ = order_at_pick(server)
    admin = page_as("admin")
    admin.goto(f"/instances/{instance_id}")

    admin.get_by_role("button", name="Cancel…").click()
    dialog = admin.get_by_role("dialog", name="Cancel this instance?")
    expect(dialog).to_be_visible()
    admin.keyboard.press("Escape")  # changed their mind
    expect(dialog).to_be_hidden()
    assert (
        call(server, "admin", "GET", f"/api/instances/{instance_id}").json()["status"] == "running"
    )

    admin.get_by_role("button", name="Suspend…").click()
    dialog = admin.get_by_role("dialog", name="Suspend this instance?")
    dialog.get_by_label("Reason").fill("customer asked to wait")
    dialog.get_by_role("button", name="Suspend").click()
    expect(admin.get_by_role("heading", level=1).locator("..")).to_contain_text("Suspended")
    admin.get_by_role("button", name="Resume…").click()
    admin.get_by_role("dialog", name="Resume this instance?").get_by_role(
        "button", name="Resume"
    ).click()
    expect(admin.get_by_role("button", name="Suspend…")).to_be_visible()

    admin.get_by_role("button", name="Cancel…").click()
    dialog = admin.get_by_role("dialog", name="Cancel this instance?")
    dialog.get_by_label("Reason").fill("duplicate order")
    dialog.get_by_role("button", name="Cancel instance").click()
    expect(admin.get_by_role("heading", level=1).locator("..")).to_contain_text("Cancelled")
    expect(admin.get_by_role("region", name="Audit log")).to_contain_text("duplicate order")
    assert (
        call(server, "admin", "GET", f"/api/instances/{instance_id}").json()["status"]
        == "cancelled"
    )
    assert admin.errors == []


def test_an_admin_retries_a_step_that_raised_an_incident(server, page_as):
    key = f"ui-incident-{secrets.token_hex(3)}"
    draft = {
        "format": 1,
        "key": key,
        "name": "Needs an amount",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "trigger": {"type": "manual"}},
            {"id": "big", "type": "exclusive", "name": "Big amount?"},
            {"id": "yes", "type": "end", "name": "Big"},
            {"id": "no", "type": "end", "name": "Small"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "big"},
            {"id": "e2", "from": "big", "to": "yes", "condition": "amount > 10"},
            {"id": "e3", "from": "big", "to": "no", "default": True},
        ],
    }
    assert (
        call(
            server, "admin", "POST", "/api/workflows", json={"key": key, "draft": draft}
        ).status_code
        == 201
    )
    assert call(server, "admin", "POST", f"/api/workflows/{key}/publish").status_code == 201
    started = call(server, "admin", "POST", f"/api/workflows/{key}/instances", json={"data": {}})
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]
    assert started.json()["open_incidents"] == 1

    admin = page_as("admin")
    admin.goto(f"/instances/{instance_id}")
    attention = admin.get_by_role("region", name="Needs attention")
    expect(attention).to_contain_text("Big amount?")
    expect(admin.get_by_test_id("path-diagram").locator("[data-node='big']")).to_have_class(
        re.compile(r"\bstep-(waiting|visited)\b")
    )
    attention.get_by_role("button", name="Retry…").click()
    dialog = admin.get_by_role("dialog", name="Retry this step?")
    dialog.get_by_role("button", name="Retry").click()
    expect(dialog).to_be_hidden()
    expect(admin.get_by_role("region", name="Audit log")).to_contain_text("Problem retried")
    assert admin.errors == []


def test_the_uploader_deletes_a_document_from_the_instance_page_after_confirming(server, page_as):
    _, instance_id, _ = order_at_pick(server)
    attached = {}
    for who, filename, content, kind in (
        ("sam", "wrong-invoice.pdf", PDF, "application/pdf"),
        ("fiona", "payment-receipt.txt", b"Paid by invoice, 20.00 EUR\n", "text/plain"),
    ):
        response = call(
            server,
            who,
            "POST",
            f"/api/instances/{instance_id}/documents",
            files={"file": (filename, content, kind)},
        )
        assert response.status_code == 201, response.text
        attached[filename] = response.json()["id"]

    sam = page_as("sam")  # who started the order and uploaded the invoice
    sam.goto(f"/instances/{instance_id}")
    documents = sam.get_by_role("region", name="Documents")
    items = documents.get_by_role("listitem")
    expect(items).to_have_count(2)
    mine = items.filter(has_text="wrong-invoice.pdf")
    expect(mine.get_by_role("button", name="Delete")).to_be_visible()
    # fiona's document is hers to delete (or an admin's), not sam's
    expect(items.filter(has_text="payment-receipt.txt").get_by_role("button")).to_have_count(0)
    screenshot(sam, "instance-documents")

    asked = []

    def answer(accept):
        def handle(dialog):
            asked.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()

        return handle

    sam.once("dialog", answer(accept=False))  # changed his mind
    mine.get_by_role("button", name="Delete").click()
    expect(items).to_have_count(2)
    sam.once("dialog", answer(accept=True))
    mine.get_by_role("button", name="Delete").click()
    expect(items).to_have_count(1)
    expect(documents).not_to_contain_text("wrong-invoice.pdf")
    expect(documents).to_contain_text("payment-receipt.txt")
    assert asked == ["Delete the document wrong-invoice.pdf? This cannot be undone."] * 2
    expect(sam.get_by_role("region", name="Audit log")).to_contain_text("Document deleted")

    listed = call(server, "sam", "GET", f"/api/instances/{instance_id}/documents").json()
    assert [d["filename"] for d in listed] == ["payment-receipt.txt"]
    gone = call(server, "sam", "GET", f"/api/documents/{attached['wrong-invoice.pdf']}")
    assert gone.status_code == 404
    assert sam.errors == []


def test_an_admin_corrects_an_instances_data_with_a_reason(server, page_as):
    _, instance_id, _ = order_at_pick(server)
    admin = page_as("admin")
    admin.goto(f"/instances/{instance_id}")
    admin.get_by_role("button", name="Correct data…").click()
    dialog = admin.get_by_role("dialog", name="Correct this instance's data")
    data = dialog.get_by_label("Data (JSON)")
    data.fill('{"total": 25')
    dialog.get_by_label("Reason (kept in the audit log)").fill("The shop sent the wrong total")
    dialog.get_by_role("button", name="Save the data").click()
    expect(dialog).to_contain_text("not valid JSON yet")
    data.fill('{"total": 25}')
    dialog.get_by_role("button", name="Save the data").click()
    expect(dialog).to_have_count(0)
    expect(admin.get_by_role("region", name="Data")).to_contain_text("25")
    stored = call(server, "admin", "GET", f"/api/instances/{instance_id}").json()
    assert stored["data"]["total"] == 25
    assert stored["data"]["order_id"].startswith("UI-")  # the rest stays as it was
    assert admin.errors == []
