"""The report builder: a measure of one workflow, grouped one way, narrowed by filters; the
same database-side aggregates as the fixed reports (``app.services.reports``).

=================  ==========================================  ==============================
measure            counts                                      groups that mean something
=================  ==========================================  ==============================
count              instances by start; tasks by creation when  any
                   grouped by step, assignee or role
cycle_time         ended instances, start to end               stage, day/week/month, data
time_in_step       completed tasks, created to completed       step, assignee, role,
                                                               day/week/month, data
sla_breach_rate    completed tasks with a due time, late ones  as time_in_step
=================  ==========================================  ==============================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from app.db.models import Instance, InstanceField, Task
from app.errors import ApiError
from app.services.reports import (
    FIELD_NAME,
    Dialect,
    Filters,
    Measure,
    Period,
    Table,
    distribution,
    instance_filters,
    task_filters,
)

MAX_GROUPS = 1000
"""The most rows a query answers (the largest groups first)."""

INSTANCE_GROUPS = {"stage", "day", "week", "month"}
TASK_GROUPS = {"step", "assignee", "role", "day", "week", "month"}


@dataclass(frozen=True)
class Query:
    """A report builder question: a measure, grouped one way, narrowed by filters."""

    measure: Measure
    group_by: str
    filters: Filters = field(default_factory=Filters)


def check_group(measure: Measure, group_by: str) -> None:
    """Refuse (422) a grouping the measure has no meaning for."""
    if group_by.startswith("data."):
        if not FIELD_NAME.match(group_by[5:]):
            raise ApiError(
                422,
                "invalid_group_by",
                "group by data.<field>, where the field is a name of letters, digits and _",
            )
        return
    allowed = (
        INSTANCE_GROUPS | TASK_GROUPS
        if measure == "count"
        else INSTANCE_GROUPS
        if measure == "cycle_time"
        else TASK_GROUPS
    )
    if group_by not in allowed:
        raise ApiError(
            422,
            "invalid_group_by",
            f"{measure} cannot be grouped by {group_by!r}; it can by "
            + ", ".join([*sorted(allowed), "data.<field>"]),
        )


def run_query(session: Session, query: Query, limit: int = MAX_GROUPS) -> Table:
    check_group(query.measure, query.group_by)
    sql = Dialect(session)
    group, filters = query.group_by, query.filters
    timed = group in ("day", "week", "month")
    unit: Period = "week" if group == "week" else "month" if group == "month" else "day"
    by_tasks = query.measure in ("time_in_step", "sla_breach_rate") or (
        query.measure == "count" and group in ("step", "assignee", "role")
    )
    if by_tasks:
        when = Task.completed_at if query.measure != "count" else Task.created_at
        where = [*task_filters(filters, when)]
        if query.measure != "count":
            where.append(Task.status == "completed")
        if query.measure == "sla_breach_rate":
            where.append(Task.due_at.is_not(None))
        key: Any
        if timed:
            key = sql.period(when, unit)
        elif group == "step":
            key = Task.node
        elif group == "assignee":  # who did it; for count, who holds it if nobody did yet
            key = (
                func.coalesce(Task.completed_by, Task.assignee)
                if query.measure == "count"
                else Task.completed_by
            )
        elif group == "role":
            key = Task.role
        else:
            key, joined, on = _data_field(Task.instance_id, group[5:])
        value: ColumnElement[Any] = (
            sql.seconds(Task.created_at, Task.completed_at)
            if query.measure == "time_in_step"
            else case((Task.completed_at > Task.due_at, 1), else_=0)
            if query.measure == "sla_breach_rate"
            else literal(1)
        )
        inner_query = select(key.label("g"), value.label("d")).where(*where)
        if group.startswith("data."):
            inner_query = (
                inner_query.select_from(Task)
                .outerjoin(joined, on)
                .with_hint(Task, "INDEXED BY ix_tasks_report_instance", "sqlite")
            )
    else:
        when = Instance.finished_at if query.measure == "cycle_time" else Instance.started_at
        where = [*instance_filters(filters, when)]
        if query.measure == "cycle_time":
            where.append(Instance.finished_at.is_not(None))
        if timed:
            key = sql.period(when, unit)
        elif group == "stage":
            key = Instance.stage
        else:
            key, joined, on = _data_field(Instance.id, group[5:])
        value = (
            sql.seconds(Instance.started_at, Instance.finished_at)
            if query.measure == "cycle_time"
            else literal(1)
        )
        inner_query = select(key.label("g"), value.label("d")).where(*where)
        if group.startswith("data."):
            inner_query = inner_query.select_from(Instance).outerjoin(joined, on)
    inner = inner_query.subquery()
    order = [inner.c.g] if timed else [func.count().desc(), inner.c.g]
    label: Callable[[Any], Any] = _label
    if timed:
        label = partial(sql.period_label, unit=unit)
    if query.measure in ("cycle_time", "time_in_step"):
        found = distribution(
            session,
            inner,
            ["g"],
            order="key" if timed else "count",
            limit=limit + 1,
            costly=group.startswith("data."),
        )
        rows = [
            {
                "group": label(key[0]),
                "count": stats.count,
                "avg_s": stats.avg,
                "p50_s": stats.p50,
                "p90_s": stats.p90,
            }
            for key, stats in found
        ]
        columns = ["group", "count", "avg_s", "p50_s", "p90_s"]
    elif query.measure == "sla_breach_rate":
        final = (
            select(inner.c.g, func.count().label("n"), func.sum(inner.c.d).label("late"))
            .group_by(inner.c.g)
            .order_by(*order)
        )
        result = session.execute(final.limit(limit + 1)).all()
        rows = [
            {
                "group": label(r.g),
                "with_due": r.n,
                "breached": int(r.late or 0),
                "rate": round(int(r.late or 0) / r.n, 4),
            }
            for r in result
        ]
        columns = ["group", "with_due", "breached", "rate"]
    else:
        final = select(inner.c.g, func.count().label("n")).group_by(inner.c.g).order_by(*order)
        result = session.execute(final.limit(limit + 1)).all()
        rows = [{"group": label(r.g), "count": r.n} for r in result]
        columns = ["group", "count"]
    return Table(columns, rows[:limit], truncated=len(rows) > limit)


def _data_field(instance_id: Any, name: str) -> tuple[Any, Any, ColumnElement[bool]]:
    """The data field ``name`` of the instance ``instance_id`` refers to, from
    ``instance_fields`` (``app.services.fields``): its value, and the table and condition of
    the outer join that brings it (an instance without it falls in the group of no value)."""
    stored = aliased(InstanceField, name="field")
    return stored.value, stored, and_(stored.instance_id == instance_id, stored.name == name)


def _label(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return str(value)
