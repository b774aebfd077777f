"""Data tables (inventory, price lists): rows keyed by their key columns.

Table operations from workflows run inside the step's transaction, so a stock
reservation and the instance's move happen together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.db.models import DataRow, DataTable
from engine import TableOperation


def row_key(table: DataTable, values: Mapping[str, Any]) -> str:
    """The key of a row: its key columns' values joined (raises KeyError when one is missing)."""
    return "\x1f".join(str(values[column]) for column in table.key_columns)


def _row(session: Session, table: DataTable, key: Mapping[str, Any]) -> DataRow | None:
    return session.scalar(
        select(DataRow)
        .where(DataRow.table_name == table.name, DataRow.row_key == row_key(table, key))
        .with_for_update()
    )


def apply_operation(session: Session, op: TableOperation) -> dict[str, Any]:
    """Carry out a workflow's table operation; returns TableResult's ``result`` and ``error``."""
    table = session.get(DataTable, op.table)
    if table is None:
        return {"error": f"there is no data table {op.table!r}"}
    try:
        if op.op == "get":
            rows = [_row(session, table, key) for key in op.keys]
            found = [dict(r.values) if r else None for r in rows]
            return {"result": found if op.each else found[0]}
        if op.op == "insert":
            for key, values in zip(op.keys, op.values, strict=True):
                record = {**values, **key}
                if _row(session, table, record) is not None:
                    return {"error": f"{op.table} already has a row {row_key(table, record)!r}"}
                session.add(
                    DataRow(table_name=table.name, row_key=row_key(table, record), values=record)
                )
            return {"result": {"ok": True}}
        if op.op == "update":
            for key, values in zip(op.keys, op.values, strict=True):
                row = _row(session, table, key)
                if row is None:
                    return {"error": f"{op.table} has no row {row_key(table, key)!r}"}
                row.values = {**row.values, **values}
                row.version += 1
                row.updated_at = clock.now()
            return {"result": {"ok": True}}
        return _increment(session, table, op)
    except KeyError as exc:
        return {"error": f"a key column is missing: {exc}"}


def _increment(session: Session, table: DataTable, op: TableOperation) -> dict[str, Any]:
    """Add to numeric columns, all or nothing: no column may go below zero."""
    planned: list[tuple[DataRow, dict[str, Any]]] = []
    short: list[dict[str, Any]] = []
    for key, deltas in zip(op.keys, op.values, strict=True):
        row = _row(session, table, key)
        if row is None:
            short.append({**key, "missing": True})
            continue
        new = dict(row.values)
        for column, delta in deltas.items():
            current = new.get(column, 0)
            if not isinstance(current, int | float) or not isinstance(delta, int | float):
                return {"error": f"{op.table}.{column} is not a number"}
            new[column] = current + delta
            if new[column] < 0:
                short.append({**key, "column": column, "available": current, "wanted": -delta})
        planned.append((row, new))
    if short:
        return {"result": {"ok": False, "short": short}}
    now = clock.now()
    for row, new in planned:
        row.values = new
        row.version += 1
        row.updated_at = now
    return {"result": {"ok": True, "rows": [new for _, new in planned]}}
