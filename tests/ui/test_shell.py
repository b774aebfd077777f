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
