"""Documents and instance comments: upload, list, download, delete, limits, types and who may
see them."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.errors import ApiError
from app.services.documents import DocumentStore, receive_upload, sanitize_filename
from app.settings import Settings

LIMIT = 64 * 1024
BOUNDARY = "stepwise-test-boundary"
ORDER = {
    "order_id": "A-1",
    "customer": {"name": "Ada", "email": "ada@example.com"},
    "items": [{"sku": "MUG-01", "quantity": 1}],
    "total": 20,
    "payment": {"method": "invoice"},
}
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
ZIP = b"PK\x03\x04" + b"\x00" * 32
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32

Login = Callable[[str], TestClient]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, max_upload_bytes=LIMIT)


@pytest.fixture
def instance_id(login: Login) -> str:
    """An order paid by invoice: sam starts it, fiona gets its capture_manually task."""
    response = login("sam").post("/api/workflows/order-management/instances", json={"data": ORDER})
    assert response.status_code == 201, response.text
    identifier: str = response.json()["id"]
    return identifier


def upload(
    client: TestClient,
    instance_id: str,
    content: bytes,
    *,
    filename: str = "invoice.pdf",
    content_type: str = "application/pdf",
    data: dict[str, str] | None = None,
) -> Any:
    return client.post(
        f"/api/instances/{instance_id}/documents",
        files={"file": (filename, io.BytesIO(content), content_type)},
        data=data,
    )


def multipart(content: bytes, *, filename: str, content_type: str) -> bytes:
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    )
    return head.encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def upload_chunked(client: TestClient, instance_id: str, body: bytes) -> Any:
    """Send a body without Content-Length (chunked), so only the route can count its size."""

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    url = f"/api/instances/{instance_id}/documents"
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    request = client.build_request("POST", url, content=chunks(), headers=headers)
    assert "content-length" not in request.headers
    return client.post(url, content=chunks(), headers=headers)


def stored_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "documents"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def stored_path(settings: Settings, document: dict[str, Any]) -> Path:
    sha256: str = document["sha256"]
    return settings.data_dir / "documents" / sha256[:2] / sha256


def deleted_events(client: TestClient, instance_id: str) -> list[dict[str, Any]]:
    history = client.get(f"/api/instances/{instance_id}/history").json()
    return [e for e in history if e["action"] == "document.deleted"]


def test_upload_list_and_download_round_trip(
    login: Login, instance_id: str, settings: Settings
) -> None:
    sam = login("sam")
    response = upload(sam, instance_id, PDF, filename="Rechnung März.pdf")
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["instance_id"] == instance_id
    assert document["task_id"] is None
    assert document["filename"] == "Rechnung März.pdf"
    assert document["content_type"] == "application/pdf"
    assert document["size"] == len(PDF)
    assert document["uploaded_by"] == "sam"

    listed = sam.get(f"/api/instances/{instance_id}/documents")
    assert listed.status_code == 200
    assert listed.json() == [document]

    download = sam.get(f"/api/documents/{document['id']}")
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf" in disposition
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["cache-control"] == "private, no-store"

    path = settings.data_dir / "documents" / document["sha256"][:2] / document["sha256"]
    assert stored_files(settings) == [path]

    history = sam.get(f"/api/instances/{instance_id}/history").json()
    uploaded = [e for e in history if e["action"] == "document.uploaded"]
    assert len(uploaded) == 1
    assert uploaded[0]["actor"] == "sam"
    assert uploaded[0]["details"]["document_id"] == document["id"]


def test_upload_same_content_twice_stores_one_file_and_two_rows(
    login: Login, instance_id: str, settings: Settings
) -> None:
    sam = login("sam")
    first = upload(sam, instance_id, PDF, filename="a.pdf").json()
    second = upload(sam, instance_id, PDF, filename="b.pdf").json()
    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"]
    listed = sam.get(f"/api/instances/{instance_id}/documents").json()
    assert [d["filename"] for d in listed] == ["a.pdf", "b.pdf"]
    assert len(stored_files(settings)) == 1
    assert sam.get(f"/api/documents/{second['id']}").content == PDF


def test_upload_over_the_limit_is_refused_and_leaves_nothing(
    login: Login, instance_id: str, settings: Settings
) -> None:
    sam = login("sam")
    response = upload(
        sam, instance_id, b"x" * (LIMIT + 1), filename="big.txt", content_type="text/plain"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert sam.get(f"/api/instances/{instance_id}/documents").json() == []
    assert stored_files(settings) == []


def test_upload_over_the_limit_without_content_length_is_refused_and_leaves_nothing(
    login: Login, instance_id: str, settings: Settings
) -> None:
    sam = login("sam")
    body = multipart(b"x" * (LIMIT + 1), filename="big.txt", content_type="text/plain")
    response = upload_chunked(sam, instance_id, body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert sam.get(f"/api/instances/{instance_id}/documents").json() == []
    assert stored_files(settings) == []


def test_upload_of_exactly_the_limit_is_accepted(
    login: Login, instance_id: str, settings: Settings
) -> None:
    body = multipart(b"x" * LIMIT, filename="full.txt", content_type="text/plain")
    response = upload_chunked(login("sam"), instance_id, body)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == LIMIT
    assert len(stored_files(settings)) == 1


def test_receive_upload_stops_reading_as_soon_as_the_limit_is_passed(tmp_path: Path) -> None:
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        yield multipart(b"", filename="big.txt", content_type="text/plain").split(b"\r\n--")[0]
        for _ in range(10_000):  # 10 MB more, if nothing stopped reading
            consumed += 1
            yield b"x" * 1024

    store = DocumentStore(tmp_path / "documents")
    with pytest.raises(ApiError) as refused:
        asyncio.run(
            receive_upload(
                body(),
                content_type=f"multipart/form-data; boundary={BOUNDARY}",
                store=store,
                limit=10_000,
            )
        )
    assert refused.value.status == 413
    assert consumed == 10
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("image/png", b"just some text, not a picture"),
        ("application/pdf", ZIP),
        ("application/x-msdownload", b"MZ\x90\x00\x03\x00\x00\x00"),
        ("application/octet-stream", PDF),
        ("text/html", b"<script>alert(1)</script>"),
        ("text/plain", b"caf\xe9 is latin-1, not UTF-8"),
        ("application/json", b'{"a": "\xff"}'),
        ("application/msword", ZIP),
    ],
)
def test_upload_with_an_unaccepted_or_mismatched_type_is_refused(
    login: Login, instance_id: str, settings: Settings, content_type: str, content: bytes
) -> None:
    sam = login("sam")
    response = upload(sam, instance_id, content, filename="file", content_type=content_type)
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_type"
    assert content_type in error["message"] or "UTF-8" in error["message"]
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    ("content_type", "content", "stored_as"),
    [
        ("image/png", PNG, "image/png"),
        ("image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 16, "image/jpeg"),
        ("image/gif", b"GIF89a" + b"\x00" * 16, "image/gif"),
        ("image/webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("text/csv; charset=utf-8", "sku;menge\nMUG-01;1\nÄpfel;2\n".encode(), "text/csv"),
        ("application/json", b'{"ok": true}', "application/json"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ZIP,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("application/vnd.ms-excel", OLE2, "application/vnd.ms-excel"),
        ("application/x-zip-compressed", ZIP, "application/zip"),
    ],
)
def test_upload_of_an_accepted_type_is_stored_with_its_type(
    login: Login, instance_id: str, content_type: str, content: bytes, stored_as: str
) -> None:
    response = upload(login("sam"), instance_id, content, filename="f", content_type=content_type)
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == stored_as


def test_upload_of_a_csv_labelled_as_excel_by_windows_is_stored_as_csv(
    login: Login, instance_id: str
) -> None:
    sam = login("sam")
    csv = b"sku,quantity\nMUG-01,1\n"
    stored = upload(
        sam, instance_id, csv, filename="stock.csv", content_type="application/vnd.ms-excel"
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["content_type"] == "text/csv"
    refused = upload(
        sam, instance_id, csv, filename="stock.xls", content_type="application/vnd.ms-excel"
    )
    assert refused.status_code == 415


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\invoice.pdf", "invoice.pdf"),
        ("bad\x00na\x1bme\r\n.pdf", "badname.pdf"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("  ", "document"),
        ("..", "document"),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ],
)
def test_sanitize_filename_keeps_a_safe_basename(sent: str, kept: str) -> None:
    assert sanitize_filename(sent) == kept


def test_upload_sanitises_the_filename(login: Login, instance_id: str) -> None:
    response = upload(login("sam"), instance_id, PDF, filename="../../secret/\u202einvoice.pdf")
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "invoice.pdf"


def test_upload_may_name_a_task_of_the_instance(
    login: Login, instance_id: str, settings: Settings
) -> None:
    fiona = login("fiona")
    task_id = fiona.get("/api/tasks").json()["items"][0]["id"]
    response = upload(fiona, instance_id, PDF, data={"task_id": task_id})
    assert response.status_code == 201, response.text
    assert response.json()["task_id"] == task_id
    assert response.json()["uploaded_by"] == "fiona"

    unknown = upload(fiona, instance_id, PNG, content_type="image/png", data={"task_id": "nope"})
    assert unknown.status_code == 422
    assert len(stored_files(settings)) == 1


def test_upload_must_be_a_form_with_one_file(login: Login, instance_id: str) -> None:
    sam = login("sam")
    url = f"/api/instances/{instance_id}/documents"
    assert sam.post(url, json={"file": "x"}).status_code == 422
    assert sam.post(url, data={"task_id": "x"}, files={}).status_code == 422
    no_file = sam.post(url, files={"task_id": (None, "x")})
    assert no_file.status_code == 422
    assert "'file'" in no_file.json()["error"]["message"]
    empty = upload(sam, instance_id, b"", content_type="text/plain")
    assert empty.status_code == 422
    two = sam.post(
        url,
        files=[
            ("file", ("a.pdf", io.BytesIO(PDF), "application/pdf")),
            ("file", ("b.pdf", io.BytesIO(PDF), "application/pdf")),
        ],
    )
    assert two.status_code == 422


def test_documents_are_hidden_from_people_outside_the_instance(
    login: Login, instance_id: str
) -> None:
    document = upload(login("sam"), instance_id, PDF).json()
    walt = login("walt")
    assert walt.get(f"/api/instances/{instance_id}/documents").status_code == 404
    assert walt.get(f"/api/documents/{document['id']}").status_code == 404
    assert upload(walt, instance_id, PDF).status_code == 404
    for person in ("sam", "fiona", "admin"):
        client = login(person)
        assert client.get(f"/api/instances/{instance_id}/documents").json() == [document]
        assert client.get(f"/api/documents/{document['id']}").content == PDF


def test_documents_need_a_login(anonymous: TestClient, login: Login, instance_id: str) -> None:
    document = upload(login("sam"), instance_id, PDF).json()
    assert anonymous.get(f"/api/instances/{instance_id}/documents").status_code == 401
    assert anonymous.get(f"/api/documents/{document['id']}").status_code == 401
    assert anonymous.delete(f"/api/documents/{document['id']}").status_code == 401
    assert upload(anonymous, instance_id, PDF).status_code == 401
    assert anonymous.get(f"/api/instances/{instance_id}/comments").status_code == 401


def test_unknown_instance_or_document_is_not_found(login: Login, settings: Settings) -> None:
    sam = login("sam")
    assert upload(sam, "missing", PDF).status_code == 404
    assert sam.get("/api/instances/missing/documents").status_code == 404
    assert sam.get("/api/documents/missing").status_code == 404
    assert sam.delete("/api/documents/missing").status_code == 404
    assert sam.get("/api/instances/missing/comments").status_code == 404
    assert sam.post("/api/instances/missing/comments", json={"body": "hi"}).status_code == 404
    assert stored_files(settings) == []


def test_instance_comments_round_trip(login: Login, instance_id: str) -> None:
    sam, fiona = login("sam"), login("fiona")
    url = f"/api/instances/{instance_id}/comments"
    first = sam.post(url, json={"body": "Customer called, invoice to the new address."})
    assert first.status_code == 201, first.text
    assert first.json()["author"] == "sam"
    assert first.json()["task_id"] is None
    assert fiona.post(url, json={"body": "Noted."}).status_code == 201
    comments = fiona.get(url).json()
    assert [(c["author"], c["body"]) for c in comments] == [
        ("sam", "Customer called, invoice to the new address."),
        ("fiona", "Noted."),
    ]
    actions = [e["action"] for e in sam.get(f"/api/instances/{instance_id}/history").json()]
    assert actions.count("comment.added") == 2


def test_an_instance_lists_its_tasks_comments_too_named_by_task(
    login: Login, instance_id: str
) -> None:
    sam, fiona = login("sam"), login("fiona")
    url = f"/api/instances/{instance_id}/comments"
    assert sam.post(url, json={"body": "Invoice to the new address."}).status_code == 201
    (task,) = fiona.get("/api/tasks", params={"scope": "roles"}).json()["items"]
    on_task = fiona.post(f"/api/tasks/{task['id']}/comments", json={"body": "Not paid yet."})
    assert on_task.status_code == 201, on_task.text
    listed = sam.get(url).json()
    assert [(c["author"], c["task_name"], c["body"]) for c in listed] == [
        ("sam", None, "Invoice to the new address."),
        ("fiona", "Capture payment manually", "Not paid yet."),
    ]
    assert listed[1]["task_id"] == task["id"]
    # the task's own list stays the task's
    assert [c["body"] for c in fiona.get(f"/api/tasks/{task['id']}/comments").json()] == [
        "Not paid yet."
    ]


def test_instance_comments_are_checked(login: Login, instance_id: str) -> None:
    sam, walt = login("sam"), login("walt")
    url = f"/api/instances/{instance_id}/comments"
    assert sam.post(url, json={"body": ""}).status_code == 422
    assert sam.post(url, json={"body": "x" * 10_001}).status_code == 422
    assert walt.post(url, json={"body": "let me in"}).status_code == 404
    assert walt.get(url).status_code == 404
    assert sam.get(url).json() == []


# --- deleting -------------------------------------------------------------------------------


def test_delete_by_the_uploader_removes_the_document_and_records_it(
    login: Login, instance_id: str, settings: Settings
) -> None:
    sam = login("sam")
    document = upload(sam, instance_id, PDF, filename="wrong.pdf").json()
    kept = upload(sam, instance_id, PNG, filename="right.png", content_type="image/png").json()

    response = sam.delete(f"/api/documents/{document['id']}")
    assert response.status_code == 204, response.text
    assert response.content == b""

    assert sam.get(f"/api/instances/{instance_id}/documents").json() == [kept]
    gone = sam.get(f"/api/documents/{document['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
    assert stored_files(settings) == [stored_path(settings, kept)]

    (event,) = deleted_events(sam, instance_id)
    assert event["actor"] == "sam"
    assert event["details"] == {
        "document_id": document["id"],
        "filename": "wrong.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": document["sha256"],
    }

    again = sam.delete(f"/api/documents/{document['id']}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"


def test_delete_keeps_a_file_another_document_shares_until_the_last_one_goes(
    login: Login, instance_id: str, settings: Settings
) -> None:
    sam, fiona = login("sam"), login("fiona")
    first = upload(sam, instance_id, PDF, filename="a.pdf").json()
    second = upload(fiona, instance_id, PDF, filename="b.pdf").json()
    path = stored_path(settings, first)
    assert stored_files(settings) == [path]

    assert sam.delete(f"/api/documents/{first['id']}").status_code == 204
    assert path.is_file()
    assert fiona.get(f"/api/documents/{second['id']}").content == PDF

    assert fiona.delete(f"/api/documents/{second['id']}").status_code == 204
    assert not path.exists()
    assert stored_files(settings) == []

    again = upload(sam, instance_id, PDF, filename="c.pdf").json()
    assert sam.get(f"/api/documents/{again['id']}").content == PDF


def test_delete_is_refused_to_others_who_see_the_instance_and_hidden_from_the_rest(
    login: Login, instance_id: str, settings: Settings
) -> None:
    document = upload(login("sam"), instance_id, PDF).json()
    fiona = login("fiona")  # sees sam's order through her capture task
    assert fiona.get(f"/api/documents/{document['id']}").status_code == 200

    refused = fiona.delete(f"/api/documents/{document['id']}")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "forbidden"
    assert "uploaded" in error["message"]

    hidden = login("walt").delete(f"/api/documents/{document['id']}")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"

    assert login("sam").get(f"/api/instances/{instance_id}/documents").json() == [document]
    assert stored_files(settings) == [stored_path(settings, document)]
    assert deleted_events(login("admin"), instance_id) == []


def test_delete_on_a_finished_instance_is_for_admins_only(
    login: Login, instance_id: str, settings: Settings
) -> None:
    sam, admin = login("sam"), login("admin")
    document = upload(sam, instance_id, PDF).json()
    cancelled = sam.post(f"/api/instances/{instance_id}/cancel", json={"reason": "duplicate"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    refused = sam.delete(f"/api/documents/{document['id']}")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "forbidden"
    assert "cancelled" in error["message"]
    assert "admin" in error["message"]

    assert admin.delete(f"/api/documents/{document['id']}").status_code == 204
    assert sam.get(f"/api/instances/{instance_id}/documents").json() == []
    assert stored_files(settings) == []
    (event,) = deleted_events(sam, instance_id)
    assert event["actor"] == "admin"


def test_delete_goes_through_when_the_file_cannot_be_removed(
    login: Login, instance_id: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    sam = login("sam")
    document = upload(sam, instance_id, PDF).json()
    path = stored_path(settings, document)
    path.unlink()
    path.mkdir()  # unlinking a folder fails, as a file on a read-only disk would
    (path / "inside").write_bytes(b"x")

    with caplog.at_level(logging.ERROR, logger="stepwise.documents"):
        response = sam.delete(f"/api/documents/{document['id']}")
    assert response.status_code == 204, response.text
    assert sam.get(f"/api/instances/{instance_id}/documents").json() == []
    assert len(deleted_events(sam, instance_id)) == 1
    assert [r.getMessage() for r in caplog.records if r.name == "stepwise.documents"] == [
        f"could not remove the document content {path} from storage"
    ]


def test_store_remove_reports_whether_the_file_went(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path / "documents")
    sha256 = "ab" * 32
    path = store.path_for(sha256)
    path.parent.mkdir(parents=True)
    path.write_bytes(PDF)
    assert store.remove(sha256) is True
    assert not path.exists()
    assert path.parent.is_dir()  # the prefix folder stays for the next content under it
    assert store.remove(sha256) is False
