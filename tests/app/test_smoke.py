from __future__ import annotations


def test_login_and_me(login):
    admin = login("admin")
    me = admin.get("/api/me").json()
    assert me["username"] == "admin"
    assert "admin" in me["roles"]


def test_order_starts(login):
    sam = login("sam")
    order = {
        "order_id": "A-1",
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "items": [{"sku": "MUG-01", "quantity": 1}],
        "total": 20,
        "payment": {"method": "invoice"},
    }
    r = sam.post("/api/workflows/order-management/instances", json={"data": order})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["stage"] == "Received"
    fiona = login("fiona")
    inbox = fiona.get("/api/tasks").json()
    assert [t["node"] for t in inbox["items"]] == ["capture_manually"]
