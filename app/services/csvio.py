"""Data-table values in and out: column types, checks of JSON values, CSV import and export.

A column is ``{"name", "type"}`` with the type one of ``string``, ``integer``, ``number``,
``boolean``; any cell may be empty (``None``) except a key column's. JSON values are checked
strictly (``"5"`` is not an integer); CSV text is coerced, since everything in a CSV is text.

CSV rules, chosen so that an export opened in a spreadsheet and saved again imports cleanly:

- the first line names the columns, in any order; key columns are required, others optional;
- an empty cell is no value; lines with only empty cells are skipped;
- booleans read ``true/false/1/0/yes/no`` (any case) and are written ``true``/``false``;
- the delimiter is ``,``, or ``;`` or a tab when the header line uses that instead (Excel in
  many European locales saves with ``;``);
- a text cell that a spreadsheet would run as a formula (``= + - @``, tab, CR) is written
  with a leading ``'``, and that ``'`` is taken off again on import (OWASP's advice on CSV
  injection, kept reversible so that the round trip does not change the data).

An import is planned in full before anything is written: :func:`plan_import` returns the rows
to insert, update and delete, and the caller either shows that plan (a dry run) or applies it
with :func:`apply_plan` only when the file had no errors.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import DataRow, DataTable
from app.services.tables import row_key

COLUMN_TYPES = ("string", "integer", "number", "boolean")
ImportMode = Literal["upsert", "replace"]

MAX_TEXT = 10_000
"""The longest text a cell may hold."""
MAX_KEY = 500
"""The longest a row's key may be (the ``data_rows.row_key`` column's size)."""
SAFE_INTEGER = 2**53 - 1
"""Integers beyond this lose precision in the browser's JavaScript numbers, so we refuse them."""

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_EXPECTED = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


@dataclass(frozen=True)
class CellError:
    """A problem with one value: ``line`` counts from 1 (the header), ``None`` for JSON input."""

    line: int | None
    column: str | None
    message: str


@dataclass(frozen=True)
class ParsedRow:
    line: int
    values: dict[str, Any]
    """Only the columns the file has."""


@dataclass
class ParsedCsv:
    header: list[str] = field(default_factory=list)
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """One row an import would insert (``before`` is None), update, or delete (``after`` None)."""

    line: int | None
    key: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    row_id: str | None = None


@dataclass
class ImportPlan:
    insert: list[Change] = field(default_factory=list)
    update: list[Change] = field(default_factory=list)
    delete: list[Change] = field(default_factory=list)
    unchanged: int = 0


# --- types ----------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return repr(value)
    return type(value).__name__


def check_value(kind: str, value: Any) -> Any:
    """``value`` if it fits a column of type ``kind``; raises ``ValueError`` saying why not."""
    if value is None:
        return None
    if kind == "string" and isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(f"is longer than {MAX_TEXT} characters")
        if "\x00" in value:
            raise ValueError("has a NUL character, which text cannot hold")
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > SAFE_INTEGER:
            raise ValueError(f"is beyond ±{SAFE_INTEGER}")
        return value
    if (
        kind == "number"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    ):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    raise ValueError(f"expected {_EXPECTED.get(kind, kind)}, got {_describe(value)}")


def parse_cell(kind: str, text: str) -> Any:
    """A CSV cell's text as a value of type ``kind``; empty is ``None``."""
    if kind == "string":
        if text == "":
            return None
        if text.startswith("'") and text[1:].startswith(_FORMULA_START):
            text = text[1:]
        return check_value(kind, text)
    stripped = text.strip()
    if stripped == "":
        return None
    if kind == "integer":
        if not _INTEGER.fullmatch(stripped):
            raise ValueError(f"expected a whole number, got {text!r}")
        return check_value(kind, int(stripped))
    if kind == "number":
        if not _NUMBER.fullmatch(stripped):
            raise ValueError(f"expected a number, got {text!r}")
        number = float(stripped)
        if not math.isfinite(number):
            raise ValueError(f"{text!r} is too large")
        return int(stripped) if _INTEGER.fullmatch(stripped) else number
    if kind == "boolean":
        lowered = stripped.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"expected true/false, 1/0 or yes/no, got {text!r}")
    raise ValueError(f"the column has an unknown type {kind!r}")


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def column_types(table: DataTable) -> dict[str, str]:
    return {str(c["name"]): str(c["type"]) for c in table.columns}


def key_of(table: DataTable, values: Mapping[str, Any]) -> dict[str, Any]:
    return {column: values.get(column) for column in table.key_columns}


def describe_key(table: DataTable, values: Mapping[str, Any]) -> str:
    return ", ".join(f"{column}={values.get(column)!r}" for column in table.key_columns)


def _key_problems(table: DataTable, values: Mapping[str, Any], line: int | None) -> list[CellError]:
    problems = [
        CellError(line, column, "a key column needs a value")
        for column in table.key_columns
        if values.get(column) is None or values.get(column) == ""
    ]
    if not problems and len(row_key(table, values)) > MAX_KEY:
        problems.append(CellError(line, None, f"the key is longer than {MAX_KEY} characters"))
    return problems


def check_row(
    table: DataTable, values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[CellError]]:
    """A whole row from JSON: every column, missing ones ``None``; unknown columns are errors."""
    types = column_types(table)
    errors = [
        CellError(None, name, "is not a column of this table")
        for name in values
        if name not in types
    ]
    clean: dict[str, Any] = {}
    for name, kind in types.items():
        try:
            clean[name] = check_value(kind, values.get(name))
        except ValueError as exc:
            errors.append(CellError(None, name, str(exc)))
    if not errors:
        errors.extend(_key_problems(table, clean, None))
    return clean, errors


# --- CSV ------------------------------------------------------------------------------------


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def decode(data: bytes) -> tuple[str | None, CellError | None]:
    """UTF-8 text (a leading byte-order mark, as Excel writes, is dropped)."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, CellError(line, None, "the file is not UTF-8 text; save it as CSV UTF-8")


def read_csv(table: DataTable, text: str) -> ParsedCsv:
    """Parse and type-check every line; collects all the errors rather than stopping at one."""
    parsed = ParsedCsv()
    types = column_types(table)
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(text.partition("\n")[0]), strict=True
    )
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        parsed.errors.append(CellError(1, None, f"the header line is not valid CSV: {exc}"))
        return parsed
    parsed.header = header
    if not any(header):
        parsed.errors.append(
            CellError(1, None, "the file is empty; the first line names the columns")
        )
        return parsed
    seen_names: set[str] = set()
    for name in header:
        if name not in types:
            parsed.errors.append(CellError(1, name, "is not a column of this table"))
        elif name in seen_names:
            parsed.errors.append(CellError(1, name, "appears twice in the header"))
        seen_names.add(name)
    parsed.errors.extend(
        CellError(1, column, "the header lacks this key column")
        for column in table.key_columns
        if column not in seen_names
    )
    if parsed.errors:
        return parsed

    first_line_of: dict[str, int] = {}
    previous = reader.line_num
    try:
        for record in reader:
            line, previous = previous + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                parsed.errors.append(
                    CellError(line, None, f"expected {len(header)} fields, found {len(record)}")
                )
                continue
            values: dict[str, Any] = {}
            problems: list[CellError] = []
            for name, cell in zip(header, record, strict=True):
                try:
                    values[name] = parse_cell(types[name], cell)
                except ValueError as exc:
                    problems.append(CellError(line, name, str(exc)))
            problems = problems or _key_problems(table, values, line)
            if not problems:
                key = row_key(table, values)
                if key in first_line_of:
                    problems.append(
                        CellError(
                            line,
                            None,
                            f"the key {describe_key(table, values)} is also on line {first_line_of[key]}",
                        )
                    )
                first_line_of.setdefault(key, line)
            parsed.errors.extend(problems)
            if not problems:
                parsed.rows.append(ParsedRow(line, values))
    except csv.Error as exc:
        parsed.errors.append(CellError(previous + 1, None, f"the line is not valid CSV: {exc}"))
    return parsed


def write_csv(table: DataTable, rows: Iterable[Mapping[str, Any]]) -> str:
    """A header line with the column names, then one line per row."""
    names = list(column_types(table))
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for values in rows:
        writer.writerow([format_cell(values.get(name)) for name in names])
    return out.getvalue()


# --- import ---------------------------------------------------------------------------------


def plan_import(
    table: DataTable,
    parsed: ParsedCsv,
    existing: Sequence[DataRow],
    *,
    mode: ImportMode,
) -> ImportPlan:
    """What an import would change. ``upsert`` keeps rows the file does not name, and columns the
    file lacks keep their values; ``replace`` makes the table exactly the file."""
    names = list(column_types(table))
    by_key = {row.row_key: row for row in existing}
    plan = ImportPlan()
    named: set[str] = set()
    for parsed_row in parsed.rows:
        key = row_key(table, parsed_row.values)
        named.add(key)
        whole = {name: parsed_row.values.get(name) for name in names}
        row = by_key.get(key)
        if row is None:
            plan.insert.append(Change(parsed_row.line, key_of(table, whole), None, whole))
            continue
        after = whole if mode == "replace" else {**row.values, **parsed_row.values}
        if after == row.values:
            plan.unchanged += 1
        else:
            plan.update.append(
                Change(parsed_row.line, key_of(table, whole), dict(row.values), after, row.id)
            )
    if mode == "replace":
        plan.delete.extend(
            Change(None, key_of(table, row.values), dict(row.values), None, row.id)
            for row in existing
            if row.row_key not in named
        )
    return plan


def existing_rows(session: Session, table: DataTable, *, lock: bool) -> list[DataRow]:
    query = select(DataRow).where(DataRow.table_name == table.name).order_by(DataRow.row_key)
    return list(session.scalars(query.with_for_update() if lock else query))


def apply_plan(session: Session, *, table: DataTable, plan: ImportPlan, now: datetime) -> None:
    """Write a plan made from rows read (and locked) in this same transaction."""
    for change in plan.delete:
        session.delete(_planned_row(session, change))
    session.flush()
    for change in plan.update:
        row = _planned_row(session, change)
        row.values = dict(change.after or {})
        row.version += 1
        row.updated_at = now
    for change in plan.insert:
        values = dict(change.after or {})
        session.add(
            DataRow(
                table_name=table.name, row_key=row_key(table, values), values=values, updated_at=now
            )
        )
    session.flush()


def _planned_row(session: Session, change: Change) -> DataRow:
    row = session.get(DataRow, change.row_id) if change.row_id else None
    if row is None:
        raise LookupError(f"the row {change.key} went away while importing")
    return row
