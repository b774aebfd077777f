"""Branding set by an admin in the console: it wins over the environment on the tracking page,
and what does not fit is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.main import create_app
from tests.app.builders import assert_error, order
from tests.app.test_channels import app_client, mailbox


def test_an_admin_brands_the_tracking_page_and_can_go_back_to_the_default(login, anonymous):
    admin = login("admin")
    assert admin.get("/api/admin/branding").json() == {
        "name": "Stepwise",
        "color": admin.get("/api/admin/branding").json()["color"],
        "logo_url": None,
        "set_here": [],
    }
    changed = admin.put(
        "/api/admin/branding",
        json={
            "name": "Acme <Mugs>",
            "color": "#0f766e",
            "logo_url": "https://cdn.acme.example/l.png",
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["set_here"] == ["color", "logo_url", "name"]
    token = (
        login("sam")
        .post("/api/workflows/order-management/instances", json={"data": order("BR-1")})
        .json()["tracking_token"]
    )
    page = anonymous.get(f"/track/{token}")
    assert "Acme &lt;Mugs&gt;" in page.text
    assert "--brand: #0f766e;" in page.text
    assert "https://cdn.acme.example" in page.headers["content-security-policy"]

    back = admin.put("/api/admin/branding", json={"name": ""})
    assert back.json()["name"] == "Stepwise"
    assert back.json()["set_here"] == ["color", "logo_url"]
    assert "Acme" not in anonymous.get(f"/track/{token}").text


def test_branding_that_does_not_fit_is_refused_and_is_for_admins_only(login):
    admin = login("admin")
    assert_error(admin.put("/api/admin/branding", json={"color": "red;}"}), 422, "invalid_color")
    assert_error(
        admin.put("/api/admin/branding", json={"logo_url": "javascript:alert(1)"}),
        422,
        "invalid_logo_url",
    )
    assert_error(admin.put("/api/admin/branding", json={"colour": "#fff"}), 422)
    assert_error(login("walt").put("/api/admin/branding", json={"name": "x"}), 403)
    assert admin.get("/api/admin/branding").json()["set_here"] == []


@pytest.fixture
def mail_app(settings):
    with mailbox() as box:
        application = create_app(
            replace(settings, extra={**box.settings(), "mail_from": "ops@shop.example"})
        )
        application.state.box = box
        yield application
        application.state.worker.client.close()
        application.state.engine.dispose()


def test_an_admin_sends_a_branded_test_email(mail_app, database):
    with app_client(mail_app) as client:
        client.put("/api/admin/branding", json={"name": "Acme Mugs", "color": "#0f766e"})
        sent = client.post("/api/admin/branding/test-email", json={"to": "me@acme.example"})
        assert sent.status_code == 200, sent.text
        assert sent.json() == {"to": "me@acme.example", "subject": "Test email from Acme Mugs"}
        bad = client.post("/api/admin/branding/test-email", json={"to": "not an address"})
        assert_error(bad, 422, "invalid_request")
        events = client.get("/api/admin/audit", params={"action": "email.test_sent"}).json()
    (mail,) = mail_app.state.box.received
    assert mail.rcpt_tos == ["me@acme.example"]
    assert "sent by admin" in mail.text
    page = mail.message.get_body(("html",)).get_content()
    assert "border-top:4px solid #0f766e" in page
    assert "Acme Mugs</td>" in page
    assert [e["details"]["to"] for e in events["items"]] == ["me@acme.example"]


def test_a_test_email_without_smtp_says_what_to_set_and_is_for_admins(login):
    admin = login("admin")
    refused = admin.post("/api/admin/branding/test-email", json={"to": "me@acme.example"})
    assert_error(refused, 409, "email_not_configured")
    assert "STEPWISE_SETTING_SMTP_HOST" in refused.json()["error"]["message"]
    assert_error(
        login("sam").post("/api/admin/branding/test-email", json={"to": "me@acme.example"}),
        403,
        "forbidden",
    )
