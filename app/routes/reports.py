"""Reports for admins and managers: throughput, cycle time, time per step, SLA breaches, open
work, the stage funnel, a report builder, and saved reports. Every report also answers
``?format=csv`` with the table behind its chart.

Reports read through a read-only session, the builder's ``POST`` too: on SQLite a report
never takes the write lock, however long it runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.db.models import (
    Role,
    SavedReport,
    SavedReportPin,
    SavedReportShare,
    Workflow,
    WorkflowVersion,
)
from app.deps import Principal, SessionDep, current_principal
from app.errors import ApiError, not_found
from app.schemas import ERRORS
from app.services import report_builder, reports
from app.services.csvio import format_cell
from app.services.reports import FIELD_NAME, GROUPS, Filters, Table

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=ERRORS)

REPORT_ROLES = frozenset({"admin", "manager"})
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The report (JSON, or CSV)"}
}
Chart = Literal["bar", "line", "area", "pie", "table", "number"]
Format = Annotated[Literal["json", "csv"], Query(description="csv: the table behind the chart")]


async def reports_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if not principal.roles & REPORT_ROLES:
        raise ApiError(403, "forbidden", "reports are for admins and managers")
    return principal


ReportsUser = Annotated[Principal, Depends(reports_principal)]


def read_db(request: Request) -> Iterator[Session]:
    """A read-only session whatever the method (the report builder is a ``POST``)."""
    with request.app.state.read_sessionmaker() as session:
        yield session


ReadSession = Annotated[Session, Depends(read_db)]


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """``from``/``to`` dates (UTC days, both included) as [since, until)."""
    if start is not None and end is not None and start > end:
        raise ApiError(422, "invalid_range", "'from' is after 'to'")
    since = datetime.combine(start, time.min, UTC) if start else None
    until = datetime.combine(end, time.min, UTC) + timedelta(days=1) if end else None
    return since, until


def _check_workflow(session: Session, key: str | None) -> None:
    if key is not None and session.get(Workflow, key) is None:
        raise not_found("workflow", key)


def report_filters(
    session: ReadSession,
    workflow: Annotated[str | None, Query(max_length=100, description="a workflow key")] = None,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    start: Annotated[
        date | None, Query(alias="from", description="first day (UTC), included")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (UTC), included")] = None,
) -> Filters:
    _check_workflow(session, workflow)
    since, until = _bounds(start, end)
    return Filters(workflow=workflow, version=version, since=since, until=until)


FiltersDep = Annotated[Filters, Depends(report_filters)]


class ReportOut(BaseModel):
    report: str
    columns: list[str]
    rows: list[dict[str, Any]]
    summary: dict[str, Any] | None = None
    truncated: bool = False


def _answer(name: str, table: Table, fmt: str) -> ReportOut | Response:
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([format_cell(row.get(c)) for c in table.columns])
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return ReportOut(
        report=name,
        columns=table.columns,
        rows=table.rows,
        summary=table.summary,
        truncated=table.truncated,
    )


@router.get("/throughput", response_model=ReportOut, responses=CSV)
def throughput(
    session: ReadSession,
    me: ReportsUser,
    filters: FiltersDep,
    period: Literal["day", "week", "month"] = "day",
    format: Format = "json",
) -> ReportOut | Response:
    """Instances started and instances ended (completed, cancelled, rejected) per period;
    periods with none are listed with zeros."""
    return _answer("throughput", reports.throughput(session, filters, period), format)


@router.get("/cycle-time", response_model=ReportOut, responses=CSV)
def cycle_time(
    session: ReadSession,
    me: ReportsUser,
    filters: FiltersDep,
    outcome: Literal["completed", "cancelled", "rejected"] | None = None,
    format: Format = "json",
) -> ReportOut | Response:
    """Start to end of the instances that ended in the range: a histogram (fixed buckets
    from under an hour to 30 days and more) and, in ``summary``, count, average, p50, p90."""
    return _answer("cycle-time", reports.cycle_time(session, filters, outcome), format)


@router.get("/steps", response_model=ReportOut, responses=CSV)
def time_per_step(
    session: ReadSession, me: ReportsUser, filters: FiltersDep, format: Format = "json"
) -> ReportOut | Response:
    """Per step (node id, for a heat overlay on the diagram): tasks completed in the range,
    and their average, p50 and p90 time from created to completed, in seconds."""
    return _answer("steps", reports.time_per_step(session, filters), format)


@router.get("/sla", response_model=ReportOut, responses=CSV)
def sla(
    session: ReadSession,
    me: ReportsUser,
    filters: FiltersDep,
    by: Literal["step", "person"] = "step",
    format: Format = "json",
) -> ReportOut | Response:
    """Of the tasks completed in the range that had a due time, how many were completed
    after it (``breached``) and the share (``rate``), per step or per person."""
    return _answer(f"sla-by-{by}", reports.sla(session, filters, by), format)


@router.get("/open-work", response_model=ReportOut, responses=CSV)
def open_work(
    session: ReadSession,
    me: ReportsUser,
    filters: FiltersDep,
    by: Literal["person", "role"] = "person",
    format: Format = "json",
) -> ReportOut | Response:
    """Open tasks now, per person holding them or per role they belong to, with how many
    are overdue or at risk and the oldest. The date range does not apply."""
    table = reports.open_work(session, filters, clock.now(), by)
    return _answer(f"open-work-by-{by}", table, format)


@router.get("/funnel", response_model=ReportOut, responses=CSV)
def funnel(
    session: ReadSession,
    me: ReportsUser,
    filters: FiltersDep,
    format: Format = "json",
) -> ReportOut | Response:
    """How many of the instances started in the range reached each stage, in the order the
    workflow's steps name them; ``summary.started`` is how many started. Needs ``workflow``."""
    if filters.workflow is None:
        raise ApiError(422, "workflow_required", "the funnel is per workflow: give ?workflow=")
    stages = reports.stage_order(_definition(session, filters.workflow, filters.version))
    return _answer("funnel", reports.funnel(session, filters, stages), format)


def _definition(session: Session, key: str, version: int | None) -> dict[str, Any]:
    workflow = session.get(Workflow, key)
    if workflow is None:
        raise not_found("workflow", key)
    number = version or workflow.published_version
    if number is None:
        return workflow.draft
    row = session.scalar(
        select(WorkflowVersion.definition).where(
            WorkflowVersion.workflow_key == key, WorkflowVersion.version == number
        )
    )
    return row if row is not None else workflow.draft


# --- the report builder ---------------------------------------------------------------------


class QueryFilters(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    start: date | None = Field(default=None, alias="from", description="first day, included")
    end: date | None = Field(default=None, alias="to", description="last day, included")


class ReportQuery(BaseModel):
    """A measure of one workflow, grouped one way.

    ``count`` counts instances (by start), or tasks (by creation) when grouped by step,
    assignee or role; ``cycle_time`` is start to end of ended instances; ``time_in_step``
    created to completed of completed tasks; ``sla_breach_rate`` the share of completed tasks
    with a due time that were late. ``group_by`` is one of stage, step, assignee, role, day,
    week, month, or ``data.<field>`` (a top-level field of the instance data).
    """

    model_config = ConfigDict(extra="forbid")
    workflow: str = Field(min_length=1, max_length=100)
    measure: Literal["count", "cycle_time", "time_in_step", "sla_breach_rate"]
    group_by: str = Field(max_length=69, examples=["stage", "week", "data.warehouse"])
    filters: QueryFilters = Field(default_factory=QueryFilters)

    @field_validator("group_by")
    @classmethod
    def _known_group(cls, value: str) -> str:
        if value in GROUPS or (value.startswith("data.") and FIELD_NAME.match(value[5:])):
            return value
        raise ValueError(
            "group by stage, step, assignee, role, day, week, month or data.<field>"
            " (a field name of letters, digits and _, at most 64)"
        )


def _run(session: Session, body: ReportQuery) -> Table:
    _check_workflow(session, body.workflow)
    since, until = _bounds(body.filters.start, body.filters.end)
    filters = Filters(body.workflow, body.filters.version, since, until)
    return report_builder.run_query(
        session, report_builder.Query(body.measure, body.group_by, filters)
    )


@router.post("/query", response_model=ReportOut, responses=CSV)
def run_query(
    body: ReportQuery, session: ReadSession, me: ReportsUser, format: Format = "json"
) -> ReportOut | Response:
    """Run a report builder query: one row per group (at most 1,000, the largest first;
    periods in order), ``truncated`` when there were more."""
    return _answer("query", _run(session, body), format)


# --- saved reports --------------------------------------------------------------------------


class SavedReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    query: ReportQuery
    chart: Chart = "bar"
    shared_with: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50, description="roles whose members see it too"
    )
    pinned: bool = Field(default=False, description="on my dashboard")


class SavedReportUpdate(BaseModel):
    """What to change; left out stays. Only the owner (or an admin) changes the report
    itself; anyone who sees it may pin or unpin it on their own dashboard."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    query: ReportQuery | None = None
    chart: Chart | None = None
    shared_with: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=50
    )
    pinned: bool | None = None


class SavedReportOut(BaseModel):
    id: str
    name: str
    owner: str
    mine: bool
    query: dict[str, Any]
    chart: str
    shared_with: list[str]
    pinned: bool
    created_at: datetime
    updated_at: datetime


def _visible(me: Principal) -> Any:
    shared = exists().where(
        SavedReportShare.report_id == SavedReport.id, SavedReportShare.role.in_(sorted(me.roles))
    )
    return or_(SavedReport.owner == me.username, shared)


def _saved_out(session: Session, me: Principal, report: SavedReport) -> SavedReportOut:
    roles = session.scalars(
        select(SavedReportShare.role)
        .where(SavedReportShare.report_id == report.id)
        .order_by(SavedReportShare.role)
    )
    pinned = session.get(SavedReportPin, (report.id, me.username)) is not None
    return SavedReportOut(
        id=report.id,
        name=report.name,
        owner=report.owner,
        mine=report.owner == me.username,
        query=report.query,
        chart=report.chart,
        shared_with=list(roles),
        pinned=pinned,
        created_at=report.created_at,
        updated_at=report.updated_at,
    )


def _check_roles(session: Session, roles: list[str]) -> list[str]:
    wanted = sorted(set(roles))
    known = set(session.scalars(select(Role.name).where(Role.name.in_(wanted))))
    unknown = [r for r in wanted if r not in known]
    if unknown:
        raise ApiError(422, "unknown_role", f"no such role: {', '.join(unknown)}", unknown)
    return wanted


def _check_query(session: Session, query: ReportQuery) -> dict[str, Any]:
    _check_workflow(session, query.workflow)
    report_builder.check_group(query.measure, query.group_by)
    return query.model_dump(mode="json", by_alias=True)


def _pin(session: Session, report_id: str, username: str, pinned: bool) -> None:
    found = session.get(SavedReportPin, (report_id, username))
    if pinned and found is None:
        session.add(SavedReportPin(report_id=report_id, username=username))
    elif not pinned and found is not None:
        session.delete(found)


@router.get("/saved", response_model=list[SavedReportOut])
def list_saved(
    session: SessionDep,
    me: ReportsUser,
    pinned: Annotated[bool | None, Query(description="only those on my dashboard")] = None,
) -> list[SavedReportOut]:
    """My saved reports and those shared with one of my roles, by name."""
    query = select(SavedReport).where(_visible(me)).order_by(SavedReport.name, SavedReport.id)
    if pinned is not None:
        mine = exists().where(
            SavedReportPin.report_id == SavedReport.id, SavedReportPin.username == me.username
        )
        query = query.where(mine if pinned else ~mine)
    return [_saved_out(session, me, r) for r in session.scalars(query)]


@router.post("/saved", response_model=SavedReportOut, status_code=201)
def create_saved(body: SavedReportIn, session: SessionDep, me: ReportsUser) -> SavedReportOut:
    now = clock.now()
    report = SavedReport(
        owner=me.username,
        name=body.name,
        query=_check_query(session, body.query),
        chart=body.chart,
        created_at=now,
        updated_at=now,
    )
    session.add(report)
    session.flush()
    session.add_all(
        SavedReportShare(report_id=report.id, role=r)
        for r in _check_roles(session, body.shared_with)
    )
    _pin(session, report.id, me.username, body.pinned)
    session.commit()
    return _saved_out(session, me, report)


def _saved(session: Session, me: Principal, report_id: str) -> SavedReport:
    report = session.get(SavedReport, report_id[:32])
    if report is None or not (
        me.is_admin
        or session.scalar(select(SavedReport.id).where(SavedReport.id == report.id, _visible(me)))
    ):
        raise not_found("saved report", report_id)
    return report


def _owned(me: Principal, report: SavedReport) -> None:
    if report.owner != me.username and not me.is_admin:
        raise ApiError(
            403, "forbidden", f"only {report.owner} (or an admin) may change this report"
        )


@router.put("/saved/{report_id}", response_model=SavedReportOut)
def update_saved(
    report_id: str, body: SavedReportUpdate, session: SessionDep, me: ReportsUser
) -> SavedReportOut:
    report = _saved(session, me, report_id)
    changes = body.model_dump(exclude_unset=True, exclude={"pinned"})
    if changes:
        _owned(me, report)
        if body.name is not None:
            report.name = body.name
        if body.query is not None:
            report.query = _check_query(session, body.query)
        if body.chart is not None:
            report.chart = body.chart
        if body.shared_with is not None:
            roles = _check_roles(session, body.shared_with)
            session.execute(delete(SavedReportShare).where(SavedReportShare.report_id == report.id))
            session.add_all(SavedReportShare(report_id=report.id, role=r) for r in roles)
        report.updated_at = clock.now()
    if body.pinned is not None:
        _pin(session, report.id, me.username, body.pinned)
    session.commit()
    return _saved_out(session, me, report)


@router.delete("/saved/{report_id}", status_code=204)
def delete_saved(report_id: str, session: SessionDep, me: ReportsUser) -> None:
    report = _saved(session, me, report_id)
    _owned(me, report)
    session.delete(report)
    session.commit()
