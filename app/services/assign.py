"""Resolving an engine's assignee spec to people: users, role pools and policies.

The engine decides what it can from the instance (an expression's users, who
did an earlier step); the app knows who exists, who is active and who is in a
role. A role pool is checked against the role's members when someone claims a
task, not frozen here (DESIGN semantics 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Membership, Task, User
from app.services.access import away
from engine import CreateTask


@dataclass
class Resolution:
    assignee: str | None = None
    away_owner: str | None = None
    candidate_users: list[str] = field(default_factory=list)
    candidate_roles: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    away: set[str] = field(default_factory=set)
    present: set[str] = field(default_factory=set)
    """Users known to be active and not away now (no need to look for who covers for them)."""


def active_users(session: Session, names: list[str] | tuple[str, ...]) -> list[str]:
    if not names:
        return []
    found = set(
        session.scalars(select(User.username).where(User.username.in_(names), User.is_active))
    )
    return [n for n in names if n in found]


def present_users(
    session: Session, names: list[str] | tuple[str, ...], now: datetime
) -> tuple[list[str], set[str]]:
    """``active_users``, and which of them are in (not away at ``now``), in one query: a
    task for a named person who is in needs no look at delegates."""
    if not names:
        return [], set()
    rows = session.execute(
        select(User.username, away(User.username, now)).where(
            User.username.in_(names), User.is_active
        )
    )
    found: dict[str, bool] = {name: bool(is_away) for name, is_away in rows}
    return [n for n in names if n in found], {n for n, is_away in found.items() if not is_away}


def role_members(session: Session, role: str) -> list[str]:
    rows = session.scalars(
        select(User.username)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role == role, User.is_active)
        .order_by(User.username)
    )
    return list(rows)


def _pick(session: Session, role: str, policy: str, excluded: list[str]) -> str | None:
    members = [m for m in role_members(session, role) if m not in excluded]
    if not members:
        return None
    if policy == "least_loaded":
        load: dict[str | None, int] = dict(
            session.execute(
                select(Task.assignee, func.count())
                .where(Task.status == "open", Task.assignee.in_(members))
                .group_by(Task.assignee)
            ).all()
        )
        fewest = min(load.get(m, 0) for m in members)
        members = [m for m in members if load.get(m, 0) == fewest]
        if len(members) == 1:
            return members[0]
        # a tie (everyone idle, often): in turns, as round robin, not always the first by name
    # round robin: whoever was given a task from this role's pool longest ago (or never);
    # what someone was given in another role, or by name, does not count here
    rows = session.execute(
        select(Task.assignee, func.max(Task.created_at))
        .where(Task.assignee.in_(members), Task.role == role)
        .group_by(Task.assignee)
    )
    last: dict[str | None, Any] = {row[0]: row[1] for row in rows}
    never = [m for m in members if m not in last]
    if never:
        return never[0]
    return min(members, key=lambda m: (last[m], m))


def resolve(
    session: Session,
    effect: CreateTask,
    spec: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Resolution:
    """Who gets the task ``effect`` asks for; someone away is covered by their delegate."""
    out = _resolve(session, effect, spec, now)
    if out.assignee is not None and now is not None and out.assignee not in out.present:
        from app.services.people import cover_for  # people builds on the runner, which uses us

        role = (spec or effect.assignee).get("role") or ((effect.fallback or {}).get("role"))
        cover = cover_for(session, out.assignee, now, role=role)
        if cover.user != out.assignee:
            out.away_owner = out.assignee
            out.notes.append(cover.note)
            out.assignee = cover.user
            if cover.user is None:
                if role:
                    out.candidate_roles = [role]
                else:
                    out.candidate_users = [out.away_owner]
    return out


def _resolve(
    session: Session, effect: CreateTask, spec: dict[str, Any] | None, now: datetime | None
) -> Resolution:
    spec = spec if spec is not None else effect.assignee
    out = Resolution(excluded=list(effect.exclude))
    if now is not None:
        from app.services.people import away_users

        out.away = (
            away_users(session, role_members(session, spec["role"]), now)
            if spec.get("role")
            else set()
        )
    if effect.users:
        if now is not None:
            users, out.present = present_users(session, effect.users, now)
        else:
            users = active_users(session, effect.users)
        users = [u for u in users if u not in out.excluded]
        missing = [u for u in effect.users if u not in users]
        if missing:
            out.notes.append(f"not available: {', '.join(missing)}")
        if len(users) == 1:
            out.assignee = users[0]
            return out
        if users:
            out.candidate_users = users
            return out
        if effect.fallback is not None:
            out.notes.append("falling back to the earlier step's own assignment rule")
            return _resolve_spec(session, effect.fallback, out)
        return out
    if spec.get("role") is None and spec.get("user") is None and effect.fallback is not None:
        return _resolve_spec(session, effect.fallback, out)
    return _resolve_spec(session, spec, out)


def _resolve_spec(session: Session, spec: dict[str, Any], out: Resolution) -> Resolution:
    if spec.get("user"):
        users = active_users(session, [spec["user"]])
        if users and users[0] not in out.excluded:
            out.assignee = users[0]
        else:
            out.notes.append(f"user {spec['user']} is not available")
        return out
    role = spec.get("role")
    if role:
        policy = spec.get("policy", "claim")
        if policy == "claim":
            out.candidate_roles = [role]
        else:
            out.assignee = _pick(session, role, policy, [*out.excluded, *out.away])
            if out.assignee is None:
                out.candidate_roles = [role]
                out.notes.append(f"no available member of {role}; offered to the pool")
    return out
