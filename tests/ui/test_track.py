"""The customer's tracking page in a browser: the order's stages as it moves and its tracking
number, nothing else."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.ui.conftest import Server, screenshot
from tests.ui.shop import Shop


def test_the_tracking_page_shows_shipped_once_the_parcel_is_handed_over(browser, server: Server):
    shop = Shop(server)
    try:
        instance_id = shop.start("TRACK-1", "Berlin")
        shop.task(instance_id, "pick")
        token = shop.instance(instance_id)["tracking_token"]
        context = browser.new_context(base_url=server.url)  # the customer: no login
        page = context.new_page()
        page.goto(f"/track/{token}")
        current = page.locator('[aria-current="step"]')
        expect(current).to_contain_text("Being prepared")
        expect(page.locator("li", has_text="Shipped")).to_have_count(0)

        shop.ship(instance_id, pick_takes="PT1H", picker="walt", packer="wendy")
        page.reload()
        expect(current).to_contain_text("Shipped")
        for reached in ("Received", "Paid", "Being prepared"):
            expect(page.locator("li", has_text=reached)).to_be_visible()
        shown = page.locator("body").inner_text()
        instance = shop.instance(instance_id)
        # the one value the order template lists for its customers
        tracking_number = instance["data"]["shipment"]["tracking_number"]
        expect(page.locator("dt", has_text="Tracking number")).to_be_visible()
        expect(page.locator("dd")).to_have_text(tracking_number)
        for internal in (
            "Ada Lovelace",
            "ada@example.com",
            "pi_TRACK-1",
            "MUG-01",
            instance["id"],
            "walt",
            "wendy",
            "Pick items",
        ):
            assert internal not in shown
        screenshot(page, "tracking")
        page.set_viewport_size({"width": 390, "height": 844})
        expect(current).to_be_visible()
        screenshot(page, "tracking-phone")
        context.close()
    finally:
        shop.close()
