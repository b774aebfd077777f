"""The admin console in the browser: people, absences, webhook secrets, data tables, incidents."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.app.builders import deliver, order, secret_for, signup_flow
from tests.app.fakes import fake_edge
from tests.app.test_channels import recording_server
from tests.ui.conftest import Server, screenshot


@pytest.fixture
def admin_api(server: Server) -> Iterator[httpx.Client]:
    client = server.client("admin")
    yield client
    client.close()


def _accept_dialogs(page: Any) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def _advance(client: httpx.Client) -> None:
    """Move the service's clock a second: it runs the timers and outbox work that came due."""
    response = client.post("/api/clock/advance", json={"by": "PT1S"})
    assert response.status_code == 200, response.text


def _instance(client: httpx.Client, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/api/instances/{instance_id}").json()
    return found


def test_admin_creates_a_user_with_the_warehouse_role_and_the_password_is_shown_once(
    page_as, server: Server, admin_api
):
    admin = page_as("admin")
    admin.goto("/admin")
    expect(admin.get_by_role("navigation", name="Admin")).to_be_visible()
    form = admin.get_by_role("form", name="Create a user")
    form.get_by_label("Username").fill("ulla")
    form.get_by_label("Display name").fill('Ulla <script>alert("x")</script> Unpacker')
    form.get_by_label("Email").fill("ulla@stepwise.example")
    form.get_by_label("warehouse", exact=True).check()
    form.get_by_role("button", name="Create user").click()

    once = admin.get_by_role("region", name="ulla was created")
    password = once.get_by_label("Password for ulla", exact=True)
    expect(password).to_have_value(re.compile(r".{8,}"))
    row = admin.locator("tr[data-username='ulla']")
    expect(row).to_contain_text('Ulla <script>alert("x")</script> Unpacker')  # text, not markup
    expect(row).to_contain_text("warehouse")
    expect(row).to_contain_text("employee")
    screenshot(admin, "admin-users")

    with httpx.Client(base_url=server.url) as ulla:  # the shown password is the real one
        me = ulla.post(
            "/api/auth/login", json={"username": "ulla", "password": password.input_value()}
        )
        assert me.status_code == 200, me.text
        assert sorted(me.json()["roles"]) == ["employee", "warehouse"]

    once.get_by_role("button", name="Done, I have copied it").click()
    expect(admin.get_by_label("Password for ulla", exact=True)).to_have_count(0)

    _accept_dialogs(admin)
    row.get_by_role("button", name="Deactivate ulla").click()
    expect(row).to_contain_text("Deactivated")
    users = admin_api.get("/api/admin/users").json()
    assert next(u for u in users if u["username"] == "ulla")["is_active"] is False
    assert admin.errors == []


def test_admin_changes_a_users_roles_in_the_edit_dialog(page_as, server: Server, admin_api):
    admin_api.post(
        "/api/admin/users", json={"username": "rolf", "roles": ["employee"]}
    ).raise_for_status()
    admin = page_as("admin")
    admin.goto("/admin/users")
    admin.get_by_role("button", name="Edit rolf").click()
    dialog = admin.get_by_role("dialog", name="Edit rolf")
    dialog.get_by_label("shipping", exact=True).check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(admin.locator("tr[data-username='rolf']")).to_contain_text("shipping")
    admin.get_by_role("button", name="Edit rolf").click()
    admin.keyboard.press("Escape")  # Escape closes the dialog
    expect(admin.get_by_role("dialog", name="Edit rolf")).to_be_hidden()


def test_admin_sets_an_out_of_office_window_with_a_delegate_and_sees_it_in_the_month(
    page_as, server: Server, admin_api
):
    admin_api.post(
        "/api/admin/users",
        json={"username": "otto", "display_name": "Otto Away", "roles": ["warehouse"]},
    ).raise_for_status()
    today = datetime.now(UTC).astimezone().date()  # the browser's day, in local time
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    starts, ends = next_month + timedelta(days=9), next_month + timedelta(days=12)

    admin = page_as("admin")
    admin.goto("/admin/out-of-office")
    form = admin.get_by_role("form", name="Set out of office")
    form.get_by_label("Who is away").select_option("otto")
    form.get_by_label("Delegate").select_option("walt")
    form.get_by_label("From").fill(f"{starts.isoformat()}T09:00")
    form.get_by_label("Until").fill(f"{ends.isoformat()}T17:00")
    form.get_by_label("Note").fill("Summer holiday")
    form.get_by_role("button", name="Save absence").click()

    row = admin.locator("tr[data-user='otto']")
    expect(row).to_contain_text("Walt Warehouse")
    expect(row).to_contain_text("Planned")
    expect(row).to_contain_text("Summer holiday")
    windows = admin_api.get("/api/out-of-office", params={"user": "otto"}).json()
    assert [(w["delegate"], w["note"]) for w in windows] == [("walt", "Summer holiday")]
    screenshot(admin, "admin-out-of-office")

    admin.get_by_role("button", name="Month").click()
    admin.get_by_role("button", name="Next month").click()
    grid = admin.get_by_role("grid", name=re.compile("Out of office in"))
    expect(grid.get_by_text("otto → walt").first).to_be_visible()
    assert grid.get_by_text("otto → walt").count() == 4  # the 10th to the 13th
    screenshot(admin, "admin-out-of-office-month")
    assert admin.errors == []


def test_admin_makes_a_webhook_secret_and_copies_a_signature_example_that_verifies(
    page_as, server: Server
):
    admin = page_as("admin")
    admin.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    admin.goto("/admin/webhooks")
    card = admin.locator("[data-hook='order-management']")
    expect(card.get_by_label("Webhook URL for order-management", exact=True)).to_have_value(
        f"{server.url}/hooks/order-management"
    )
    card.get_by_role("button", name="New secret").click()
    once = card.get_by_role("region", name="New secret for order-management")
    expect(once.get_by_label("Secret", exact=True)).to_have_value(re.compile(r"^whsec_"))
    example = once.get_by_label("Signature example", exact=True)
    expect(example).to_have_value(re.compile(r"X-Stepwise-Signature: sha256=[0-9a-f]{64}"))
    once.get_by_role("button", name="Copy signature example").click()
    expect(once.get_by_role("button", name="Copy signature example")).to_have_text("Copied ✓")
    copied = admin.evaluate("navigator.clipboard.readText()")
    assert copied == example.input_value()
    assert copied.startswith(f"curl -X POST '{server.url}/hooks/order-management'")
    screenshot(admin, "admin-webhooks")

    # the copied example is a valid delivery: its signature is accepted (the sample body is
    # not a whole order, so the service keeps it as a dead letter rather than refusing it)
    headers = dict(re.findall(r"-H '([^:]+): ([^']*)'", copied))
    body = re.search(r"--data '(.*)'$", copied, re.MULTILINE)
    assert body is not None
    answer = httpx.post(
        f"{server.url}/hooks/order-management", headers=headers, content=body[1].encode()
    )
    assert answer.status_code != 401, answer.text
    assert admin.errors == []


def test_admin_imports_an_inventory_csv_and_sees_the_bad_rows_error_before_anything_is_written(
    page_as, server: Server, admin_api
):
    admin = page_as("admin")
    admin.goto("/admin/tables")
    admin.get_by_role("button", name=re.compile("^inventory")).click()
    bad = "sku,warehouse,name,on_hand\nUI-CSV-1,Berlin,Sticker,10\nUI-CSV-2,Leipzig,Pin,lots\n"
    upload = admin.get_by_label("CSV file")
    upload.set_input_files(
        files=[{"name": "inventory.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    admin.get_by_role("button", name="Check file").click()

    errors = admin.get_by_role("table", name="Errors in the file")
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody tr")).to_contain_text("3")
    expect(errors.locator("tbody tr")).to_contain_text("on_hand")
    expect(errors.locator("tbody tr")).to_contain_text("expected a whole number, got 'lots'")
    expect(admin.get_by_role("button", name=re.compile(r"^Import \d+ change"))).to_be_disabled()
    screenshot(admin, "admin-tables")
    assert admin_api.get("/api/tables/inventory/rows", params={"q": "UI-CSV"}).json()["total"] == 0

    good = bad.replace("lots", "5")
    upload.set_input_files(
        files=[{"name": "inventory.csv", "mimeType": "text/csv", "buffer": good.encode()}]
    )
    admin.get_by_role("button", name="Check file").click()
    admin.get_by_role("button", name="Import 2 change(s)").click()
    expect(admin.get_by_role("status").filter(has_text="Imported")).to_contain_text("2 new")
    expect(admin.locator("tr[data-row='UI-CSV-2']")).to_contain_text("5")
    rows = admin_api.get("/api/tables/inventory/rows", params={"q": "UI-CSV"}).json()["items"]
    assert [(r["values"]["sku"], r["values"]["on_hand"]) for r in rows] == [
        ("UI-CSV-1", 10),
        ("UI-CSV-2", 5),
    ]


def test_admin_edits_a_table_row_inline(page_as, server: Server, admin_api):
    admin_api.post(
        "/api/tables/inventory/rows",
        json={"values": {"sku": "UI-EDIT-1", "warehouse": "Berlin", "name": "Pen", "on_hand": 7}},
    ).raise_for_status()
    admin = page_as("admin")
    admin.goto("/admin/tables")
    admin.get_by_label("Search inventory by key").fill("UI-EDIT")
    row = admin.locator("tr[data-row='UI-EDIT-1']")
    row.get_by_role("button", name="Edit row UI-EDIT-1").click()
    admin.get_by_label("on_hand", exact=True).fill("nine")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("alert")).to_contain_text("on_hand")
    admin.get_by_label("on_hand", exact=True).fill("9")
    admin.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("9")
    found = admin_api.get("/api/tables/inventory/rows", params={"q": "UI-EDIT-1"}).json()["items"]
    assert found[0]["values"]["on_hand"] == 9


def test_admin_retries_an_incident_once_the_other_system_is_back(
    page_as, server: Server, admin_api
):
    with fake_edge() as edge:
        edge.fail_paths.add("/captures")  # the payment system is down: 503
        draft = {
            "format": 1,
            "key": "ui-incident",
            "name": "Charge a card (UI test)",
            "nodes": [
                {"id": "start", "type": "start", "name": "Start"},
                {
                    "id": "charge",
                    "type": "http",
                    "name": "Charge card",
                    "request": {
                        "method": "POST",
                        "url": f"{edge.url}/captures",
                        "body": {"order_id": "{{ order_id }}"},
                    },
                    "retry": {"attempts": 1},
                },
                {"id": "end", "type": "end", "name": "Charged"},
            ],
            "edges": [
                {"id": "e1", "from": "start", "to": "charge"},
                {"id": "e2", "from": "charge", "to": "end"},
            ],
            "layout": {},
        }
        made = admin_api.post(
            "/api/workflows", json={"key": "ui-incident", "name": draft["name"], "draft": draft}
        )
        assert made.status_code == 201, made.text
        published = admin_api.post("/api/workflows/ui-incident/publish")
        assert published.status_code == 201, published.text
        started = admin_api.post(
            "/api/workflows/ui-incident/instances", json={"data": {"order_id": "INC-1"}}
        )
        assert started.status_code == 201, started.text
        instance_id = started.json()["id"]
        for _ in range(20):  # each advance runs the outbox; the scheduler may get there first
            if _instance(admin_api, instance_id)["open_incidents"]:
                break
            _advance(admin_api)
        assert _instance(admin_api, instance_id)["open_incidents"] == 1

        admin = page_as("admin")
        admin.goto("/admin/incidents")
        row = admin.locator(f"tr[data-instance='{instance_id}']")
        expect(row).to_contain_text("INC-1")
        expect(row).to_contain_text("charge")
        expect(row).to_contain_text("503")
        expect(row.get_by_role("button", name="Skip charge of INC-1")).to_be_visible()
        screenshot(admin, "admin-incidents")

        edge.fail_paths.clear()  # the payment system is back
        row.get_by_role("button", name="Retry charge of INC-1").click()
        expect(admin.get_by_role("status").filter(has_text="Retried")).to_contain_text("INC-1")
        expect(row).to_have_count(0)
        admin.get_by_label("Which incidents").select_option("resolved")
        expect(row).to_contain_text("resolved")
        for _ in range(20):
            if _instance(admin_api, instance_id)["status"] == "completed":
                break
            _advance(admin_api)
        final = _instance(admin_api, instance_id)
        assert final["status"] == "completed"
        assert [i["status"] for i in final["incidents"]] == ["resolved"]
        assert [r["path"] for r in edge.requests] == ["/captures", "/captures"]
        assert admin.errors == []


def test_every_admin_page_renders_without_errors(page_as):
    admin = page_as("admin")
    admin.goto("/admin")
    pages = {
        "roles": "Roles",
        "tokens": "API tokens",
        "calendars": "Business calendars",
        "templates": "Templates",
        "branding": "Branding",
        "retention": "Data retention",
        "audit": "Audit log",
        "dead-letters": "Dead letters",
    }
    for path, title in pages.items():
        admin.get_by_role("navigation", name="Admin").get_by_role("link", name=title).click()
        expect(admin.get_by_role("heading", name=title, exact=True, level=1)).to_be_visible()
        expect(admin.get_by_role("status").filter(has_text="Loading")).to_have_count(0)
        screenshot(admin, f"admin-{path}")
    assert admin.errors == []


def test_admin_sees_which_outbound_secrets_are_set_and_which_steps_need_them(page_as):
    admin = page_as("admin")
    admin.goto("/admin")
    nav = admin.get_by_role("navigation", name="Admin")
    nav.get_by_role("link", name="Outbound secrets").click()
    expect(admin.get_by_role("heading", name="Outbound secrets", level=1)).to_be_visible()
    row = admin.locator('tr[data-secret="smtp_password"]')
    expect(row).to_contain_text("the SMTP login's password (email)")
    expect(row).to_contain_text("not set")
    expect(row).to_contain_text("STEPWISE_SECRET_SMTP_PASSWORD")
    expect(row).to_contain_text("no published step")
    screenshot(admin, "admin-secrets")
    assert admin.errors == []


def test_an_api_token_is_shown_once_with_a_copy_button(page_as, server: Server):
    admin = page_as("admin")
    admin.goto("/admin/tokens")
    form = admin.get_by_role("form", name="Create an API token")
    form.get_by_label("Name").fill("Shop backend")
    form.get_by_label("Acts as").select_option("sam")
    form.get_by_role("button", name="Create token").click()
    token = admin.get_by_label("Token", exact=True)
    expect(token).to_have_value(re.compile(r"^sw_"))
    me = httpx.get(
        f"{server.url}/api/me", headers={"Authorization": f"Bearer {token.input_value()}"}
    )
    assert me.json()["username"] == "sam"
    admin.get_by_role("button", name="Done, I have copied it").click()
    expect(admin.get_by_label("Token", exact=True)).to_have_count(0)
    expect(admin.get_by_role("table", name="API tokens")).to_contain_text("Shop backend")


def test_the_admin_pages_are_for_admins_only(page_as):
    mia = page_as("mia")
    mia.goto("/admin/users")
    expect(mia.get_by_role("heading", name="Admins only")).to_be_visible()


def test_admin_brands_the_tracking_page_from_the_console(page_as, server: Server, admin_api):
    admin = page_as("admin")
    admin.goto("/admin/branding")
    form = admin.get_by_role("form", name="Branding")
    form.get_by_label("Company name").fill("Acme <Mugs>")
    form.get_by_label("Colour as hex").fill("#0f766e")
    form.get_by_role("button", name="Save branding").click()
    expect(admin.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    screenshot(admin, "admin-branding")
    started = admin_api.post(
        "/api/workflows/order-management/instances",
        json={
            "data": {
                "order_id": "BRAND-1",
                "customer": {"name": "Ada", "email": "ada@example.com"},
                "items": [{"sku": "MUG-01", "quantity": 1}],
                "total": 20,
                "payment": {"method": "invoice"},
            }
        },
    )
    page = httpx.get(f"{server.url}/track/{started.json()['tracking_token']}")
    assert "Acme &lt;Mugs&gt;" in page.text
    assert "#0f766e" in page.text
    form.get_by_role("button", name="Back to the defaults").click()
    expect(form.get_by_label("Company name")).to_have_value("Stepwise")
    assert admin.errors == []


def test_admin_publishes_a_workflow_as_a_template_and_designers_find_it(page_as, admin_api):
    admin = page_as("admin")
    _accept_dialogs(admin)
    admin.goto("/admin/templates")
    form = admin.get_by_role("form", name="Publish a workflow as a template")
    form.get_by_label("Workflow").select_option("vacation-request")
    form.get_by_label("Template name").fill("Time off (ours)")
    form.get_by_role("button", name="Publish as template").click()
    card = admin.get_by_role("article", name="Template Time off (ours)")
    expect(card).to_be_visible()
    dana = page_as("dana")
    dana.goto("/workflows")
    expect(
        dana.get_by_test_id("template-gallery").get_by_role("heading", name="Time off (ours)")
    ).to_be_visible()
    card.get_by_role("button", name="Remove Time off (ours) from the gallery").click()
    expect(card).to_have_count(0)
    assert "time-off-ours" not in {t["id"] for t in admin_api.get("/api/templates").json()}
    assert admin.errors == []


def test_admin_archives_a_workflow_and_restores_it(page_as, admin_api):
    draft = {
        "format": 1,
        "key": "ui-archive",
        "name": "Shelved process (UI test)",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [{"id": "e1", "from": "start", "to": "end"}],
        "layout": {},
    }
    made = admin_api.post("/api/workflows", json={"key": "ui-archive", "draft": draft})
    assert made.status_code == 201, made.text
    assert admin_api.post("/api/workflows/ui-archive/publish").status_code == 201

    admin = page_as("admin")
    _accept_dialogs(admin)
    admin.goto("/workflows")
    card = admin.locator("[data-key='ui-archive']")
    card.get_by_role("button", name="Archive").click()
    expect(card).to_have_count(0)
    assert (
        admin_api.post("/api/workflows/ui-archive/instances", json={"data": {}}).status_code == 404
    )

    admin.get_by_label("Show archived").check()
    expect(card).to_contain_text("Archived")
    screenshot(admin, "workflows-archived")
    card.get_by_role("button", name="Restore").click()
    expect(card).to_have_count(0)
    admin.get_by_label("Show archived").uncheck()
    expect(card).to_contain_text("Published v1")
    assert (
        admin_api.post("/api/workflows/ui-archive/instances", json={"data": {}}).status_code == 201
    )
    assert admin.errors == []


def test_admin_sets_aside_a_dead_letter_nobody_should_replay(page_as, server: Server, admin_api):
    flow = signup_flow("ui-aside")
    made = admin_api.post("/api/workflows", json={"key": "ui-aside", "draft": flow})
    assert made.status_code == 201, made.text  # not published: a delivery is kept
    secret = secret_for(admin_api, "ui-aside")
    payload = {"customer": {"name": "Test"}, "amount": 1}
    with httpx.Client(base_url=server.url) as sender:
        sent = deliver(sender, "ui-aside", "generic", secret, payload, **{"Idempotency-Key": "a1"})
    assert sent.status_code == 409, sent.text
    letter_id = sent.headers["X-Stepwise-Dead-Letter"]

    admin = page_as("admin")
    _accept_dialogs(admin)
    admin.goto("/admin/dead-letters")
    row = admin.get_by_role("table", name="Dead letters").locator("tr", has_text="ui-aside")
    row.get_by_role("button", name="Set aside").click()
    # the list's empty state is a status too, once the last row is gone
    expect(admin.get_by_role("status").filter(has_text="Set aside")).to_be_visible()
    expect(row).to_have_count(0)
    admin.get_by_label("Which deliveries").select_option("discarded")
    expect(row).to_contain_text("set aside")
    assert admin_api.get(f"/api/admin/dead-letters/{letter_id}").json()["status"] == "discarded"
    assert admin.errors == []


def test_admin_sees_what_was_sent_to_an_event_endpoint_and_filters_it(page_as, admin_api):
    flow = {
        "format": 1,
        "key": "ui-events",
        "name": "Events (UI test)",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "check", "type": "user_task", "name": "Check", "assignee": {"user": "admin"}},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "check"},
            {"id": "e2", "from": "check", "to": "end"},
        ],
        "layout": {},
    }
    made = admin_api.post("/api/workflows", json={"key": "ui-events", "draft": flow})
    assert made.status_code == 201, made.text
    assert admin_api.post("/api/workflows/ui-events/publish").status_code == 201
    with recording_server() as receiver:
        receiver.statuses = [500]  # the first event fails once, the second goes through
        url = f"{receiver.url}/ui-events"
        made = admin_api.post(
            "/api/admin/event-endpoints",
            json={"url": url, "event_types": ["instance.started", "task.created"]},
        )
        assert made.status_code == 201, made.text
        endpoint = made.json()
        log = f"/api/admin/event-endpoints/{endpoint['id']}/deliveries"
        try:
            started = admin_api.post("/api/workflows/ui-events/instances", json={"data": {}})
            assert started.status_code == 201, started.text
            instance_id = started.json()["id"]
            for _ in range(20):  # each advance runs the outbox; the scheduler may get there first
                items = admin_api.get(log).json()["items"]
                if len(items) == 2 and all(d["attempts"] for d in items):
                    break
                _advance(admin_api)
            created, first = admin_api.get(log).json()["items"]
            assert (first["event_type"], first["status"]) == ("instance.started", "pending")
            assert (created["event_type"], created["status"]) == ("task.created", "delivered")

            admin = page_as("admin")
            admin.goto("/admin/webhooks")
            admin.get_by_role("button", name=f"Deliveries to {url}").click()
            panel = admin.get_by_role("region", name=f"Deliveries to {url}")
            failing = panel.locator(f"tr[data-delivery='{first['id']}']")
            expect(failing).to_contain_text("instance.started")
            expect(failing).to_contain_text("pending")
            expect(failing).to_contain_text("HTTP 500")
            expect(failing.get_by_role("link")).to_have_attribute(
                "href", f"/instances/{instance_id}"
            )
            expect(panel.locator(f"tr[data-delivery='{created['id']}']")).to_contain_text(
                "delivered"
            )
            expect(panel).to_contain_text("2 of 2")
            admin.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top
            screenshot(admin, "admin-event-deliveries")

            panel.get_by_label("Which deliveries").select_option("failed")
            expect(panel.get_by_role("status")).to_contain_text("No failed deliveries")
            panel.get_by_label("Which deliveries").select_option("all")
            _advance(admin_api)  # past its retry at 30 s: the first event is delivered too
            assert admin_api.post("/api/clock/advance", json={"by": "PT30S"}).status_code == 200
            panel.get_by_role("button", name="Refresh").click()
            expect(failing).to_contain_text("delivered")
            expect(failing.get_by_role("button", name="Retry")).to_have_count(0)
            assert [r.path for r in receiver.requests] == ["/ui-events"] * 3
            cancelled = admin_api.post(
                f"/api/instances/{instance_id}/cancel", json={"reason": "UI test done"}
            )
            assert cancelled.status_code == 200, cancelled.text
            assert admin.errors == []
        finally:  # nothing more is sent to it while the other tests run
            admin_api.delete(f"/api/admin/event-endpoints/{endpoint['id']}")


def test_a_test_email_without_an_smtp_server_says_what_to_set(page_as):
    admin = page_as("admin")
    admin.goto("/admin/branding")
    form = admin.get_by_role("form", name="Send a test email")
    form.get_by_label("Send to").fill("me@example.com")
    form.get_by_role("button", name="Send test email").click()
    expect(admin.get_by_role("alert")).to_contain_text("STEPWISE_SETTING_SMTP_HOST")
    screenshot(admin, "admin-test-email")
    assert admin.errors == []


def test_a_refused_form_says_why_until_what_was_typed_changes(page_as):
    admin = page_as("admin")
    admin.goto("/admin")
    form = admin.get_by_role("form", name="Create a user")
    form.get_by_label("Username").fill("walt")
    form.get_by_role("button", name="Create user").click()
    expect(form).to_contain_text("walt")
    error = form.locator(".error-note")
    expect(error).to_be_visible()
    form.get_by_label("Username").fill("walter")
    expect(error).to_have_count(0)
    assert admin.errors == []


def test_the_audit_log_is_filtered_by_the_words_it_shows(page_as, admin_api):
    started = admin_api.post(
        "/api/workflows/order-management/instances", json={"data": order("AUDIT-WORDS-1")}
    )
    assert started.status_code == 201, started.text
    admin = page_as("admin")
    admin.goto("/admin/audit")
    filters = admin.get_by_role("search", name="Filter the audit log")
    filters.get_by_label("Instance").fill(started.json()["id"])
    filters.get_by_label("Action").fill("request started")  # as the table says it, any case
    table = admin.get_by_role("table", name="Audit events")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text("Request started")
    expect(table.locator("tbody tr")).to_contain_text("instance.started")
    filters.get_by_label("Action").fill("instance")  # the first part of codes still works
    expect(table).to_contain_text("Request started")
    assert admin.errors == []
