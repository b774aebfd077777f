"""Reports in the browser: a manager's dashboard over real orders, and the report builder."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Server, screenshot
from tests.ui.shop import ORDER, Shop


@pytest.fixture(scope="module")
def orders(server: Server) -> Iterator[dict[str, str]]:
    """Three orders: two from Berlin, one from Leipzig, picked in different times; one
    delivered, one still waiting to be picked."""
    shop = Shop(server)
    made = {
        "R-1": shop.start("R-1", "Berlin"),
        "R-2": shop.start("R-2", "Berlin"),
        "R-3": shop.start("R-3", "Leipzig"),
        "R-4": shop.start("R-4", "Leipzig"),
    }
    shop.ship(made["R-1"], pick_takes="PT3H", picker="walt", packer="wendy")
    shop.ship(made["R-2"], pick_takes="PT1H", picker="wendy", packer="walt")
    shop.ship(made["R-3"], pick_takes="PT5H", picker="walt", packer="wendy")
    shop.deliver(made["R-1"])
    shop.task(made["R-4"], "pick")  # left open: open work
    yield made
    shop.close()


def test_a_manager_sees_the_orders_in_the_funnel_and_the_step_times_on_the_diagram(
    page_as, server: Server, orders: dict[str, str]
):
    mia_api = server.client("mia")
    funnel = mia_api.get("/api/reports/funnel", params={"workflow": ORDER}).json()
    steps = mia_api.get("/api/reports/steps", params={"workflow": ORDER}).json()
    mia_api.close()
    shipped = next(r["instances"] for r in funnel["rows"] if r["stage"] == "Shipped")
    pick = next(r for r in steps["rows"] if r["step"] == "pick")
    assert shipped >= 3
    assert pick["tasks"] >= 3

    mia = page_as("mia", height=1000)
    mia.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    filters = mia.get_by_role("form", name="Report filters")
    expect(filters.get_by_label("Workflow")).to_have_value(ORDER)

    chart = mia.locator("[data-chart='funnel'] svg[role='img']")
    expect(chart).to_have_attribute("aria-label", re.compile(rf"Shipped: {shipped}\b"))
    expect(mia.locator("[data-chart='funnel']")).to_contain_text("Being prepared")

    node = mia.locator(".heat-node", has_text="Pick items")
    expect(node).to_contain_text(f"avg · {pick['tasks']}")
    expect(node).to_have_attribute("style", re.compile(r"background: rgb"))
    diagram = mia.locator("[data-chart='step-heat'] [role='img']").first
    expect(diagram).to_have_attribute("aria-label", re.compile(r"Slowest steps: .*Pick items"))
    for card in ("throughput", "cycle-time", "sla-step", "sla-person", "open-person", "open-role"):
        expect(mia.locator(f"[data-chart='{card}']")).to_be_visible()
        csv = mia.locator(f"[data-chart='{card}']").get_by_role("link", name="Download CSV")
        expect(csv).to_have_attribute("href", re.compile(r"^/api/reports/.*format=csv"))
    expect(mia.locator("[data-chart='open-person']")).to_contain_text("Open work per person")
    assert mia.errors == []

    # a CSV link answers the chart's table
    href = mia.locator("[data-chart='funnel']").get_by_role("link", name="Download CSV")
    raw = server.client("mia")
    answer = raw.get(str(href.get_attribute("href")))
    raw.close()
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == "stage,instances,share"


def test_a_manager_builds_time_in_step_by_warehouse_per_week_saves_and_pins_it(
    page_as, server: Server, orders: dict[str, str]
):
    mia = page_as("mia", height=1000)
    mia.goto("/reports/builder")
    form = mia.get_by_role("form", name="Build a report")
    expect(form.get_by_label("Workflow")).to_have_value(ORDER)
    form.get_by_label("Measure").select_option("time_in_step")
    form.get_by_label("Group by").select_option("data")
    form.get_by_label("Data field", exact=True).fill("warehouse")
    form.get_by_label("Per period").select_option("week")
    form.get_by_label("Line").check()
    form.get_by_role("button", name="Preview").click()

    preview = mia.locator("[data-chart='preview']")
    expect(preview.locator("svg[role='img']")).to_have_attribute(
        "aria-label", re.compile(r"Time in step by warehouse, per week")
    )
    preview.get_by_text("Data table").click()
    table = preview.get_by_role("table")
    expect(table.locator("thead")).to_contain_text("Berlin")
    expect(table.locator("thead")).to_contain_text("Leipzig")
    mia.evaluate("window.scrollTo(0, 0)")
    screenshot(mia, "report-builder")

    save = mia.get_by_role("region", name="Save the report")
    save.get_by_label("Name").fill("Time in step by warehouse")
    save.get_by_label("warehouse_manager", exact=True).check()
    save.get_by_label("Pin to my dashboard").check()
    save.get_by_role("button", name="Save report").click()
    expect(save.get_by_role("status")).to_contain_text("pinned to the dashboard")

    mia_api = server.client("mia")
    saved = mia_api.get("/api/reports/saved", params={"pinned": True}).json()
    mia_api.close()
    mine = next(r for r in saved if r["name"] == "Time in step by warehouse")
    assert mine["query"]["measure"] == "time_in_step"
    assert mine["query"]["group_by"] == "data.warehouse"
    assert mine["shared_with"] == ["warehouse_manager"]

    mia.get_by_role("navigation", name="Reports").get_by_role("link", name="Dashboard").click()
    pinned = mia.get_by_role("region", name="Pinned reports")
    card = pinned.locator("figure", has_text="Time in step by warehouse")
    expect(card.locator("svg[role='img']")).to_have_attribute(
        "aria-label", re.compile(r"per week.*Berlin.*Leipzig|per week.*Leipzig.*Berlin")
    )
    expect(mia.locator("[data-chart='funnel'] svg[role='img']")).to_be_visible()
    expect(mia.locator(".heat-node", has_text="Pick items")).to_contain_text("avg")
    mia.evaluate("window.scrollTo(0, 0)")
    screenshot(mia, "reports-dashboard")
    assert mia.errors == []


def test_reports_are_for_managers_and_admins(page_as):
    walt = page_as("walt")
    walt.goto("/reports")
    expect(walt.get_by_role("heading", name="Reports are for managers and admins")).to_be_visible()


def test_a_from_day_after_the_to_day_says_so_instead_of_showing_old_figures(page_as):
    admin = page_as("admin")
    admin.goto("/reports?from=2026-05-10&to=2026-05-01")
    expect(admin.get_by_role("alert")).to_contain_text("“From” (2026-05-10) is after “To”")
    expect(admin.get_by_role("region", name="Standard reports")).to_have_count(0)
    assert admin.errors == []
