"""Business calendars: working days, hours, time zone, public holidays by country, closures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app import clock
from app.db.models import Calendar, Instance, Workflow, WorkflowVersion
from app.deps import AdminUser, CurrentUser, SessionDep
from app.errors import ApiError, not_found
from app.schemas import ERRORS
from app.services.records import audit
from engine.calendar import DEFAULT_CALENDARS, calendar_from_dict

router = APIRouter(prefix="/api", tags=["calendars"], responses=ERRORS)


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: str = Field(default="UTC", max_length=64, examples=["Europe/Berlin"])
    work_days: list[int | str] = Field(default=[0, 1, 2, 3, 4], description="0 = Monday")
    start: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    end: str = Field(default="17:00", pattern=r"^\d{2}:\d{2}$")
    country: str | None = Field(default=None, max_length=64, description="public holidays, e.g. DE")
    subdivision: str | None = Field(default=None, max_length=64, description="e.g. BE for Berlin")
    closures: list[date] = Field(
        default_factory=list, max_length=1000, description="extra closed days"
    )


class CalendarOut(CalendarIn):
    name: str
    built_in: bool = False
    updated_at: datetime | None = None
    updated_by: str | None = None


def _out(name: str, settings: dict[str, Any], row: Calendar | None = None) -> CalendarOut:
    return CalendarOut(
        name=name,
        built_in=row is None,
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
        **settings,
    )


@router.get("/calendars", response_model=list[CalendarOut])
def list_calendars(session: SessionDep, me: CurrentUser) -> list[CalendarOut]:
    """Every calendar a workflow may name; admins' ones override the built-in ``business``."""
    rows = {row.name: row for row in session.scalars(select(Calendar))}
    out = [_out("business", {}, None)] if "business" not in rows else []
    out += [_out(name, row.settings, row) for name, row in sorted(rows.items())]
    return out


@router.put("/calendars/{name}", response_model=CalendarOut)
def save_calendar(
    name: str, body: CalendarIn, request: Request, session: SessionDep, me: AdminUser
) -> CalendarOut:
    if name == "24x7" or not name.replace("-", "").replace("_", "").isalnum() or len(name) > 100:
        raise ApiError(
            422, "invalid_request", "a calendar name uses letters, digits, '-' and '_' (not 24x7)"
        )
    settings = body.model_dump(mode="json")
    try:
        calendar_from_dict({**settings, "name": name})
    except ValueError as exc:
        raise ApiError(422, "invalid_calendar", str(exc)) from None
    row = session.get(Calendar, name)
    now = clock.now()
    if row is None:
        row = Calendar(name=name, settings=settings, updated_at=now, updated_by=me.username)
        session.add(row)
    else:
        row.settings, row.updated_at, row.updated_by = settings, now, me.username
    audit(session, "calendar.saved", actor=me.username, now=now, calendar=name)
    session.commit()
    request.app.state.definitions.forget_calendars()
    return _out(name, settings, row)


@router.delete("/calendars/{name}", status_code=204)
def delete_calendar(name: str, request: Request, session: SessionDep, me: AdminUser) -> None:
    row = session.get(Calendar, name)
    if row is None:
        raise not_found("calendar", name)
    if name not in DEFAULT_CALENDARS:  # a built-in's name falls back to the built-in
        users = _in_use(session, name)
        if users:
            raise ApiError(
                409,
                "calendar_in_use",
                f"calendar {name!r} is named by workflows that run on it: "
                + ", ".join(f"{key} v{version}" for key, version in users)
                + "; publish them without it (and let their running instances finish) first",
                [{"workflow": key, "version": version} for key, version in users],
            )
    session.delete(row)
    audit(session, "calendar.deleted", actor=me.username, now=clock.now(), calendar=name)
    session.commit()
    request.app.state.definitions.forget_calendars()


def _in_use(session: SessionDep, name: str) -> list[tuple[str, int]]:
    """The workflow versions that name calendar ``name`` (an SLA, a timer, a timeout) and
    are published or have running instances."""
    live = {
        (key, version)
        for key, version in session.execute(select(Workflow.key, Workflow.published_version))
        if version is not None
    }
    live |= {
        (key, version)
        for key, version in session.execute(
            select(Instance.workflow_key, Instance.workflow_version)
            .where(Instance.status == "running")
            .distinct()
        )
    }
    found = []
    for key, version in sorted(live):
        definition = session.scalar(
            select(WorkflowVersion.definition).where(
                WorkflowVersion.workflow_key == key, WorkflowVersion.version == version
            )
        )
        if _names(definition, name):
            found.append((key, version))
    return found


def _names(value: Any, name: str) -> bool:
    """Whether ``value`` (a definition's JSON) holds ``"calendar": name`` anywhere."""
    if isinstance(value, dict):
        return value.get("calendar") == name or any(_names(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_names(v, name) for v in value)
    return False


def calendar_names(session: SessionDep) -> list[str]:
    return sorted({*DEFAULT_CALENDARS, *session.scalars(select(Calendar.name))})
