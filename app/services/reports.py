"""Reports: every figure is computed by the database (``GROUP BY``, window functions for
percentiles), never by loading instances or tasks into Python; the same statements run on
SQLite and PostgreSQL through ``Dialect``, which knows the few spellings that differ (time
differences in seconds, day/week/month buckets, a JSON data field as text).

Percentiles are nearest-rank: the p-th percentile of n sorted values is the one at rank
ceil(p * n / 100) — the same on both databases (PostgreSQL's ``percentile_cont`` interpolates
and SQLite has none), and always a value that occurred.

What each report counts:

- throughput: instances started per period (by ``started_at``) and instances that ended per
  period (by ``finished_at``), by how they ended;
- cycle time: started to finished, of instances that ended in the range;
- time per step: created to completed, of tasks completed in the range, per step;
- SLA: of completed tasks that had a due time, how many were completed after it;
- open work: open tasks now, per person holding them or per role they belong to;
- funnel: how many instances started in the range reached each stage (from the
  ``instance.stage`` audit events the runner writes), in the workflow's stage order.

Rejected: ``percentile_cont`` on PostgreSQL with a Python fallback on SQLite (two answers
for one question); histogram buckets computed from a first min/max query (two round trips,
and buckets that move with every filter — fixed, readable buckets compare across charts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Subquery,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from app.db.models import AuditEvent, Instance, Task, Workflow, WorkflowVersion
from app.services.fields import NAME

Period = Literal["day", "week", "month"]
Measure = Literal["count", "cycle_time", "time_in_step", "sla_breach_rate"]
FIELD_NAME = NAME
"""A data field a report may group by: one ``instance_fields`` keeps (``fields.NAME``)."""
GROUPS = ("stage", "step", "assignee", "role", "day", "week", "month")
MAX_PERIODS = 3700
"""Throughput fills empty periods with zeros up to this many (ten years of days)."""

JULIAN_ORDINAL = 1721425
"""Julian day number minus ``date.toordinal()``, for the same day."""
EPSILON_S = 0.001
"""Durations on SQLite are a few µs off; a bucket's bound is moved by this much for them."""
# Cycle time buckets: (label, upper bound in seconds, exclusive); the last has none.
HOUR, DAY = 3600, 86400
BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("< 1 h", HOUR),
    ("1-4 h", 4 * HOUR),
    ("4-8 h", 8 * HOUR),
    ("8-24 h", DAY),
    ("1-2 d", 2 * DAY),
    ("2-3 d", 3 * DAY),
    ("3-5 d", 5 * DAY),
    ("5-7 d", 7 * DAY),
    ("7-14 d", 14 * DAY),
    ("14-30 d", 30 * DAY),
    (">= 30 d", None),
)


@dataclass(frozen=True)
class Filters:
    """What every report can be narrowed to. ``since`` is inclusive, ``until`` exclusive."""

    workflow: str | None = None
    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class Table:
    """A report's table: what the chart draws, and what ``?format=csv`` exports."""

    columns: list[str]
    rows: list[dict[str, Any]]
    summary: dict[str, Any] | None = None
    truncated: bool = False


class Dialect:
    """The spellings that differ between SQLite and PostgreSQL."""

    def __init__(self, session: Session) -> None:
        self.name = session.get_bind().dialect.name

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def seconds(self, start: Any, end: Any) -> ColumnElement[Any]:
        """``end - start`` in seconds, as a number."""
        if self.postgres:  # as a double: numeric (what EXTRACT gives) sorts 3 times slower
            return cast(extract("epoch", end - start), Float)
        # julianday is a double of about 2.5 million days: good to ~50 µs (an hour may come
        # out as 3599.99999997 s; buckets allow for it, figures are rounded). Rounding in SQL
        # would double the cost of the expression.
        return (func.julianday(end) - func.julianday(start)) * 86400.0

    def period(self, column: Any, unit: Period) -> ColumnElement[Any]:
        """The day, week (from Monday) or month (UTC) ``column`` falls in, as whatever is
        cheapest to compute and to sort for each database; ``period_label`` makes it the
        period's first day, ``YYYY-MM-DD``.

        PostgreSQL: the truncated timestamp. SQLite, which stores UTC times as
        ``YYYY-MM-DD HH:MM:SS.ffffff`` text: its first 10 (day) or 7 (month) characters,
        and for a week the Julian day number of its Monday (a multiple of 7) — half the
        cost of SQLite's own ``date(…, 'weekday 0', '-6 days')``.
        """
        if self.postgres:
            return func.date_trunc(unit, func.timezone("UTC", column))
        if unit == "day":
            return func.substr(column, 1, 10)
        if unit == "month":
            return func.substr(column, 1, 7)
        day_number = cast(func.julianday(column) + 0.5, Integer)
        return (day_number // 7) * 7

    def period_label(self, value: Any, unit: Period) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.date().isoformat()
        if unit == "week":
            return date.fromordinal(int(value) - JULIAN_ORDINAL).isoformat()
        return f"{value}-01" if unit == "month" else str(value)


def instance_filters(
    filters: Filters, column: Any = Instance.started_at
) -> list[ColumnElement[bool]]:
    """Instances of the workflow and version, with ``column`` in the range."""
    where: list[ColumnElement[bool]] = []
    if filters.workflow is not None:
        where.append(Instance.workflow_key == filters.workflow)
    if filters.version is not None:
        where.append(Instance.workflow_version == filters.version)
    if filters.since is not None:
        where.append(column >= filters.since)
    if filters.until is not None:
        where.append(column < filters.until)
    return where


def task_filters(filters: Filters, column: Any = Task.completed_at) -> list[ColumnElement[bool]]:
    """Tasks of the workflow (of instances of the version), with ``column`` in the range."""
    where: list[ColumnElement[bool]] = []
    if filters.workflow is not None:
        where.append(Task.workflow_key == filters.workflow)
    if filters.version is not None:
        versioned = select(Instance.id).where(Instance.workflow_version == filters.version)
        if filters.workflow is not None:
            versioned = versioned.where(Instance.workflow_key == filters.workflow)
        where.append(Task.instance_id.in_(versioned))
    if filters.since is not None:
        where.append(column >= filters.since)
    if filters.until is not None:
        where.append(column < filters.until)
    return where


def _number(value: Any, digits: int = 1) -> float | None:
    if value is None:
        return None
    return round(float(value), digits) if isinstance(value, float | Decimal) else value


@dataclass
class Stats:
    """How many values a group has, and their average, p50 and p90."""

    count: int
    avg: float | None
    p50: float | None = None
    p90: float | None = None


def _rank(count: int, p: int) -> int:
    """Nearest rank: ceil(count * p / 100)."""
    return max(1, (count * p + 99) // 100)


def distribution(
    session: Session,
    inner: Subquery,
    keys: Sequence[str] = (),
    *,
    order: Literal["key", "count"] = "key",
    limit: int | None = None,
    costly: bool = False,
) -> list[tuple[tuple[Any, ...], Stats]]:
    """Per group of ``keys`` of ``inner`` (a subquery with a duration column ``d``): count,
    average, p50 and p90 of ``d``, groups in ``order`` (at most ``limit``). Each aggregate
    of ``d`` computes it again (SQLite flattens the subquery), so there are no more of them.

    On PostgreSQL one statement: ``row_number()`` and ``count(*)`` windows per group, the
    values at the percentile ranks picked by ``max(CASE …)``. On SQLite, whose windows are
    slow, two: a ``GROUP BY`` for the counts, then the rows at each group's ranks, numbered
    by ``row_number()`` (a third less time) — unless ``inner`` is ``costly`` to compute (a
    data field, joined from ``instance_fields``), which one statement computes once.
    """
    if costly or Dialect(session).postgres:
        return _distribution_at_once(session, inner, keys, order=order, limit=limit)
    group = [inner.c[k] for k in keys]
    d = inner.c.d
    counts = select(
        *group,
        func.count().label("n"),
        func.avg(d).label("avg"),
    ).group_by(*group)
    if order == "count":
        counts = counts.order_by(func.count().desc(), *group)
    else:
        counts = counts.order_by(*group)
    if limit is not None:
        counts = counts.limit(limit)
    found: dict[tuple[Any, ...], Stats] = {}
    for row in session.execute(counts):
        key = tuple(row[: len(keys)])
        found[key] = Stats(row.n, _number(row.avg))
    if not found or all(s.count == 0 for s in found.values()):
        return list(found.items())
    numbered = select(
        *group,
        d,
        func.row_number().over(partition_by=group or None, order_by=d).label("rn"),
    )
    ranked = numbered.subquery()
    picked = select(*[ranked.c[k] for k in keys], ranked.c.rn, ranked.c.d).where(
        _at_ranks(ranked, keys, found)
    )
    for row in session.execute(picked):
        stats = found.get(tuple(row[: len(keys)]))
        if stats is None:
            continue
        if row.rn == _rank(stats.count, 50):
            stats.p50 = _number(row.d)
        if row.rn == _rank(stats.count, 90):
            stats.p90 = _number(row.d)
    return list(found.items())


def _at_ranks(
    ranked: Subquery, keys: Sequence[str], found: dict[tuple[Any, ...], Stats]
) -> ColumnElement[bool]:
    """Rows at their own group's percentile ranks: ``(key…, rn) IN (VALUES …)`` (a
    group's rank alone would also pick other groups' rows at that rank)."""
    rn = ranked.c.rn
    if not keys:
        ((_, stats),) = found.items()
        return rn.in_(sorted({_rank(stats.count, p) for p in (50, 90)}))
    group = [ranked.c[k] for k in keys]
    targets = [
        (*key, rank)
        for key, stats in found.items()
        if None not in key
        for rank in sorted({_rank(stats.count, p) for p in (50, 90)})
    ]
    conditions: list[ColumnElement[bool]] = [tuple_(*group, rn).in_(targets)] if targets else []
    for key, stats in found.items():
        if None in key:  # NULL matches nothing in IN: such a group is asked for on its own
            same = [c.is_(None) if v is None else c == v for c, v in zip(group, key, strict=True)]
            ranks = sorted({_rank(stats.count, p) for p in (50, 90)})
            conditions.append(and_(*same, rn.in_(ranks)))
    return or_(*conditions)


def _distribution_at_once(
    session: Session,
    inner: Subquery,
    keys: Sequence[str],
    *,
    order: Literal["key", "count"],
    limit: int | None,
) -> list[tuple[tuple[Any, ...], Stats]]:
    partition = [inner.c[k] for k in keys] or None
    ranked = select(
        *[inner.c[k] for k in keys],
        inner.c.d,
        func.row_number().over(partition_by=partition, order_by=inner.c.d).label("rn"),
        func.count().over(partition_by=partition).label("n"),
    ).subquery()
    r = ranked.c

    def at(p: int) -> ColumnElement[Any]:
        return func.max(case((r.rn == (r.n * p + 99) // 100, r.d)))

    group = [r[k] for k in keys]
    query = select(
        *group,
        func.count().label("n"),
        func.avg(r.d).label("avg"),
        at(50).label("p50"),
        at(90).label("p90"),
    ).group_by(*group)
    query = query.order_by(*([func.count().desc(), *group] if order == "count" else group))
    if limit is not None:
        query = query.limit(limit)
    return [
        (
            tuple(row[: len(keys)]),
            Stats(
                row.n,
                _number(row.avg),
                _number(row.p50),
                _number(row.p90),
            ),
        )
        for row in session.execute(query)
    ]


# --- throughput -----------------------------------------------------------------------------


def throughput(session: Session, filters: Filters, period: Period = "day") -> Table:
    """Instances started, and instances that ended (by outcome), per period."""
    sql = Dialect(session)
    started = select(sql.period(Instance.started_at, period).label("p")).where(
        *instance_filters(filters)
    )
    s = started.subquery()
    started_rows = session.execute(select(s.c.p, func.count()).group_by(s.c.p)).all()
    ended = select(
        sql.period(Instance.finished_at, period).label("p"), Instance.status.label("status")
    ).where(Instance.finished_at.is_not(None), *instance_filters(filters, Instance.finished_at))
    e = ended.subquery()
    ended_rows = session.execute(
        select(e.c.p, e.c.status, func.count()).group_by(e.c.p, e.c.status)
    ).all()
    columns = ["period", "started", "completed", "cancelled", "rejected"]
    table: dict[str, dict[str, Any]] = {}
    for p, count in started_rows:
        key = str(sql.period_label(p, period))
        table.setdefault(key, dict.fromkeys(columns[1:], 0))["started"] = count
    for p, status, count in ended_rows:
        row = table.setdefault(str(sql.period_label(p, period)), dict.fromkeys(columns[1:], 0))
        if status not in row:
            columns.append(status)
            for other in table.values():
                other.setdefault(status, 0)
        row[status] = row.get(status, 0) + count
    keys = _periods(table, filters, period)
    empty = dict.fromkeys(columns[1:], 0)
    return Table(columns, [{"period": k, **empty, **table.get(k, {})} for k in keys])


def _periods(found: dict[str, Any], filters: Filters, period: Period) -> list[str]:
    """Every period from the first to the last (of the range, or of what was found)."""
    if not found and (filters.since is None or filters.until is None):
        return []
    first = _start_of(
        filters.since.date() if filters.since else date.fromisoformat(min(found)), period
    )
    last = (filters.until - timedelta(microseconds=1)).date() if filters.until else None
    last = _start_of(last, period) if last else date.fromisoformat(max(found))
    keys: list[str] = []
    day = first
    while day <= last and len(keys) < MAX_PERIODS:
        keys.append(day.isoformat())
        day = _next(day, period)
    return sorted(set(keys) | set(found))


def _start_of(day: date, period: Period) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _next(day: date, period: Period) -> date:
    if period == "day":
        return day + timedelta(days=1)
    if period == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


# --- cycle time -----------------------------------------------------------------------------


def cycle_time(session: Session, filters: Filters, outcome: str | None = None) -> Table:
    """How long instances that ended in the range took, as a histogram with p50/p90."""
    sql = Dialect(session)
    where = [
        Instance.finished_at.is_not(None),
        *instance_filters(filters, Instance.finished_at),
    ]
    if outcome is not None:
        where.append(Instance.status == outcome)
    seconds = sql.seconds(Instance.started_at, Instance.finished_at)
    inner = select(seconds.label("d")).where(*where).subquery()
    ((_, summary),) = distribution(session, inner)
    bucket = case(
        *[
            (inner.c.d < upper - EPSILON_S, index)
            for index, (_, upper) in enumerate(BUCKETS)
            if upper
        ],
        else_=len(BUCKETS) - 1,
    ).label("b")
    counted = select(bucket).subquery()
    per_bucket = select(counted.c.b, func.count()).group_by(counted.c.b)
    counts: dict[int, int] = dict(session.execute(per_bucket).all())
    rows = []
    lower = 0
    for index, (label, upper) in enumerate(BUCKETS):
        rows.append(
            {"bucket": label, "from_s": lower, "to_s": upper, "instances": counts.get(index, 0)}
        )
        lower = upper or lower
    return Table(
        ["bucket", "from_s", "to_s", "instances"],
        rows,
        summary={
            "instances": summary.count,
            "avg_s": _number(summary.avg),
            "p50_s": _number(summary.p50),
            "p90_s": _number(summary.p90),
        },
    )


# --- time per step --------------------------------------------------------------------------


def time_per_step(session: Session, filters: Filters) -> Table:
    """Per step (node id): completed tasks, and their average, p50 and p90 duration."""
    sql = Dialect(session)
    keys = _step_keys(filters)
    inner = (
        select(*keys, sql.seconds(Task.created_at, Task.completed_at).label("d"))
        .where(Task.status == "completed", *task_filters(filters))
        .subquery()
    )
    found = distribution(session, inner, [k.name for k in keys])
    names = step_names(session, {_workflow_of(k, filters) for k, _ in found})
    rows = []
    for key, stats in found:
        workflow, step = _workflow_of(key, filters), key[-1]
        rows.append(
            {
                "workflow": workflow,
                "step": step,
                "name": names.get((workflow, step), step),
                "tasks": stats.count,
                "avg_s": stats.avg,
                "p50_s": stats.p50,
                "p90_s": stats.p90,
            }
        )
    return Table(["workflow", "step", "name", "tasks", "avg_s", "p50_s", "p90_s"], rows)


def _step_keys(filters: Filters) -> list[Any]:
    """Group tasks by step, and by workflow too unless the filter names one."""
    step = Task.node.label("step")
    return [step] if filters.workflow else [Task.workflow_key.label("workflow"), step]


def _workflow_of(key: tuple[Any, ...], filters: Filters) -> str:
    return str(filters.workflow if filters.workflow else key[0])


def step_names(session: Session, workflows: set[str]) -> dict[tuple[str, str], str]:
    """Step names from each workflow's published definition (the draft if none is)."""
    names: dict[tuple[str, str], str] = {}
    for key in sorted(workflows):
        workflow = session.get(Workflow, key)
        if workflow is None:
            continue
        definition = workflow.draft
        if workflow.published_version is not None:
            definition = (
                session.scalar(
                    select(WorkflowVersion.definition).where(
                        WorkflowVersion.workflow_key == key,
                        WorkflowVersion.version == workflow.published_version,
                    )
                )
                or definition
            )
        for node in definition.get("nodes", []):
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                names[(key, node["id"])] = str(node.get("name") or node["id"])
    return names


# --- SLA ------------------------------------------------------------------------------------


def sla(session: Session, filters: Filters, by: Literal["step", "person"] = "step") -> Table:
    """Of completed tasks with a due time: how many were completed after it, per step or
    per person who completed them."""
    keys = _step_keys(filters) if by == "step" else [Task.completed_by.label("person")]
    late = case((Task.completed_at > Task.due_at, 1), else_=0)
    inner = (
        select(*keys, late.label("late"))
        .where(Task.status == "completed", Task.due_at.is_not(None), *task_filters(filters))
        .subquery()
    )
    group = [inner.c[k.name] for k in keys]
    query = (
        select(*group, func.count().label("with_due"), func.sum(inner.c.late).label("breached"))
        .group_by(*group)
        .order_by(*group)
    )
    found = session.execute(query).all()
    names = (
        step_names(session, {_workflow_of(tuple(r), filters) for r in found})
        if by == "step"
        else {}
    )
    rows = []
    for r in found:
        row: dict[str, Any]
        if by == "step":
            workflow = _workflow_of(tuple(r), filters)
            step = r.step
            row = {"workflow": workflow, "step": step, "name": names.get((workflow, step), step)}
        else:
            row = {"person": r.person}
        breached = int(r.breached or 0)
        row.update(
            with_due=r.with_due,
            breached=breached,
            rate=round(breached / r.with_due, 4) if r.with_due else None,
        )
        rows.append(row)
    first = ["workflow", "step", "name"] if by == "step" else ["person"]
    return Table([*first, "with_due", "breached", "rate"], rows)


# --- open work ------------------------------------------------------------------------------


def open_work(
    session: Session, filters: Filters, now: datetime, by: Literal["person", "role"] = "person"
) -> Table:
    """Open tasks now, per person holding them or per role they belong to."""
    where = [Task.status == "open", *task_filters(Filters(filters.workflow, filters.version))]
    overdue = case((and_(Task.due_at.is_not(None), Task.due_at < now), 1), else_=0)
    if by == "person":
        key: ColumnElement[Any] = Task.assignee.label("person")
        where.append(Task.assignee.is_not(None))
    else:
        key = Task.role.label("role")
    unassigned = case((Task.assignee.is_(None), 1), else_=0)
    at_risk = case((Task.at_risk.is_(True), 1), else_=0)
    query = (
        select(
            key,
            func.count().label("open"),
            func.sum(overdue).label("overdue"),
            func.sum(at_risk).label("at_risk"),
            func.sum(unassigned).label("unassigned"),
            func.min(Task.created_at).label("oldest"),
        )
        .where(*where)
        .group_by(key)
        .order_by(func.count().desc(), key)
    )
    name = "person" if by == "person" else "role"
    columns = [name, "open", "overdue", "at_risk", *(["unassigned"] if by == "role" else [])]
    rows = []
    for r in session.execute(query):
        row = {
            name: r[0],
            "open": r.open,
            "overdue": int(r.overdue or 0),
            "at_risk": int(r.at_risk or 0),
        }
        if by == "role":
            row["unassigned"] = int(r.unassigned or 0)
        row["oldest"] = r.oldest.isoformat() if r.oldest else None
        rows.append(row)
    return Table([*columns, "oldest"], rows)


# --- stage funnel ---------------------------------------------------------------------------


def funnel(session: Session, filters: Filters, stages: Sequence[str]) -> Table:
    """How many instances started in the range reached each stage, in ``stages`` order
    (stages seen but not listed come after, by count)."""
    started = select(func.count()).select_from(Instance).where(*instance_filters(filters))
    total = session.scalar(started) or 0
    # The action is written into the statement, not bound: the partial index of stage events
    # (ix_audit_events_stage, WHERE action = 'instance.stage') serves only a statement whose
    # own WHERE says so, and the databases cannot see that through a parameter.
    instances = select(Instance.id).where(*instance_filters(filters))
    events = [
        AuditEvent.action == literal_column(STAGE_EVENT),
        AuditEvent.instance_id.in_(instances),
    ]
    # Instances per stage in two steps: each (instance, stage) once — in the order of the
    # partial index, (instance_id, action, details), so with no sort — then count them. By
    # the details as written (the stage, and nothing else today), which is cheaper than
    # taking the stage out of each; if one stage had details of two shapes, by the stage.
    by_details = _per_instance_once(session, AuditEvent.details, events)
    per_stage = [(d.get("stage") if isinstance(d, dict) else None, n) for d, n in by_details]
    counted: dict[str, int] = {str(s): n for s, n in per_stage if s is not None}
    if len(counted) != len(per_stage):
        stage = AuditEvent.details["stage"].as_string()
        found = _per_instance_once(session, stage, [*events, stage.is_not(None)])
        counted = {str(s): n for s, n in found}
    order = list(dict.fromkeys(stages))
    order += sorted((s for s in counted if s not in order), key=lambda s: -counted[s])
    rows = [
        {
            "stage": s,
            "instances": counted.get(s, 0),
            "share": round(counted.get(s, 0) / total, 4) if total else None,
        }
        for s in order
    ]
    return Table(["stage", "instances", "share"], rows, summary={"started": total})


def _per_instance_once(
    session: Session, key: Any, where: Sequence[ColumnElement[bool]]
) -> list[tuple[Any, int]]:
    """How many instances have stage events with each ``key``."""
    pairs = select(key.label("k")).where(*where).group_by(AuditEvent.instance_id, key).subquery()
    return [(k, n) for k, n in session.execute(select(pairs.c.k, func.count()).group_by(pairs.c.k))]


STAGE_EVENT = "'instance.stage'"
"""The audit action of a stage change, as SQL text (see ``funnel``)."""


def stage_order(definition: dict[str, Any]) -> list[str]:
    """The stages a definition names, in the order its steps are listed."""
    found: list[str] = []
    for node in definition.get("nodes", []):
        stage = node.get("stage") if isinstance(node, dict) else None
        if isinstance(stage, str) and stage not in found:
            found.append(stage)
    return found
