"""Data tables over HTTP: tables, rows, CSV export and import (every test on both databases)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services.csvio import format_cell, parse_cell
from app.settings import Settings
from tests.app.builders import publish
from tests.app.conftest import ADMIN_PASSWORD, with_settings

Login = Callable[[str], TestClient]

PRICES = {
    "name": "price_list",
    "description": "Prices per SKU and currency",
    "columns": [
        {"name": "sku", "type": "string"},
        {"name": "currency", "type": "string"},
        {"name": "price", "type": "number"},
        {"name": "min_quantity", "type": "integer"},
        {"name": "active", "type": "boolean"},
    ],
    "key_columns": ["sku", "currency"],
}


def lines(*rows: str) -> str:
    return "".join(row + "\r\n" for row in rows)


def post_csv(client: TestClient, table: str, text: str, **params: Any) -> Any:
    return client.post(
        f"/api/tables/{table}/import",
        params=params,
        content=text.encode(),
        headers={"Content-Type": "text/csv"},
    )


def post_export(text: str) -> str:
    """The export of a table imported from ``text``: its lines in key order."""
    header, *rows = text.splitlines()
    return lines(header, *sorted(rows))


def inventory(client: TestClient) -> dict[str, dict[str, Any]]:
    page = client.get("/api/tables/inventory/rows", params={"limit": 500}).json()
    return {row["values"]["sku"]: row for row in page["items"]}


def actions(client: TestClient) -> list[str]:
    page = client.get("/api/admin/audit", params={"action": "table", "limit": 500}).json()
    return [event["action"] for event in page["items"]]


@pytest.fixture
def prices(login: Login) -> TestClient:
    """An admin client, with an empty ``price_list`` table made."""
    admin = login("admin")
    response = admin.post("/api/tables", json=PRICES)
    assert response.status_code == 201, response.text
    return admin


# --- tables ---------------------------------------------------------------------------------


def test_tables_list_shows_inventory_to_any_user(login: Login) -> None:
    tables = login("walt").get("/api/tables").json()
    (inv,) = [t for t in tables if t["name"] == "inventory"]
    assert inv["key_columns"] == ["sku"]
    assert {"name": "on_hand", "type": "integer"} in inv["columns"]
    assert inv["row_count"] == 5


def test_tables_anonymous_gets_401(anonymous: TestClient) -> None:
    for path in (
        "/api/tables",
        "/api/tables/inventory",
        "/api/tables/inventory/rows",
        "/api/tables/inventory/export.csv",
    ):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthenticated"


def test_tables_non_admin_writes_are_forbidden(login: Login) -> None:
    dana = login("dana")
    row_id = next(iter(inventory(dana).values()))["id"]
    attempts = [
        dana.post("/api/tables", json=PRICES),
        dana.delete("/api/tables/inventory"),
        dana.post("/api/tables/inventory/rows", json={"values": {"sku": "X"}}),
        dana.put(f"/api/tables/inventory/rows/{row_id}", json={"values": {"sku": "X"}}),
        dana.delete(f"/api/tables/inventory/rows/{row_id}"),
        post_csv(dana, "inventory", lines("sku", "X")),
    ]
    assert [r.status_code for r in attempts] == [403] * len(attempts)
    assert len(inventory(dana)) == 5


def test_tables_create_get_and_delete(prices: TestClient) -> None:
    got = prices.get("/api/tables/price_list").json()
    assert got["key_columns"] == ["sku", "currency"]
    assert [c["type"] for c in got["columns"]] == [
        "string",
        "string",
        "number",
        "integer",
        "boolean",
    ]
    assert got["row_count"] == 0
    assert prices.post("/api/tables", json=PRICES).status_code == 409
    assert prices.delete("/api/tables/price_list").status_code == 204
    assert prices.get("/api/tables/price_list").status_code == 404
    assert {"table.created", "table.deleted"} <= set(actions(prices))


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Price-List"},
        {"name": "1prices"},
        {"key_columns": ["nope"]},
        {"key_columns": []},
        {"columns": [{"name": "sku", "type": "date"}]},
        {"columns": [{"name": "sku", "type": "string"}, {"name": "sku", "type": "integer"}]},
        {"columns": [{"name": "sku", "type": "string", "width": 3}]},
        {"colour": "blue"},
    ],
)
def test_tables_create_rejects_bad_definitions(login: Login, change: dict[str, Any]) -> None:
    response = login("admin").post("/api/tables", json={**PRICES, **change})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


def test_tables_delete_is_refused_while_a_workflow_uses_the_table(login: Login) -> None:
    admin = login("admin")
    response = admin.delete("/api/tables/inventory")
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"workflows": ["order-management"]}
    assert admin.get("/api/tables/inventory").json()["row_count"] == 5


def test_tables_unknown_table_is_404(login: Login) -> None:
    admin = login("admin")
    assert admin.get("/api/tables/nope").status_code == 404
    assert admin.get("/api/tables/nope/rows").status_code == 404
    assert post_csv(admin, "nope", lines("sku")).status_code == 404


# --- rows -----------------------------------------------------------------------------------


def test_rows_create_get_update_delete(prices: TestClient) -> None:
    values = {"sku": "MUG-01", "currency": "EUR", "price": 12.5, "min_quantity": 1, "active": True}
    created = prices.post("/api/tables/price_list/rows", json={"values": values})
    assert created.status_code == 201, created.text
    row = created.json()
    assert row["values"] == values
    assert row["version"] == 1
    url = f"/api/tables/price_list/rows/{row['id']}"
    assert prices.get(url).json() == row

    changed = {**values, "price": 11}
    updated = prices.put(url, json={"values": changed, "version": 1})
    assert updated.status_code == 200, updated.text
    assert updated.json()["values"]["price"] == 11
    assert updated.json()["version"] == 2

    assert prices.delete(url).status_code == 204
    assert prices.get(url).status_code == 404
    assert {"table.row_created", "table.row_updated", "table.row_deleted"} <= set(actions(prices))


def test_rows_missing_columns_are_empty(prices: TestClient) -> None:
    row = prices.post(
        "/api/tables/price_list/rows", json={"values": {"sku": "CAP-01", "currency": "EUR"}}
    ).json()
    assert row["values"] == {
        "sku": "CAP-01",
        "currency": "EUR",
        "price": None,
        "min_quantity": None,
        "active": None,
    }


@pytest.mark.parametrize(
    ("values", "column"),
    [
        ({"sku": "A", "currency": "EUR", "min_quantity": "5"}, "min_quantity"),
        ({"sku": "A", "currency": "EUR", "min_quantity": 1.5}, "min_quantity"),
        ({"sku": "A", "currency": "EUR", "min_quantity": True}, "min_quantity"),
        ({"sku": "A", "currency": "EUR", "min_quantity": 2**60}, "min_quantity"),
        ({"sku": "A", "currency": "EUR", "price": "12"}, "price"),
        ({"sku": "A", "currency": "EUR", "active": "yes"}, "active"),
        ({"sku": 7, "currency": "EUR"}, "sku"),
        ({"sku": "A", "currency": "EUR", "colour": "red"}, "colour"),
        ({"sku": "A"}, "currency"),
        ({"sku": "", "currency": "EUR"}, "sku"),
    ],
)
def test_rows_values_are_checked_against_column_types(
    prices: TestClient, values: dict[str, Any], column: str
) -> None:
    response = prices.post("/api/tables/price_list/rows", json={"values": values})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_row"
    assert [d["column"] for d in error["details"]] == [column]
    assert prices.get("/api/tables/price_list").json()["row_count"] == 0


def test_rows_number_columns_take_whole_and_decimal_numbers(prices: TestClient) -> None:
    for sku, price in (("A", 3), ("B", 2.25)):
        response = prices.post(
            "/api/tables/price_list/rows",
            json={"values": {"sku": sku, "currency": "EUR", "price": price}},
        )
        assert response.status_code == 201, response.text
        assert response.json()["values"]["price"] == price


def test_rows_duplicate_key_is_409(login: Login) -> None:
    admin = login("admin")
    response = admin.post(
        "/api/tables/inventory/rows",
        json={"values": {"sku": "MUG-01", "warehouse": "Leipzig", "name": "Mug", "on_hand": 1}},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_key"
    assert inventory(admin)["MUG-01"]["values"]["warehouse"] == "Berlin"


def test_rows_stale_version_is_409(login: Login) -> None:
    admin = login("admin")
    mug = inventory(admin)["MUG-01"]
    url = f"/api/tables/inventory/rows/{mug['id']}"
    first = admin.put(url, json={"values": {**mug["values"], "on_hand": 100}, "version": 1})
    assert first.status_code == 200, first.text
    second = admin.put(url, json={"values": {**mug["values"], "on_hand": 90}, "version": 1})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "stale_row"
    assert second.json()["error"]["details"] == {"version": 2}
    assert admin.get(url).json()["values"]["on_hand"] == 100


def test_rows_key_may_change_only_to_a_free_key(login: Login) -> None:
    admin = login("admin")
    mug = inventory(admin)["MUG-01"]
    url = f"/api/tables/inventory/rows/{mug['id']}"
    taken = admin.put(url, json={"values": {**mug["values"], "sku": "TEE-M"}, "version": 1})
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "duplicate_key"
    moved = admin.put(url, json={"values": {**mug["values"], "sku": "MUG-02"}, "version": 1})
    assert moved.status_code == 200, moved.text
    assert set(inventory(admin)) == {"BAG-01", "CAP-01", "MUG-02", "TEE-L", "TEE-M"}


def test_rows_unknown_row_is_404(login: Login) -> None:
    admin = login("admin")
    url = "/api/tables/inventory/rows/0123456789abcdef"
    assert admin.get(url).status_code == 404
    assert admin.put(url, json={"values": {"sku": "X"}}).status_code == 404
    assert admin.delete(url).status_code == 404


def test_rows_page_in_key_order_and_search_the_key(login: Login) -> None:
    walt = login("walt")
    page = walt.get("/api/tables/inventory/rows", params={"offset": 1, "limit": 2}).json()
    assert page["total"] == 5
    assert [r["values"]["sku"] for r in page["items"]] == ["CAP-01", "MUG-01"]
    found = walt.get("/api/tables/inventory/rows", params={"q": "tee"}).json()
    assert found["total"] == 2
    assert [r["values"]["sku"] for r in found["items"]] == ["TEE-L", "TEE-M"]
    nothing = walt.get("/api/tables/inventory/rows", params={"q": "%"}).json()
    assert nothing["total"] == 0


# --- CSV ------------------------------------------------------------------------------------


def test_csv_export_is_an_attachment_with_a_header_row(login: Login) -> None:
    response = login("walt").get("/api/tables/inventory/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="inventory.csv"'
    assert response.text.splitlines()[:3] == [
        "sku,warehouse,name,on_hand",
        "BAG-01,Leipzig,Tote bag,15",
        "CAP-01,Leipzig,Cap,0",
    ]


def test_csv_round_trip_changes_nothing_then_applies_edits(login: Login) -> None:
    admin = login("admin")
    exported = admin.get("/api/tables/inventory/export.csv").text
    same = post_csv(admin, "inventory", exported)
    assert same.status_code == 200, same.text
    assert (same.json()["unchanged"], same.json()["updates"], same.json()["inserts"]) == (5, 0, 0)

    edited = exported.replace("Cap,0", "Cap,7") + lines('SCARF-01,Berlin,"Scarf, wool",3')
    result = post_csv(admin, "inventory", edited).json()
    assert result["applied"] is True
    assert (result["updates"], result["inserts"], result["unchanged"]) == (1, 1, 4)
    rows = inventory(admin)
    assert rows["CAP-01"]["values"]["on_hand"] == 7
    assert rows["CAP-01"]["version"] == 2
    assert rows["SCARF-01"]["values"] == {
        "sku": "SCARF-01",
        "warehouse": "Berlin",
        "name": "Scarf, wool",
        "on_hand": 3,
    }
    assert admin.get("/api/tables/inventory/export.csv").text == post_export(edited)
    assert "table.imported" in actions(admin)


def test_csv_round_trip_keeps_every_type(prices: TestClient) -> None:
    text = lines(
        "sku,currency,price,min_quantity,active",
        "A,EUR,1.5,10,true",
        "B,EUR,2,,false",
        "C,USD,,-3,",
        '"=HYPERLINK(""x"")",EUR,0.1,0,true',
    )
    assert post_csv(prices, "price_list", text).status_code == 200
    rows = prices.get("/api/tables/price_list/rows").json()["items"]
    by_sku = {r["values"]["sku"]: r["values"] for r in rows}
    assert by_sku["A"] == {
        "sku": "A",
        "currency": "EUR",
        "price": 1.5,
        "min_quantity": 10,
        "active": True,
    }
    assert by_sku["B"]["price"] == 2
    assert by_sku["B"]["min_quantity"] is None
    assert by_sku["C"]["active"] is None
    exported = prices.get("/api/tables/price_list/export.csv").text
    # a spreadsheet must not run a cell as a formula; the quote comes off again on import
    assert "'=HYPERLINK" in exported
    again = post_csv(prices, "price_list", exported).json()
    assert again["unchanged"] == 4
    assert '=HYPERLINK("x")' in {r["values"]["sku"] for r in rows}


def test_csv_import_takes_a_multipart_file(login: Login) -> None:
    admin = login("admin")
    text = lines("sku,warehouse,name,on_hand", "HAT-01,Berlin,Hat,4")
    response = admin.post(
        "/api/tables/inventory/import",
        files={"file": ("stock.csv", text.encode(), "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert inventory(admin)["HAT-01"]["values"]["on_hand"] == 4


def test_csv_import_without_a_file_field_is_422(login: Login) -> None:
    admin = login("admin")
    response = admin.post(
        "/api/tables/inventory/import",
        files={"other": ("stock.csv", b"sku\r\nX\r\n", "text/csv")},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_upload"


def test_csv_import_refuses_other_media_types(login: Login) -> None:
    response = login("admin").post("/api/tables/inventory/import", json={"sku": "X"})
    assert response.status_code == 415


BAD_STOCK = lines(
    "sku,warehouse,name,on_hand",
    "MUG-01,Berlin,Stepwise mug,99",  # 2: an update
    "HAT-01,Berlin,Hat,lots",  # 3: not a whole number
    "CAP-02,Leipzig,Cap,2",  # 4: an insert
    ",Leipzig,No key,1",  # 5: key missing
    "CAP-02,Leipzig,Cap again,3",  # 6: the key again
    "SOCK-01,Berlin",  # 7: too few fields
)
BAD_STOCK_ERRORS = [
    {"line": 3, "column": "on_hand", "message": "expected a whole number, got 'lots'"},
    {"line": 5, "column": "sku", "message": "a key column needs a value"},
    {"line": 6, "column": None, "message": "the key sku='CAP-02' is also on line 4"},
    {"line": 7, "column": None, "message": "expected 4 fields, found 2"},
]


def test_csv_dry_run_previews_changes_and_errors_by_line(login: Login) -> None:
    admin = login("admin")
    before = inventory(admin)
    response = post_csv(admin, "inventory", BAD_STOCK, dry_run="true")
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["dry_run"] is True
    assert preview["applied"] is False
    assert preview["errors"] == BAD_STOCK_ERRORS
    assert (preview["inserts"], preview["updates"], preview["deletes"]) == (1, 1, 0)
    assert preview["insert"][0]["line"] == 4
    assert preview["insert"][0]["key"] == {"sku": "CAP-02"}
    (update,) = preview["update"]
    assert update["line"] == 2
    assert (update["before"]["on_hand"], update["after"]["on_hand"]) == (120, 99)
    assert inventory(admin) == before


def test_csv_failed_import_writes_nothing(login: Login) -> None:
    admin = login("admin")
    before = inventory(admin)
    response = post_csv(admin, "inventory", BAD_STOCK)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_csv"
    assert error["details"] == BAD_STOCK_ERRORS
    assert inventory(admin) == before
    assert "table.imported" not in actions(admin)


def test_csv_replace_deletes_rows_not_in_the_file(login: Login) -> None:
    admin = login("admin")
    text = lines("sku,warehouse,name,on_hand", "MUG-01,Berlin,Stepwise mug,120")
    preview = post_csv(admin, "inventory", text, mode="replace", dry_run="true").json()
    assert preview["deletes"] == 4
    assert sorted(d["key"]["sku"] for d in preview["delete"]) == [
        "BAG-01",
        "CAP-01",
        "TEE-L",
        "TEE-M",
    ]
    assert len(inventory(admin)) == 5
    result = post_csv(admin, "inventory", text, mode="replace").json()
    assert (result["deletes"], result["unchanged"]) == (4, 1)
    assert set(inventory(admin)) == {"MUG-01"}


def test_csv_upsert_keeps_columns_the_file_lacks(login: Login) -> None:
    admin = login("admin")
    result = post_csv(admin, "inventory", lines("on_hand,sku", "5,TEE-M")).json()
    assert result["updates"] == 1
    assert inventory(admin)["TEE-M"]["values"] == {
        "sku": "TEE-M",
        "warehouse": "Berlin",
        "name": "T-shirt, M",
        "on_hand": 5,
    }


def test_csv_header_problems_are_reported_on_line_1(login: Login) -> None:
    admin = login("admin")
    response = post_csv(admin, "inventory", lines("name,colour,name", "Mug,red,Mug"))
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"line": 1, "column": "colour", "message": "is not a column of this table"},
        {"line": 1, "column": "name", "message": "appears twice in the header"},
        {"line": 1, "column": "sku", "message": "the header lacks this key column"},
    ]
    empty = post_csv(admin, "inventory", "", dry_run="true").json()
    assert empty["errors"][0]["line"] == 1


def test_csv_booleans_and_numbers_are_coerced_from_text(prices: TestClient) -> None:
    text = lines(
        "sku,currency,active,price,min_quantity",
        "A,EUR,TRUE,1e2, 3 ",
        "B,EUR,no,-0.5,+4",
        "C,EUR,1,.5,0",
        "D,EUR,Yes,7,1",
        "E,EUR,0,8,1",
        "F,EUR,maybe,nine,1.5",
    )
    response = post_csv(prices, "price_list", text, dry_run="true").json()
    assert response["errors"] == [
        {
            "line": 7,
            "column": "active",
            "message": "expected true/false, 1/0 or yes/no, got 'maybe'",
        },
        {"line": 7, "column": "price", "message": "expected a number, got 'nine'"},
        {"line": 7, "column": "min_quantity", "message": "expected a whole number, got '1.5'"},
    ]
    rows = {c["key"]["sku"]: c["after"] for c in response["insert"]}
    assert [rows[s]["active"] for s in "ABCDE"] == [True, False, True, True, False]
    assert [rows[s]["price"] for s in "ABCDE"] == [100.0, -0.5, 0.5, 7, 8]
    assert [rows[s]["min_quantity"] for s in "ABCDE"] == [3, 4, 0, 1, 1]


def test_csv_semicolons_and_a_byte_order_mark_are_understood(login: Login) -> None:
    admin = login("admin")
    text = "\ufeff" + lines("sku;warehouse;name;on_hand", "MUG-01;Berlin;Stepwise mug;80")
    result = post_csv(admin, "inventory", text).json()
    assert result["updates"] == 1
    assert inventory(admin)["MUG-01"]["values"]["on_hand"] == 80


def test_csv_that_is_not_utf8_is_422(login: Login) -> None:
    admin = login("admin")
    data = "sku,warehouse,name,on_hand\r\nMUG-01,Köln,Mug,1\r\n".encode("latin-1")
    response = admin.post(
        "/api/tables/inventory/import", content=data, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["line"] == 2


def test_csv_import_over_the_size_limit_is_413(settings: Settings) -> None:
    app = create_app(with_settings(settings, max_upload_bytes=100))
    try:
        with TestClient(app) as client:
            login = client.post(
                "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            text = lines(
                "sku,warehouse,name,on_hand", *[f"S-{i},Berlin,Sock,{i}" for i in range(20)]
            )
            assert post_csv(client, "inventory", text).status_code == 413
            multipart = client.post(
                "/api/tables/inventory/import", files={"file": ("s.csv", text.encode(), "text/csv")}
            )
            assert multipart.status_code == 413
            assert client.get("/api/tables/inventory").json()["row_count"] == 5
    finally:
        app.state.engine.dispose()


# --- cell coercion (no database) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("string", "=1+1"),
        ("string", "-x"),
        ("string", "'quoted'"),
        ("string", "plain"),
        ("integer", -12),
        ("number", 0.1),
        ("number", 1e-05),
        ("boolean", False),
    ],
)
def test_cells_survive_format_then_parse(kind: str, value: Any) -> None:
    text = format_cell(value)
    (cell,) = next(csv.reader(io.StringIO(text)))
    assert parse_cell(kind, cell) == value


def test_tables_nul_characters_are_422_not_a_database_error(prices: TestClient) -> None:
    """PostgreSQL cannot hold NUL in text; each way one could arrive is refused up front."""
    row = prices.post(
        "/api/tables/price_list/rows", json={"values": {"sku": "A\x00", "currency": "EUR"}}
    )
    assert row.status_code == 422
    assert row.json()["error"]["details"][0]["column"] == "sku"
    assert prices.get("/api/tables/price_list/rows", params={"q": "a\x00"}).status_code == 422
    assert prices.get("/api/tables/price%00list").status_code == 422
    imported = post_csv(prices, "price_list", lines("sku,currency", "A\x00,EUR"), dry_run="true")
    assert imported.json()["errors"][0]["line"] == 2
    described = prices.post("/api/tables", json={**PRICES, "name": "t2", "description": "\x00"})
    assert described.status_code == 422


# --- table steps in workflows ---------------------------------------------------------------


def table_step(op: str, values: dict[str, str], *, each: str | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {
        "id": "write",
        "type": "table",
        "name": "Write",
        "table": "inventory",
        "op": op,
        "key": {"sku": "item.sku" if each else "'MUG-01'"},
        "values": values,
    }
    if each:
        step["each"] = each
    return {
        "format": 1,
        "key": "stock-writer",
        "name": "Stock writer",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            step,
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "write"},
            {"id": "e2", "from": "write", "to": "end"},
        ],
    }


def run_writer(admin: TestClient, flow: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    publish(admin, flow)
    started = admin.post(f"/api/workflows/{flow['key']}/instances", json={"data": data})
    assert started.status_code == 201, started.text
    instance: dict[str, Any] = started.json()
    return instance


def test_a_table_step_writes_by_the_column_types_as_the_api_does(login: Login) -> None:
    admin = login("admin")
    instance = run_writer(admin, table_step("update", {"on_hand": "'lots'"}), {})
    (incident,) = instance["incidents"]
    assert incident["code"] == "table_failed"
    assert "on_hand" in incident["message"]
    assert inventory(admin)["MUG-01"]["values"]["on_hand"] == 120


def test_a_table_step_over_several_rows_writes_all_or_nothing(login: Login) -> None:
    admin = login("admin")
    flow = table_step("insert", {"name": "item.name", "on_hand": "item.on_hand"}, each="items")
    items = [
        {"sku": "NEW-1", "name": "New one", "on_hand": 3},
        {"sku": "NEW-2", "name": "New two", "on_hand": "three"},
    ]
    instance = run_writer(admin, flow, {"items": items})
    (incident,) = instance["incidents"]
    assert incident["code"] == "table_failed"
    assert not {"NEW-1", "NEW-2"} & set(inventory(admin))
