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


def _fitted(table: DataTable, values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The row as the table API would store it (every column, each value of its column's
    type), or why it does not fit: a workflow writes by the same rules as a person."""
    from app.services.csvio import check_row  # csvio builds on row_key, from here

    clean, errors = check_row(table, values)
    if not errors:
        return clean, None
    cells = "; ".join(f"{e.column}: {e.message}" if e.column else e.message for e in errors)
    return values, f"the row does not fit the table {table.name!r}: {cells}"


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
            added: list[DataRow] = []
            for key, values in zip(op.keys, op.values, strict=True):
                record, problem = _fitted(table, {**values, **key})
                if problem:
                    return {"error": problem}
                new_key = row_key(table, record)
                if _row(session, table, record) is not None or any(
                    r.row_key == new_key for r in added
                ):
                    return {"error": f"{op.table} already has a row {new_key!r}"}
                added.append(DataRow(table_name=table.name, row_key=new_key, values=record))
            session.add_all(added)  # all or nothing
            return {"result": {"ok": True}}
        if op.op == "update":
            changed: list[tuple[DataRow, dict[str, Any]]] = []
            for key, values in zip(op.keys, op.values, strict=True):
                row = _row(session, table, key)
                if row is None:
                    return {"error": f"{op.table} has no row {row_key(table, key)!r}"}
                record, problem = _fitted(table, {**row.values, **values})
                if problem:
                    return {"error": problem}
                changed.append((row, record))
            now = clock.now()
            for row, record in changed:  # all or nothing
                row.values = record
                row.version += 1
                row.updated_at = now
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
        new, problem = _fitted(table, new)
        if problem:
            return {"error": problem}
        planned.append((row, new))
    if short:
        return {"result": {"ok": False, "short": short}}
    now = clock.now()
    for row, new in planned:
        row.values = new
        row.version += 1
        row.updated_at = now
    return {"result": {"ok": True, "rows": [new for _, new in planned]}}
