"""The app shell: login, navigation by role, pages that render text as text."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.ui.conftest import screenshot


def test_login_lands_in_the_inbox_with_navigation_for_the_persons_roles(page_as):
    admin = page_as("admin")
    nav = admin.get_by_role("navigation", name="Main")
    for label in ("Inbox", "New request", "Designer", "Reports", "Admin"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    walt = page_as("walt")
    walt_nav = walt.get_by_role("navigation", name="Main")
    expect(walt_nav.get_by_role("link", name="Inbox")).to_be_visible()
    assert walt_nav.get_by_role("link", name="Admin").count() == 0
    assert admin.errors == []
    assert walt.errors == []


def test_on_a_phone_every_top_bar_link_is_in_sight_without_scrolling_sideways(page_as):
    admin = page_as("admin", width=390, height=844)  # the most links: every area
    nav = admin.get_by_role("navigation", name="Main")
    links = nav.get_by_role("link")
    expect(links).to_have_count(7)
    for n in range(7):
        box = links.nth(n).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390, links.nth(n).inner_text()
    assert admin.evaluate("document.documentElement.scrollWidth") <= 390
    expect(admin.get_by_role("button", name="Sign out")).to_be_in_viewport()
    screenshot(admin, "topbar-phone")
    # a page laid out below the bar starts below it, however many rows it takes
    admin.goto("/designer/order-management")
    expect(admin.get_by_test_id("designer")).to_have_attribute("data-ready", "true")
    bar = admin.locator("header.topbar").bounding_box()
    toolbar = admin.locator(".wf-toolbar").bounding_box()
    assert bar is not None
    assert toolbar is not None
    assert toolbar["y"] >= bar["y"] + bar["height"] - 1
    assert admin.errors == []


def test_a_late_first_who_am_i_answer_does_not_sign_out_who_just_signed_in(browser, server):
    """The page asks "who am I?" as it loads; if the person signs in before that (first,
    anonymous) answer arrives, the answer is stale and must not put the login form back."""
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    held: list = []

    def hold_the_first(route):
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/me", hold_the_first)
    page.goto("/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(server.passwords["admin"])
    page.get_by_role("button", name="Sign in").click()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Inbox")).to_be_visible()
    assert len(held) == 1
    held[0].fulfill(  # what it would have said: nobody is signed in on this page yet
        status=401, json={"error": {"code": "unauthenticated", "message": "log in first"}}
    )
    # let the page handle the answer (two frames) before looking again
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    expect(nav.get_by_role("link", name="Inbox")).to_be_visible()
    assert page.get_by_role("button", name="Sign in").count() == 0
    context.close()


def test_a_wrong_password_says_so_and_stays_on_the_login_page(browser, server):
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.goto("/inbox")
    page.wait_for_url(re.compile(r".*/login"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert page.url.endswith("/login")
    context.close()


def test_workflow_list_shows_the_published_order_template_and_the_gallery(page_as):
    admin = page_as("admin")
    admin.get_by_role("link", name="Designer").click()
    card = admin.locator("[data-key='order-management']")
    card.wait_for()
    expect(card).to_contain_text("Published")
    expect(admin.get_by_test_id("template-gallery").get_by_role("heading").nth(1)).to_be_visible()
    screenshot(admin, "workflows")


def test_the_gallery_groups_templates_by_category_and_filters_by_one(page_as):
    page = page_as("dana")
    page.get_by_role("link", name="Designer").click()
    gallery = page.get_by_test_id("template-gallery")
    finance = gallery.locator("section[data-category='Finance']")
    expect(finance.get_by_role("heading", name="Purchase approval")).to_be_visible()
    expect(gallery.locator("section[data-category='People']")).to_contain_text("Vacation request")

    page.get_by_role("group", name="Template categories").get_by_role(
        "button", name="Finance"
    ).click()
    expect(gallery.locator("section")).to_have_count(1)
    expect(gallery.get_by_role("article")).to_have_count(2)  # purchase approval, invoice match
    expect(gallery).not_to_contain_text("Order management")
    screenshot(page, "gallery-finance")
    page.get_by_role("button", name="All", exact=True).click()
    expect(gallery.get_by_role("heading", name="Order management")).to_be_visible()
