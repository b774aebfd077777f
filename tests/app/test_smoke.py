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


def test_only_the_roles_a_start_names_may_start_it(login):
    admin = login("admin")
    draft = {
        "format": 1,
        "key": "sales-only",
        "name": "Sales only",
        "nodes": [
            {
                "id": "start",
                "type": "start",
                "name": "Start",
                "trigger": {"type": "manual", "roles": ["sales"]},
            },
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [{"id": "e1", "from": "start", "to": "end"}],
    }
    assert (
        admin.post("/api/workflows", json={"key": "sales-only", "draft": draft}).status_code == 201
    )
    assert admin.post("/api/workflows/sales-only/publish").status_code == 201
    walt = login("walt")
    refused = walt.post("/api/workflows/sales-only/instances", json={"data": {}})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert (
        login("sam").post("/api/workflows/sales-only/instances", json={"data": {}}).status_code
        == 201
    )
