"""Documents: uploads streamed to disk under their SHA-256, checked for size and type on the way.

An upload is read from the request body chunk by chunk through python-multipart's
streaming parser, written to a temporary file beside the store (so that the final
``os.replace`` is atomic) and hashed as it goes. Size and type are checked while
the bytes arrive: the first byte over the limit, a declared type we do not accept,
first bytes that contradict the declared type or text that is not UTF-8 stop the
upload there, and the temporary file is removed.

A file may be shared by several documents (the same content uploaded twice), so
deleting a document (``forget``) removes its file only when no other row has that
content. The row goes first, committed, and the file after: a failure in between
leaves a file nobody refers to, never a document whose content is gone. Storing a
content with its new row and checking a content is unreferenced before unlinking
it hold the same lock (``hold_content``), so an upload of the same bytes at that
moment cannot find the file present, commit its row, and then lose the file.

Rejected designs: FastAPI's ``UploadFile`` spools the whole body before the route
runs, so a limit could only be checked after the fact (and without a
Content-Length, not at all); storing files under the document id would keep one
copy per upload of the same content; a reference count column would be one more
thing to keep right, where counting the rows with that digest (indexed) is exact.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from anyio import to_thread
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.db.models import Document
from app.errors import ApiError
from app.services.records import audit
from app.settings import Settings

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger("stepwise.documents")

OOXML_PREFIX = "application/vnd.openxmlformats-officedocument."
TEXT_TYPES = frozenset({"text/plain", "text/csv", "application/json"})
ACCEPTED_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "application/json",
    "application/msword",
    "application/vnd.ms-excel",
    "application/zip",
    f"{OOXML_PREFIX}*",
)
# Names some browsers send for accepted types (Windows calls a .zip x-zip-compressed).
ALIASES = {"application/x-zip-compressed": "application/zip", "image/jpg": "image/jpeg"}

_ZIP = (b"PK\x03\x04",)
_OLE2 = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)  # the container of .doc and .xls
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/zip": (*_ZIP, b"PK\x05\x06"),  # the second: an empty archive
    "application/msword": _OLE2,
    "application/vnd.ms-excel": _OLE2,
}
HEAD_BYTES = 12  # enough for every signature, and for RIFF....WEBP

# Room for the multipart framing and the small fields around the file.
FORM_OVERHEAD = 64 * 1024
MAX_FIELD_BYTES = 100
FIELDS = frozenset({"task_id"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def accepted(content_type: str) -> bool:
    return content_type in ACCEPTED_TYPES or (
        content_type.startswith(OOXML_PREFIX) and len(content_type) > len(OOXML_PREFIX)
    )


def normalize_type(declared: str) -> str:
    """``Text/CSV; charset=utf-8`` -> ``text/csv``; known aliases to their standard name."""
    kind = declared.split(";", 1)[0].strip().lower()
    return ALIASES.get(kind, kind)


def signature_matches(content_type: str, head: bytes) -> bool:
    """Whether the first bytes fit the type, for the types whose signature we know."""
    if content_type == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if content_type.startswith(OOXML_PREFIX):
        return head.startswith(_ZIP)
    known = SIGNATURES.get(content_type)
    return known is None or head.startswith(known)


def sanitize_filename(name: str) -> str:
    """The name a person would recognise, safe to show and to send back in a header.

    Only the last path segment is kept (a client may send ``C:\\Users\\..\\x.pdf``),
    control and format characters are dropped (these include the right-to-left
    override used to disguise ``gpj.exe`` as ``exe.jpg``), and the name is cut to
    255 characters keeping its extension.
    """
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp"})
    name = name.strip()
    if name in {"", ".", ".."}:
        return "document"
    if len(name) > 255:
        stem, ext = os.path.splitext(name)
        name = stem[: 255 - len(ext)] + ext if 0 < len(ext) <= 16 else name[:255]
    return name


def too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the file is over the limit of {limit} bytes")


def unsupported(message: str, content_type: str) -> ApiError:
    return ApiError(
        415,
        "unsupported_type",
        message,
        {"content_type": content_type, "accepted": list(ACCEPTED_TYPES)},
    )


def invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_request", message)


class DocumentStore:
    """Files under ``root/<sha[:2]>/<sha>``: each distinct content once, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of(cls, settings: Settings) -> DocumentStore:
        """The service's store: ``<data dir>/documents``."""
        return cls(settings.data_dir / "documents")

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def temporary(self) -> tuple[Path, BinaryIO]:
        """A new temporary file on the store's own file system (``os.replace`` needs that)."""
        folder = self.root / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix="upload-")
        return Path(name), os.fdopen(fd, "wb")

    def keep(self, upload: Upload) -> Path:
        """Move a received upload into place; if that content is stored already, drop the copy."""
        if upload.temp_path is None:
            raise RuntimeError("this upload was kept or discarded already")
        target = self.path_for(upload.sha256)
        if target.is_file() and target.stat().st_size == upload.size:
            upload.discard()
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(upload.temp_path, target)
        upload.temp_path = None
        return target

    def remove(self, sha256: str) -> bool:
        """Unlink a content's file; a failure is logged, not raised. Whether it was removed.

        Its folder stays even when empty: another content under the same prefix may be
        on its way into it (``keep`` makes the folder, then moves the file in).
        """
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            log.warning("document content %s was already gone from storage", path)
            return False
        except OSError:
            log.exception("could not remove the document content %s from storage", path)
            return False
        return True


def _content_lock(sha256: str) -> int:
    """The advisory lock for one content (64 bits of its digest, as a signed bigint)."""
    return int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)


def hold_content(session: Session, sha256: str) -> None:
    """Hold this content until the transaction ends: storing it with a new row and checking
    it is unreferenced before unlinking it must not interleave.

    On SQLite every writing transaction holds the database's write lock already (``BEGIN
    IMMEDIATE``); on PostgreSQL this takes a transaction-scoped advisory lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_content_lock(sha256))))


def forget(
    session: Session, *, store: DocumentStore, document: Document, actor: str, now: datetime
) -> bool:
    """Delete a document, audited on its instance (``document.deleted``), and commit; then
    remove its file if no other document has the same content. Whether the file went.

    Not removing the file (another row has the content, or the unlink failed, which is
    logged) leaves the deletion as it is: the document is gone either way.
    """
    audit(
        session,
        "document.deleted",
        actor=actor,
        instance_id=document.instance_id,
        task_id=document.task_id,
        now=now,
        document_id=document.id,
        filename=document.filename,
        content_type=document.content_type,
        size=document.size,
        sha256=document.sha256,
    )
    session.delete(document)
    session.commit()
    hold_content(session, document.sha256)
    shared = session.scalar(select(exists().where(Document.sha256 == document.sha256)))
    removed = not shared and store.remove(document.sha256)
    session.commit()  # ends the transaction, and with it the hold on the content
    return removed


def release(session: Session, store: DocumentStore, digests: set[str]) -> int:
    """Remove the files of these contents that no document refers to any more (their rows
    are gone, committed), each checked under its hold; commits. How many files went."""
    removed = 0
    for sha256 in sorted(digests):
        hold_content(session, sha256)
        if not session.scalar(select(exists().where(Document.sha256 == sha256))):
            removed += store.remove(sha256)
    session.commit()
    return removed


@dataclass
class Upload:
    """A checked file, waiting in a temporary file until the store keeps it (or it is discarded)."""

    filename: str
    content_type: str
    size: int
    sha256: str
    temp_path: Path | None
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        if self.temp_path is not None:
            self.temp_path.unlink(missing_ok=True)
            self.temp_path = None


class _IncomingFile:
    """The file part as it arrives: hashed, counted, its type checked on its first bytes."""

    def __init__(self, store: DocumentStore, *, filename: str, declared: str, limit: int) -> None:
        self.filename = filename
        self.declared = declared
        self.content_type: str | None = None  # settled once the first bytes are in
        self.limit = limit
        self.size = 0
        self.head = b""
        self.hash = hashlib.sha256()
        self.utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self.is_utf8 = True
        self.path, self.file = store.temporary()

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise too_large(self.limit)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        self.hash.update(data)
        self.file.write(data)
        self._decode(data, final=False)
        if self.content_type is None and len(self.head) >= HEAD_BYTES:
            self._settle_type()

    def finish(self) -> str:
        """Close the file and return the content type it is stored with."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if self.size == 0:
            raise invalid("the file is empty")
        self._decode(b"", final=True)
        if self.content_type is None:
            self._settle_type()
        return self.content_type or self.declared

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)

    def _decode(self, data: bytes, *, final: bool) -> None:
        if not self.is_utf8:
            return
        try:
            self.utf8.decode(data, final=final)
        except UnicodeDecodeError:
            self.is_utf8 = False
            if self.content_type in TEXT_TYPES:
                raise self._not_text() from None

    def _settle_type(self) -> None:
        kind = self.declared
        if (
            kind == "application/vnd.ms-excel"
            and self.filename.lower().endswith(".csv")
            and not signature_matches(kind, self.head)
        ):
            # Windows with Excel installed labels every .csv file this way.
            kind = "text/csv"
        if not signature_matches(kind, self.head):
            raise unsupported(
                f"the file's content does not match its declared type {kind} "
                "(its first bytes are not that format's signature)",
                kind,
            )
        self.content_type = kind
        if kind in TEXT_TYPES and not self.is_utf8:
            raise self._not_text()

    def _not_text(self) -> ApiError:
        return unsupported(
            f"a {self.content_type} document must be UTF-8 text, and this file is not",
            self.content_type or self.declared,
        )


class _FormReader:
    """Feeds python-multipart and acts on its callbacks: one file part ``file``, small fields."""

    def __init__(self, boundary: bytes, store: DocumentStore, limit: int) -> None:
        self.store = store
        self.limit = limit
        self.received = 0
        self.ended = False
        self.fields: dict[str, str] = {}
        self.file: _IncomingFile | None = None
        self._headers: dict[bytes, bytes] = {}
        self._header_name = b""
        self._header_value = b""
        self._field: tuple[str, bytearray] | None = None
        self._in_file = False
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }
        self.parser = MultipartParser(boundary, callbacks)

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limit + FORM_OVERHEAD:
            raise too_large(self.limit)
        try:
            self.parser.write(chunk)
        except FormParserError as exc:
            raise invalid("the multipart/form-data body is not valid") from exc

    def finish(self) -> Upload:
        if not self.ended:
            raise invalid("the multipart/form-data body ended early")
        incoming = self.file
        if incoming is None:
            raise invalid("send the document in a form field named 'file'")
        content_type = incoming.finish()
        upload = Upload(
            filename=incoming.filename,
            content_type=content_type,
            size=incoming.size,
            sha256=incoming.hash.hexdigest(),
            temp_path=incoming.path,
            fields=dict(self.fields),
        )
        self.file = None  # the upload owns the temporary file now
        return upload

    def discard(self) -> None:
        if self.file is not None:
            self.file.discard()
            self.file = None

    # python-multipart callbacks

    def _part_begin(self) -> None:
        self._headers = {}
        self._field = None
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            if name not in FIELDS:
                raise invalid(
                    f"unexpected form field {name!r}; send 'file' and optionally 'task_id'"
                )
            if name in self.fields:
                raise invalid(f"the form field {name!r} was sent twice")
            self._field = (name, bytearray())
            return
        if name != "file":
            raise invalid(f"send the document in a form field named 'file', not {name!r}")
        if self.file is not None:
            raise invalid("send one file per upload")
        # RFC 7578: a part without a Content-Type is text/plain.
        declared = normalize_type(
            self._headers.get(b"content-type", b"text/plain").decode("latin-1")
        )
        if not accepted(declared):
            raise unsupported(
                f"documents of type {declared or '(none)'} are not accepted; "
                "send a PDF, an image (PNG, JPEG, GIF, WebP), text, CSV, JSON, "
                "a Word or Excel file or a ZIP archive",
                declared,
            )
        self.file = _IncomingFile(
            self.store,
            filename=sanitize_filename(options[b"filename"].decode("utf-8", "replace")),
            declared=declared,
            limit=self.limit,
        )
        self._in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file and self.file is not None:
            self.file.write(data[start:end])
        elif self._field is not None:
            name, value = self._field
            value += data[start:end]
            if len(value) > MAX_FIELD_BYTES:
                raise invalid(f"the form field {name!r} is too long")

    def _part_end(self) -> None:
        if self._field is not None:
            name, value = self._field
            try:
                self.fields[name] = value.decode("utf-8")
            except UnicodeDecodeError:
                raise invalid(f"the form field {name!r} is not UTF-8 text") from None
            self._field = None
        self._in_file = False

    def _end(self) -> None:
        self.ended = True


async def receive_upload(
    chunks: AsyncIterator[bytes], *, content_type: str, store: DocumentStore, limit: int
) -> Upload:
    """Read a multipart/form-data body into a checked ``Upload`` (in a temporary file).

    Raises ``ApiError`` 413 ``too_large`` as soon as the file passes ``limit`` bytes,
    415 ``unsupported_type`` for a type we do not accept or content that does not
    fit its type, 422 for a malformed form; nothing is left on disk then.
    The caller keeps the upload with ``store.keep`` or drops it with ``discard``.
    """
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise invalid("send the document as multipart/form-data, in a field named 'file'")
    try:
        reader = _FormReader(boundary, store, limit)
    except FormParserError as exc:
        raise invalid("the multipart boundary is not valid") from exc
    try:
        async for chunk in chunks:
            if chunk:
                # Parsing, hashing and writing are blocking work: off the event loop.
                await to_thread.run_sync(reader.feed, chunk)
        return await to_thread.run_sync(reader.finish)
    finally:
        reader.discard()
