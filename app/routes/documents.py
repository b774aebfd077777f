"""Documents and comments on an instance as a whole.

Everything here is for people who can see the instance (``instance_visible``); to
anyone else an instance or document is simply not there (404), never forbidden.
Deleting a document is narrower: its uploader while the instance runs, an admin always;
anyone else who can see it is refused (403).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from app import clock
from app.db.models import Comment, Document, Instance, Task, new_id
from app.deps import CurrentUser, Principal, SessionDep, SettingsDep
from app.errors import ApiError, forbidden, not_found
from app.routes.instances import comment_out, visible_instance
from app.schemas import ERRORS, CommentIn, CommentOut, ErrorResponse
from app.services.access import instance_visible
from app.services.documents import (
    ACCEPTED_TYPES,
    DocumentStore,
    Upload,
    forget,
    hold_content,
    receive_upload,
)
from app.services.records import audit

log = logging.getLogger("stepwise")

router = APIRouter(prefix="/api", tags=["documents"], responses=ERRORS)


class DocumentOut(BaseModel):
    """A stored document's metadata; its content is at ``GET /api/documents/{id}``."""

    id: str
    instance_id: str
    task_id: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str | None
    uploaded_at: datetime


def document_store(settings: SettingsDep) -> DocumentStore:
    return DocumentStore.of(settings)


StoreDep = Annotated[DocumentStore, Depends(document_store)]

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "the document; accepted types: "
                            + ", ".join(ACCEPTED_TYPES),
                        },
                        "task_id": {
                            "type": "string",
                            "description": "a task of this instance the document belongs to",
                        },
                    },
                }
            }
        },
    }
}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "The file is over the size limit"},
    415: {"model": ErrorResponse, "description": "The file's type is not accepted"},
}


def document_out(d: Document) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        instance_id=d.instance_id,
        task_id=d.task_id,
        filename=d.filename,
        content_type=d.content_type,
        size=d.size,
        sha256=d.sha256,
        uploaded_by=d.uploaded_by,
        uploaded_at=d.uploaded_at,
    )


def attachment(filename: str) -> str:
    """``Content-Disposition`` for a download: an ASCII fallback and the exact name (RFC 6266)."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _check_visible(session: Session, me: Principal, instance_id: str) -> None:
    visible_instance(session, me, instance_id)
    # End the read before the body streams in: on SQLite every transaction holds the
    # write lock (BEGIN IMMEDIATE), and an upload may take a while.
    session.rollback()


def _record(
    session: Session, store: DocumentStore, me: Principal, instance_id: str, upload: Upload
) -> DocumentOut:
    # Checked again: the instance may have changed hands while the file came in.
    visible_instance(session, me, instance_id)
    task_id = upload.fields.get("task_id") or None
    if task_id is not None:
        task = session.get(Task, task_id)
        if task is None or task.instance_id != instance_id:
            raise ApiError(422, "invalid_request", f"this instance has no task {task_id!r}")
    # Held until the commit: deleting the last other document of this content meanwhile
    # either sees this row and keeps the file, or unlinks it before ``keep`` puts it back.
    hold_content(session, upload.sha256)
    store.keep(upload)
    now = clock.now()
    document = Document(
        id=new_id(),
        instance_id=instance_id,
        task_id=task_id,
        filename=upload.filename,
        content_type=upload.content_type,
        size=upload.size,
        sha256=upload.sha256,
        uploaded_by=me.username,
        uploaded_at=now,
    )
    session.add(document)
    audit(
        session,
        "document.uploaded",
        actor=me.username,
        instance_id=instance_id,
        task_id=task_id,
        now=now,
        document_id=document.id,
        filename=upload.filename,
        content_type=upload.content_type,
        size=upload.size,
        sha256=upload.sha256,
    )
    session.commit()
    return document_out(document)


@router.post(
    "/instances/{instance_id}/documents",
    response_model=DocumentOut,
    status_code=201,
    responses=UPLOAD_ERRORS,
    openapi_extra=UPLOAD_BODY,
)
async def upload_document(
    instance_id: str,
    request: Request,
    session: SessionDep,
    me: CurrentUser,
    settings: SettingsDep,
    store: StoreDep,
) -> DocumentOut:
    """Attach a file (multipart/form-data: ``file``, optional ``task_id``) to an instance.

    The size limit and the type are checked while the file streams in; the same
    content uploaded twice is stored once on disk.
    """
    await run_in_threadpool(_check_visible, session, me, instance_id)
    try:
        upload = await receive_upload(
            request.stream(),
            content_type=request.headers.get("content-type", ""),
            store=store,
            limit=settings.max_upload_bytes,
        )
    except ClientDisconnect:
        raise ApiError(400, "invalid_request", "the upload was interrupted") from None
    try:
        return await run_in_threadpool(_record, session, store, me, instance_id, upload)
    finally:
        upload.discard()


@router.get("/instances/{instance_id}/documents", response_model=list[DocumentOut])
def list_documents(instance_id: str, session: SessionDep, me: CurrentUser) -> list[DocumentOut]:
    visible_instance(session, me, instance_id)
    rows = session.scalars(
        select(Document)
        .where(Document.instance_id == instance_id)
        .order_by(Document.uploaded_at, Document.id)
    )
    return [document_out(d) for d in rows]


@router.get(
    "/documents/{document_id}",
    response_class=FileResponse,
    responses={200: {"description": "The document, as an attachment", "content": {"*/*": {}}}},
)
def download_document(
    document_id: str, session: SessionDep, me: CurrentUser, store: StoreDep
) -> FileResponse:
    """The document's content, sent as an attachment with the type it was stored with."""
    document = session.scalar(
        select(Document)
        .join(Instance, Instance.id == Document.instance_id)
        .where(Document.id == document_id, instance_visible(me))
    )
    if document is None:
        raise not_found("document", document_id)
    path = store.path_for(document.sha256)
    if not path.is_file():
        log.error("document %s: its content %s is missing from storage", document.id, path)
        raise ApiError(500, "document_missing", "this document's content is missing on the server")
    return FileResponse(
        path,
        media_type=document.content_type,
        headers={
            "Content-Disposition": attachment(document.filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.delete("/documents/{document_id}", status_code=204)
def delete_document(
    document_id: str, session: SessionDep, me: CurrentUser, store: StoreDep
) -> Response:
    """Delete a document: whoever uploaded it, while the instance is running; an admin, always.

    Its file leaves storage once no other document has the same content.
    """
    found = session.execute(
        select(Document, Instance.status)
        .join(Instance, Instance.id == Document.instance_id)
        .where(Document.id == document_id, instance_visible(me))
        # a second delete of the same document waits, then finds nothing (404)
        .with_for_update(of=Document)
    ).one_or_none()
    if found is None:
        raise not_found("document", document_id)
    document, status = found
    if not me.is_admin:
        if document.uploaded_by != me.username:
            raise forbidden("only whoever uploaded a document, or an admin, may delete it")
        if status != "running":
            raise forbidden(
                f"this instance is {status}: only an admin may delete its documents now"
            )
    forget(session, store=store, document=document, actor=me.username, now=clock.now())
    return Response(status_code=204)


@router.get("/instances/{instance_id}/comments", response_model=list[CommentOut])
def list_comments(instance_id: str, session: SessionDep, me: CurrentUser) -> list[CommentOut]:
    """Every comment on the instance, those made on its tasks too (with the task's name: a
    rejection's reason is one), oldest first."""
    visible_instance(session, me, instance_id)
    rows = session.execute(
        select(Comment, Task.name)
        .outerjoin(Task, Task.id == Comment.task_id)
        .where(Comment.instance_id == instance_id)
        .order_by(Comment.created_at, Comment.id)
    )
    return [comment_out(c, task_name) for c, task_name in rows]


@router.post("/instances/{instance_id}/comments", response_model=CommentOut, status_code=201)
def add_comment(
    instance_id: str, body: CommentIn, session: SessionDep, me: CurrentUser
) -> CommentOut:
    visible_instance(session, me, instance_id)
    now = clock.now()
    comment = Comment(
        id=new_id(), instance_id=instance_id, author=me.username, body=body.body, created_at=now
    )
    session.add(comment)
    audit(
        session,
        "comment.added",
        actor=me.username,
        instance_id=instance_id,
        now=now,
        comment_id=comment.id,
    )
    session.commit()
    return comment_out(comment)
