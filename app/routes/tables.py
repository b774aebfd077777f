"""Data tables (inventory, price lists): their columns, their rows, CSV export and import.

Anyone logged in may read them (the designer offers them in table steps); only admins change
them. Rows carry a version: a ``PUT`` naming an older version than the row has is refused
with 409, so two admins editing one row cannot overwrite each other unseen.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from app import clock
from app.db.models import DataRow, DataTable, Workflow, WorkflowVersion
from app.deps import AdminUser, CurrentUser, SessionDep, SettingsDep
from app.errors import ApiError, not_found
from app.schemas import ERRORS, Page
from app.services import csvio
from app.services.csvio import CellError, Change, ImportMode
from app.services.records import audit
from app.services.tables import row_key


async def refuse_nul(request: Request) -> None:
    """422 for a NUL character in the path or query: PostgreSQL cannot compare or store text
    with one, and would answer with an error that became a 500. (Async: no I/O, so no
    thread is taken for it.)"""
    parts = [*request.path_params.values(), *request.query_params.values()]
    if any("\x00" in str(part) for part in parts):
        raise ApiError(422, "invalid_request", "the request has a NUL character in it")


NO_NUL = r"^[^\x00]*$"
"""A pattern for free text that PostgreSQL can store (no NUL characters)."""

router = APIRouter(
    prefix="/api", tags=["tables"], responses=ERRORS, dependencies=[Depends(refuse_nul)]
)

PREVIEW_LIMIT = 500
"""At most this many rows of each kind (and errors) in an import's answer; counts are exact."""
CSV_TYPES = frozenset(
    {
        "text/csv",
        "text/plain",
        "application/csv",
        "application/vnd.ms-excel",
        "application/octet-stream",
    }
)


# --- API models -----------------------------------------------------------------------------


class ColumnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    type: Literal["string", "integer", "number", "boolean"]


class ColumnOut(BaseModel):
    name: str
    type: str


class TableCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)
    description: str = Field(default="", max_length=500, pattern=NO_NUL)
    columns: list[ColumnIn] = Field(min_length=1, max_length=100)
    key_columns: list[str] = Field(
        min_length=1, max_length=10, description="the columns that identify a row"
    )

    @model_validator(mode="after")
    def _keys_are_columns(self) -> TableCreate:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("column names must be unique")
        if len(set(self.key_columns)) != len(self.key_columns):
            raise ValueError("key_columns must not repeat a column")
        unknown = [k for k in self.key_columns if k not in names]
        if unknown:
            raise ValueError(f"key_columns must be columns; not columns: {', '.join(unknown)}")
        return self


class TableOut(BaseModel):
    name: str
    description: str
    columns: list[ColumnOut]
    key_columns: list[str]
    row_count: int
    created_at: datetime


class RowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: dict[str, Any] = Field(description="column -> value; missing columns are empty")


class RowUpdate(RowIn):
    version: int | None = Field(
        default=None, description="the row version you edited; 409 if it moved on"
    )


class RowOut(BaseModel):
    id: str
    values: dict[str, Any]
    version: int
    updated_at: datetime


class LineError(BaseModel):
    line: int | None = Field(description="the line in the file, 1 being the header")
    column: str | None
    message: str


class ImportChange(BaseModel):
    line: int | None = Field(description="the file's line; none for a deleted row")
    key: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ImportOut(BaseModel):
    table: str
    mode: str
    dry_run: bool
    applied: bool = Field(description="true once written; a dry run or a file with errors is not")
    inserts: int
    updates: int
    deletes: int
    unchanged: int
    insert: list[ImportChange]
    update: list[ImportChange]
    delete: list[ImportChange]
    errors: list[LineError]
    truncated: bool = Field(description=f"a list was cut at {PREVIEW_LIMIT} items")


# --- helpers --------------------------------------------------------------------------------


def _table(session: Session, name: str) -> DataTable:
    table = session.get(DataTable, name)
    if table is None:
        raise not_found("data table", name)
    return table


def _table_out(table: DataTable, row_count: int) -> TableOut:
    return TableOut(
        name=table.name,
        description=table.description,
        columns=[ColumnOut(name=str(c["name"]), type=str(c["type"])) for c in table.columns],
        key_columns=[str(k) for k in table.key_columns],
        row_count=row_count,
        created_at=table.created_at,
    )


def _row_out(row: DataRow) -> RowOut:
    return RowOut(id=row.id, values=row.values, version=row.version, updated_at=row.updated_at)


def _count(session: Session, name: str) -> int:
    return (
        session.scalar(select(func.count()).select_from(DataRow).where(DataRow.table_name == name))
        or 0
    )


def _row(session: Session, table: DataTable, row_id: str, *, lock: bool = False) -> DataRow:
    query = select(DataRow).where(DataRow.id == row_id, DataRow.table_name == table.name)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise not_found(f"row in {table.name}", row_id)
    return row


def _errors(errors: list[CellError]) -> list[dict[str, Any]]:
    return [{"line": e.line, "column": e.column, "message": e.message} for e in errors]


def _checked(table: DataTable, values: dict[str, Any]) -> dict[str, Any]:
    clean, errors = csvio.check_row(table, values)
    if errors:
        raise ApiError(
            422,
            "invalid_row",
            f"the row does not fit the table {table.name!r}",
            [{"column": e.column, "message": e.message} for e in errors],
        )
    return clean


def _key_taken(table: DataTable, values: dict[str, Any]) -> ApiError:
    return ApiError(
        409,
        "duplicate_key",
        f"{table.name} has a row {csvio.describe_key(table, values)} already",
    )


def _commit_row(session: Session, table: DataTable, values: dict[str, Any]) -> None:
    """Commit; another request taking the same key meanwhile is a 409, not a 500."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise _key_taken(table, values) from exc


def _key_free(session: Session, table: DataTable, key: str, but: str | None = None) -> bool:
    query = select(DataRow.id).where(DataRow.table_name == table.name, DataRow.row_key == key)
    found = session.scalar(query)
    return found is None or found == but


def _workflows_using(session: Session, name: str) -> list[str]:
    """Workflows (not archived) with a published version that has a table step on ``name``."""
    query = (
        select(WorkflowVersion.workflow_key, WorkflowVersion.definition)
        .join(Workflow, Workflow.key == WorkflowVersion.workflow_key)
        .where(Workflow.archived.is_(False))
    )
    found: set[str] = set()
    for key, definition in session.execute(query):
        nodes = definition.get("nodes", []) if isinstance(definition, dict) else []
        if any(
            isinstance(n, dict) and n.get("type") == "table" and n.get("table") == name
            for n in nodes
        ):
            found.add(key)
    return sorted(found)


# --- tables ---------------------------------------------------------------------------------


@router.get("/tables", response_model=list[TableOut])
def list_tables(session: SessionDep, me: CurrentUser) -> list[TableOut]:
    counts: dict[str, int] = dict(
        session.execute(select(DataRow.table_name, func.count()).group_by(DataRow.table_name)).all()
    )
    tables = session.scalars(select(DataTable).order_by(DataTable.name))
    return [_table_out(t, counts.get(t.name, 0)) for t in tables]


@router.post("/tables", response_model=TableOut, status_code=201)
def create_table(body: TableCreate, session: SessionDep, me: AdminUser) -> TableOut:
    now = clock.now()
    if session.get(DataTable, body.name) is not None:
        raise ApiError(409, "exists", f"a data table {body.name!r} exists already")
    table = DataTable(
        name=body.name,
        description=body.description,
        columns=[c.model_dump() for c in body.columns],
        key_columns=list(body.key_columns),
        created_at=now,
    )
    session.add(table)
    audit(
        session,
        "table.created",
        actor=me.username,
        now=now,
        table=body.name,
        columns=table.columns,
        key_columns=table.key_columns,
    )
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ApiError(409, "exists", f"a data table {body.name!r} exists already") from exc
    return _table_out(table, 0)


@router.get("/tables/{name}", response_model=TableOut)
def get_table(name: str, session: SessionDep, me: CurrentUser) -> TableOut:
    return _table_out(_table(session, name), _count(session, name))


@router.delete("/tables/{name}", status_code=204)
def delete_table(name: str, session: SessionDep, me: AdminUser) -> Response:
    """Delete a table and its rows; refused (409) while a published workflow uses it."""
    now = clock.now()
    table = _table(session, name)
    using = _workflows_using(session, name)
    if using:
        raise ApiError(
            409,
            "in_use",
            f"published workflows use the table {name!r}: {', '.join(using)}",
            {"workflows": using},
        )
    rows = _count(session, name)
    session.execute(delete(DataRow).where(DataRow.table_name == name))
    session.delete(table)
    audit(session, "table.deleted", actor=me.username, now=now, table=name, rows=rows)
    session.commit()
    return Response(status_code=204)


# --- rows -----------------------------------------------------------------------------------


@router.get("/tables/{name}/rows", response_model=Page[RowOut])
def list_rows(
    name: str,
    session: SessionDep,
    me: CurrentUser,
    q: Annotated[str | None, Query(max_length=200, description="part of the key, any case")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[RowOut]:
    """Rows in key order. With several key columns the key is their values joined."""
    table = _table(session, name)
    query = select(DataRow).where(DataRow.table_name == table.name)
    if q:
        query = query.where(func.lower(DataRow.row_key).contains(q.lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(DataRow.row_key).offset(offset).limit(limit))
    return Page(items=[_row_out(r) for r in rows], total=total, offset=offset, limit=limit)


@router.post("/tables/{name}/rows", response_model=RowOut, status_code=201)
def create_row(name: str, body: RowIn, session: SessionDep, me: AdminUser) -> RowOut:
    now = clock.now()
    table = _table(session, name)
    values = _checked(table, body.values)
    key = row_key(table, values)
    if not _key_free(session, table, key):
        raise _key_taken(table, values)
    row = DataRow(table_name=table.name, row_key=key, values=values, updated_at=now)
    session.add(row)
    session.flush()
    audit(
        session,
        "table.row_created",
        actor=me.username,
        now=now,
        table=table.name,
        row_id=row.id,
        key=csvio.key_of(table, values),
    )
    _commit_row(session, table, values)
    return _row_out(row)


@router.get("/tables/{name}/rows/{row_id}", response_model=RowOut)
def get_row(name: str, row_id: str, session: SessionDep, me: CurrentUser) -> RowOut:
    return _row_out(_row(session, _table(session, name), row_id))


@router.put("/tables/{name}/rows/{row_id}", response_model=RowOut)
def update_row(
    name: str, row_id: str, body: RowUpdate, session: SessionDep, me: AdminUser
) -> RowOut:
    """Replace a row's values. Its key may change only to a key no other row has."""
    now = clock.now()
    table = _table(session, name)
    row = _row(session, table, row_id, lock=True)
    if body.version is not None and body.version != row.version:
        raise ApiError(
            409,
            "stale_row",
            f"the row changed since you read it (now version {row.version}); reload it",
            {"version": row.version},
        )
    values = _checked(table, body.values)
    key = row_key(table, values)
    if key != row.row_key and not _key_free(session, table, key, but=row.id):
        raise _key_taken(table, values)
    changes = {
        column: {"from": row.values.get(column), "to": value}
        for column, value in values.items()
        if row.values.get(column) != value
    }
    if changes:
        audit(
            session,
            "table.row_updated",
            actor=me.username,
            now=now,
            table=table.name,
            row_id=row.id,
            key=csvio.key_of(table, row.values),
            changes=changes,
        )
        row.values = values
        row.row_key = key
        row.version += 1
        row.updated_at = now
    _commit_row(session, table, values)
    return _row_out(row)


@router.delete("/tables/{name}/rows/{row_id}", status_code=204)
def delete_row(name: str, row_id: str, session: SessionDep, me: AdminUser) -> Response:
    now = clock.now()
    table = _table(session, name)
    row = _row(session, table, row_id, lock=True)
    audit(
        session,
        "table.row_deleted",
        actor=me.username,
        now=now,
        table=table.name,
        row_id=row.id,
        values=row.values,
    )
    session.delete(row)
    session.commit()
    return Response(status_code=204)


# --- CSV ------------------------------------------------------------------------------------


@router.get(
    "/tables/{name}/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The rows as CSV"}},
)
def export_csv(name: str, session: SessionDep, me: CurrentUser) -> Response:
    """The whole table as CSV (UTF-8), key order; the header line names the columns."""
    table = _table(session, name)
    rows = csvio.existing_rows(session, table, lock=False)
    return Response(
        csvio.write_csv(table, (r.values for r in rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{table.name}.csv"'},
    )


async def _bounded(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise ApiError(413, "too_large", f"the file is over the limit of {limit} bytes")
        yield chunk


async def csv_upload(request: Request, settings: SettingsDep) -> bytes:
    """The CSV file: a multipart field ``file``, or the request body itself (``text/csv``).

    Read here, size-checked as it streams, so that the endpoint can stay synchronous."""
    limit = settings.max_upload_bytes
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        try:
            form = await MultiPartParser(
                request.headers, _bounded(request, limit), max_files=1, max_fields=10
            ).parse()
        except MultiPartException as exc:
            raise ApiError(
                422, "invalid_upload", f"the upload is not valid: {exc.message}"
            ) from exc
        try:
            upload = form.get("file")
            if isinstance(upload, UploadFile):
                return await upload.read()
            if isinstance(upload, str):
                return upload.encode()
            raise ApiError(422, "invalid_upload", "send the CSV as the multipart field 'file'")
        finally:
            await form.close()
    if media_type and media_type not in CSV_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the CSV as text/csv, or as the field 'file' of a multipart/form-data upload",
        )
    return b"".join([chunk async for chunk in _bounded(request, limit)])


def _previews(changes: list[Change]) -> list[ImportChange]:
    return [
        ImportChange(line=c.line, key=c.key, before=c.before, after=c.after)
        for c in changes[:PREVIEW_LIMIT]
    ]


@router.post(
    "/tables/{name}/import",
    response_model=ImportOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
def import_csv(
    name: str,
    session: SessionDep,
    me: AdminUser,
    data: Annotated[bytes, Depends(csv_upload)],
    mode: Annotated[
        ImportMode,
        Query(description="upsert: add and update rows; replace: also delete rows not in the file"),
    ] = "upsert",
    dry_run: Annotated[bool, Query(description="only say what would change")] = False,
) -> ImportOut:
    """Import rows from CSV, all or nothing: a file with any error writes nothing (422, with
    the errors by line); ``dry_run`` answers with the plan and the errors, writing nothing."""
    now = clock.now()
    table = _table(session, name)
    text, decode_error = csvio.decode(data)
    parsed = csvio.read_csv(table, text) if text is not None else csvio.ParsedCsv()
    if decode_error is not None:
        parsed.errors.append(decode_error)
    existing = csvio.existing_rows(session, table, lock=not dry_run and not parsed.errors)
    plan = csvio.plan_import(table, parsed, existing, mode=mode)
    errors = [
        LineError(line=e.line, column=e.column, message=e.message)
        for e in parsed.errors[:PREVIEW_LIMIT]
    ]
    if parsed.errors and not dry_run:
        raise ApiError(
            422,
            "invalid_csv",
            f"the file has {len(parsed.errors)} error(s); nothing was imported",
            _errors(parsed.errors[:PREVIEW_LIMIT]),
        )
    out = ImportOut(
        table=table.name,
        mode=mode,
        dry_run=dry_run,
        applied=not dry_run,
        inserts=len(plan.insert),
        updates=len(plan.update),
        deletes=len(plan.delete),
        unchanged=plan.unchanged,
        insert=_previews(plan.insert),
        update=_previews(plan.update),
        delete=_previews(plan.delete),
        errors=errors,
        truncated=max(len(plan.insert), len(plan.update), len(plan.delete), len(parsed.errors))
        > PREVIEW_LIMIT,
    )
    if dry_run:
        session.rollback()
        return out
    csvio.apply_plan(session, table=table, plan=plan, now=now)
    audit(
        session,
        "table.imported",
        actor=me.username,
        now=now,
        table=table.name,
        mode=mode,
        inserted=out.inserts,
        updated=out.updates,
        deleted=out.deletes,
    )
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ApiError(
            409, "conflict", "the table changed while importing; nothing was imported, try again"
        ) from exc
    return out
