"""An instance's top-level data fields as text, kept beside its state for reports to group on.

The report builder groups by a data field (``data.warehouse``, ``data.tier``) over a hundred
thousand instances; reading each one's state JSON for that took over a second. So every step
also keeps ``instance_fields`` (one row per field) in step with the data, and a report joins
that narrow table instead.

Which fields: top-level ones named like identifiers, holding text (the first
``MAX_VALUE`` characters), a number or yes/no. A value is kept as PostgreSQL's ``#>>`` would
give it: text as itself, numbers and yes/no as JSON (``30``, ``12.5``, ``true``). Objects,
lists and nulls are not kept (a report shows them as no value), nor is ``tracking_url``,
different for every instance.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, delete, insert
from sqlalchemy.orm import Session

from app.db.models import InstanceField

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_VALUE = 200
SKIPPED = frozenset({"tracking_url"})


def report_fields(data: Mapping[str, Any] | None) -> dict[str, str]:
    """The fields of ``data`` that reports can group on, as text."""
    found: dict[str, str] = {}
    for name, value in (data or {}).items():
        if name in SKIPPED or not NAME.match(name):
            continue
        if isinstance(value, str):
            found[name] = value[:MAX_VALUE]
        elif isinstance(value, bool):
            found[name] = "true" if value else "false"
        elif isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
            found[name] = json.dumps(value)
    return found


def sync(
    session: Session,
    instance_id: str,
    before: dict[str, str],
    after: dict[str, str],
    *,
    pending: bool = False,
) -> None:
    """Make the stored fields of ``instance_id`` go from ``before`` to ``after``: at most a
    delete and an insert, and nothing at all when no field changed (most steps).
    ``pending``: the instance is new and not written yet; its fields are added to the
    session, to go in after it."""
    if before == after:
        return
    if pending:
        session.add_all(
            InstanceField(instance_id=instance_id, name=name, value=value)
            for name, value in after.items()
        )
        return
    gone = [name for name, value in before.items() if after.get(name) != value]
    new = [
        {"instance_id": instance_id, "name": name, "value": value}
        for name, value in after.items()
        if before.get(name) != value
    ]
    table = cast(Table, InstanceField.__table__)
    # Its own rows only (the instance's row is in the database already): no need to flush
    # what else the step has pending, which then goes in with the commit, kind by kind.
    with session.no_autoflush:
        if gone:
            session.execute(
                delete(table).where(table.c.instance_id == instance_id, table.c.name.in_(gone))
            )
        if new:
            session.execute(insert(table), new)
