"""Writing history in bulk: instances as the service would have left them, with their tasks,
inbox candidates and audit events (start, stage changes, tasks created and completed, end),
through Core ``insert()`` executemany in chunks.

``HistoryInstance`` and ``HistoryTask`` describe what happened; ``insert_history`` writes it
as the runner would have. The order generator (``app.services.seeding``) makes them by the
hundred thousand; tests make a few by hand, with exactly known durations.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Engine, Text, bindparam, cast, insert
from sqlalchemy.dialects.postgresql import JSONB

from app.db.models import (
    AuditEvent,
    Instance,
    InstanceField,
    Task,
    TaskCandidate,
    UtcDateTime,
    new_id,
)
from app.services.fields import report_fields

CHUNK = 2000
"""Instances per transaction (with their tasks and audit events, about 15 times as many rows)."""


@dataclass
class HistoryTask:
    """A task of a history instance: completed when ``completed_at`` is set, else open."""

    node: str
    created_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None
    assignee: str | None = None
    role: str | None = None
    due_at: datetime | None = None
    name: str = ""
    outcome: str | None = None
    result: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    outcomes: list[str] = field(default_factory=list)
    instructions: str | None = None
    excluded: list[str] = field(default_factory=list)
    engine_id: str = ""
    id: str = field(default_factory=new_id)


@dataclass
class HistoryInstance:
    """An instance as the service would have left it. ``stages`` are (stage, node, at);
    without a ``state`` an engine-shaped one is made from the other fields."""

    workflow_key: str
    version: int
    started_at: datetime
    status: str = "completed"
    finished_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    stages: list[tuple[str, str | None, datetime]] = field(default_factory=list)
    tasks: list[HistoryTask] = field(default_factory=list)
    started_by: str | None = "admin"
    state: dict[str, Any] | str | None = None
    """The engine state, or its JSON text (which then carries the data's ``tracking_url``)."""
    tracking_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    id: str = field(default_factory=new_id)

    @property
    def stage(self) -> str | None:
        return self.stages[-1][0] if self.stages else None

    @property
    def last_moment(self) -> datetime:
        """When the last thing happened to it."""
        times = [self.started_at, *(at for _, _, at in self.stages)]
        times += [t.completed_at or t.created_at for t in self.tasks]
        return max([*times, self.finished_at or self.started_at])


def basic_state(instance: HistoryInstance) -> dict[str, Any]:
    """An engine-shaped state for a hand-made instance (no path, no decisions)."""
    iso = _iso
    return {
        "format": 1,
        "status": instance.status,
        "data": instance.data,
        "seq": len(instance.tasks),
        "tokens": {},
        "waits": {},
        "tasks": {
            t.engine_id or f"task{i}": {
                "node": t.node,
                "status": "completed" if t.completed_at else "open",
                "assignee": t.assignee,
                "created_at": iso(t.created_at),
                "due": iso(t.due_at) if t.due_at else None,
                "priority": 0,
                "timers": [],
                **(
                    {"completed_by": t.completed_by, "completed_at": iso(t.completed_at)}
                    if t.completed_at
                    else {}
                ),
            }
            for i, t in enumerate(instance.tasks, 1)
        },
        "timers": {},
        "joins": {},
        "done": {t.node: t.completed_by for t in instance.tasks if t.completed_at},
        "stage": instance.stage,
        "stages": [{"stage": s, "node": n, "at": iso(at)} for s, n, at in instance.stages],
        "path": [],
        "decisions": [],
        "incidents": {},
        "started_at": iso(instance.started_at),
        "started_by": instance.started_by,
        "finished_at": iso(instance.finished_at) if instance.finished_at else None,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()


@dataclass
class _Rows:
    instances: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)

    def add(self, instance: HistoryInstance) -> None:
        i = instance
        data = {"tracking_url": f"/track/{i.tracking_token}", **i.data}
        state = i.state if i.state is not None else basic_state(i)
        if not isinstance(state, str):
            state = {**state, "data": {**state.get("data", {}), **data}}
        self.instances.append(
            {
                "id": i.id,
                "workflow_key": i.workflow_key,
                "workflow_version": i.version,
                "status": i.status,
                "suspended": False,
                "stage": i.stage,
                "state": state,
                "version": 1,
                "business_key": _business_key(data),
                "parent_id": None,
                "parent_request": None,
                "tracking_token": i.tracking_token,
                "started_by": i.started_by,
                "started_at": i.started_at,
                "updated_at": i.last_moment,
                "finished_at": i.finished_at,
                "open_incidents": 0,
            }
        )
        self.fields.extend(
            {"instance_id": i.id, "name": name, "value": value}
            for name, value in report_fields(data).items()
        )
        self._audit(i.started_at, "instance.started", i.started_by, i.id, workflow=i.workflow_key)
        for stage, _, at in i.stages:
            self._audit(at, "instance.stage", None, i.id, stage=stage)
        for t in i.tasks:
            self._task(i, t)
        if i.finished_at is not None:
            self._audit(i.finished_at, "instance.finished", None, i.id, outcome=i.status)

    def _task(self, i: HistoryInstance, t: HistoryTask) -> None:
        done = t.completed_at is not None
        assignee = t.assignee or (t.completed_by if done else None)
        self.tasks.append(
            {
                "id": t.id,
                "instance_id": i.id,
                "engine_id": t.engine_id or t.id[:12],
                "workflow_key": i.workflow_key,
                "node": t.node,
                "name": t.name or t.node,
                "status": "completed" if done else "open",
                "assignee": assignee,
                "candidate_users": "[]",
                "candidate_roles": _names([t.role] if t.role and not assignee else []),
                "excluded_users": _names(t.excluded),
                "delegated_from": None,
                "form": t.form,
                "outcomes": _names(t.outcomes),
                "instructions": t.instructions,
                "priority": 0,
                "due_at": t.due_at,
                "overdue": t.due_at is not None
                and (t.completed_at is None or t.completed_at > t.due_at),
                "at_risk": False,
                "away_owner": None,
                "role": t.role,
                "created_at": t.created_at,
                "claimed_at": t.created_at if assignee else None,
                "completed_at": t.completed_at,
                "completed_by": t.completed_by if done else None,
                "outcome": t.outcome,
                "result": t.result,
            }
        )
        if not done:
            if t.role and not assignee:
                self.candidates.append({"task_id": t.id, "kind": "role", "name": t.role})
            self.candidates.extend(
                {"task_id": t.id, "kind": "exclude", "name": u} for u in t.excluded
            )
        self._audit(
            t.created_at,
            "task.created",
            None,
            i.id,
            task_id=t.id,
            node=t.node,
            assignee=t.assignee,
            roles=[t.role] if t.role and not t.assignee else [],
            users=[],
            notes=[],
        )
        if done:
            stage = next(
                (s for s, _, at in reversed(i.stages) if t.completed_at and at <= t.completed_at),
                None,
            )
            self._audit(
                t.completed_at,
                "task.completed",
                t.completed_by,
                i.id,
                task_id=t.id,
                node=t.node,
                outcome=t.outcome,
                stage=stage,
            )

    def _audit(
        self,
        at: datetime | None,
        action: str,
        actor: str | None,
        instance_id: str,
        *,
        task_id: str | None = None,
        **details: Any,
    ) -> None:
        self.audit.append(
            {
                "at": at,
                "actor": actor,
                "on_behalf_of": None,
                "action": action,
                "instance_id": instance_id,
                "task_id": task_id,
                "details": details,
            }
        )


_NAMES: dict[tuple[str, ...], str] = {}


def _names(names: list[str]) -> str:
    """A list of names as JSON text, made once per distinct list (a seed repeats few)."""
    key = tuple(names)
    found = _NAMES.get(key)
    if found is None:
        found = _NAMES[key] = json.dumps(names)
    return found


def _business_key(data: Mapping[str, Any]) -> str | None:
    for name in ("order_id", "business_key", "reference", "id"):
        value = data.get(name)
        if isinstance(value, str | int):
            return str(value)[:200]
    return None


def insert_history(
    bind: Engine | Connection, instances: Iterable[HistoryInstance], *, chunk: int = CHUNK
) -> int:
    """Insert ``instances`` with their tasks, inbox candidates and audit events; one
    transaction per ``chunk`` instances. Returns how many were inserted."""
    count = 0
    rows = _Rows()

    def flush() -> None:
        nonlocal rows
        if not rows.instances:
            return
        if isinstance(bind, Connection):
            _write(bind, rows)
        else:
            with bind.begin() as connection:
                _write(connection, rows)
        rows = _Rows()

    for instance in instances:
        rows.add(instance)
        count += 1
        if len(rows.instances) >= chunk:
            flush()
    flush()
    return count


def _write(connection: Connection, rows: _Rows) -> None:
    _insert(connection, Instance.__table__, rows.instances)
    _insert(connection, InstanceField.__table__, rows.fields)
    _insert(connection, Task.__table__, rows.tasks)
    _insert(connection, TaskCandidate.__table__, rows.candidates)
    _insert(connection, AuditEvent.__table__, rows.audit)


def _insert(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany of ``rows`` into ``table``, with JSON and times made into driver
    values here (JSON as text, cast to JSONB on PostgreSQL; times as SQLite stores them):
    SQLAlchemy's per-value type processing would otherwise be most of a seed's time."""
    if not rows:
        return
    _apply_defaults(table, rows)
    postgres = connection.dialect.name == "postgresql"
    json_columns, time_columns, values = [], [], {}
    for name in rows[0]:
        kind = table.c[name].type
        if isinstance(kind, JSON):
            json_columns.append(name)
            text = bindparam(name, type_=Text)
            values[name] = cast(text, JSONB) if postgres else text
        elif isinstance(kind, UtcDateTime):
            time_columns.append(name)
            driver_type: Any = DateTime(timezone=True) if postgres else Text
            values[name] = bindparam(name, type_=driver_type)
        else:
            values[name] = bindparam(name, type_=kind)
    texts: dict[int, tuple[Any, str]] = {}  # a form shared by many tasks is serialised once
    for row in rows:
        for name in json_columns:
            value = row[name]
            if not isinstance(value, str):
                known = texts.get(id(value))
                if known is None or known[0] is not value:
                    known = texts[id(value)] = (value, json.dumps(value))
                row[name] = known[1]
        if not postgres:
            for name in time_columns:
                moment = row[name]
                if moment is not None:
                    row[name] = (
                        moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
                    )
    connection.execute(insert(table).values(values), rows)


class _Row:
    """What a column's default function is handed (``context``): the row being inserted."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.current_parameters = row

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:
        return self.current_parameters


def _apply_defaults(table: Any, rows: list[dict[str, Any]]) -> None:
    """Fill columns the rows leave out from their Python-side defaults, as an ORM insert
    would, while the values are still Python objects (the defaults may compute with them)."""
    for column in table.columns:
        default = column.default
        if column.name in rows[0] or default is None or not hasattr(default, "arg"):
            continue
        if default.is_callable:
            for row in rows:
                row[column.name] = default.arg(_Row(row))
        elif default.is_scalar:
            for row in rows:
                row[column.name] = default.arg


def analyze(engine: Engine) -> None:
    """Statistics for the query planners after a bulk insert (on PostgreSQL also the
    visibility map, so that reports can scan indexes only): what autovacuum would do later."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in ("instances", "tasks", "task_candidates", "audit_events"):
                connection.exec_driver_sql(f"VACUUM ANALYZE {table}")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
