"""Branding set by an admin in the console: it wins over the environment on the tracking page,
and what does not fit is refused."""

from __future__ import annotations

from tests.app.builders import assert_error, order


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
