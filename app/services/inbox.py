"""The inbox: the open tasks a person may work on, most urgent first.

One list of three sources: tasks held by me (``mine``), tasks handed to me by someone who
delegated them or is away (``delegated``, a part of mine), and unclaimed tasks offered to me or
one of my roles (``pool``). Each task has an SLA state, ``overdue``, ``at_risk``, ``ok`` or none
(no due time): at risk once a quarter of its SLA window is left (``Task.risk_at``), or once it
is due within the installation's threshold (``STEPWISE_SETTING_AT_RISK_MINUTES``), or when an
SLA reminder marked it. The same rules are written twice, as SQL for sorting and filtering
(``sla_rank``) and in Python for the answer (``sla_state``); ``tests/app/test_inbox.py``
checks that they agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session

from app import clock
from app.db.models import Instance, Task, TaskCandidate, Workflow
from app.deps import Principal
from app.services.access import is_away, offer, offered_to
from app.settings import Settings

Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class InboxFilter:
    """What ``GET /api/inbox`` narrows the list by (all optional but the scope)."""

    scope: str = "all"
    workflow: str | None = None
    stage: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    q: str | None = None
    sla: str | None = None
    sort: str = "sla"


@dataclass(frozen=True)
class InboxRow:
    """A task in the inbox with what the list shows of its instance."""

    task: Task
    workflow_name: str
    stage: str | None
    business_key: str | None


def at_risk_threshold(settings: Settings) -> timedelta:
    """``STEPWISE_SETTING_AT_RISK_MINUTES``: a task due within this long is at risk (0: off)."""
    raw = settings.extra.get("at_risk_minutes", "").strip()
    try:
        minutes = float(raw) if raw else 0.0
    except ValueError:
        minutes = 0.0
    return timedelta(minutes=max(0.0, min(minutes, 525_600.0)))  # at most a year


def held_by_me(me: Principal) -> ColumnElement[bool]:
    return and_(Task.status == "open", Task.assignee == me.username)


def handed_to_me(me: Principal) -> ColumnElement[bool]:
    """Held by me because someone delegated it to me or I cover for them while they are away."""
    return and_(held_by_me(me), or_(Task.delegated_from.isnot(None), Task.away_owner.isnot(None)))


MAX_BARRED = 500


def barred_from(session: Session, me: Principal) -> list[str] | None:
    """The open tasks I may not take (four eyes), or None when there are too many to list.

    Listing them once spares the pool query a second look-up per task: exclusions are
    few among open tasks (those of completed tasks stay in the table, hence the join)."""
    rows = session.scalars(
        select(TaskCandidate.task_id)
        .join(Task, Task.id == TaskCandidate.task_id)
        .where(
            TaskCandidate.kind == "exclude",
            TaskCandidate.name == me.username,
            Task.status == "open",
        )
        .limit(MAX_BARRED + 1)
    ).all()
    return list(rows) if len(rows) <= MAX_BARRED else None


def pool(me: Principal, barred: Sequence[str] | None) -> ColumnElement[bool]:
    """``access.offered_to`` with the exclusions given as a list (see ``barred_from``)."""
    if barred is None:
        return offered_to(me)
    return and_(
        Task.status == "open",
        Task.assignee.is_(None),
        offer(me),
        Task.id.not_in(list(barred)) if barred else true(),
    )


def scope_condition(
    me: Principal, scope: str, barred: Sequence[str] | None = None
) -> ColumnElement[bool]:
    """Tasks in my inbox's ``scope``; ``barred``: see ``barred_from`` (None: look each up)."""
    if scope == "mine":
        return held_by_me(me)
    if scope == "roles":
        return pool(me, barred)
    if scope == "delegated":
        return handed_to_me(me)
    return or_(held_by_me(me), pool(me, barred))


def source(task: Task, me: Principal) -> str:
    """Why the task is in my inbox: ``mine``, ``delegated`` (to me) or ``pool``."""
    if task.assignee != me.username:
        return "pool"
    return "delegated" if task.delegated_from or task.away_owner else "mine"


def in_inbox(task: Task, me: Principal, *, away_now: bool = False) -> bool:
    """``scope_condition(me, "all")`` for one loaded task, in Python (the live updates);
    ``away_now``: I am out of office, so my roles' pools leave me out."""
    if task.status != "open":
        return False
    if task.assignee is not None:
        return task.assignee == me.username
    if me.username in (task.excluded_users or []):
        return False
    return me.username in (task.candidate_users or []) or (
        not away_now and bool(me.roles & set(task.candidate_roles or []))
    )


def sla_rank(now: datetime, threshold: timedelta) -> ColumnElement[int]:
    """0 overdue, 1 at risk, 2 otherwise: the order of urgency (see ``sla_state``)."""
    return case(
        (or_(Task.overdue.is_(True), Task.due_at <= now), 0),
        (
            or_(Task.at_risk.is_(True), Task.risk_at <= now, Task.due_at <= now + threshold),
            1,
        ),
        else_=2,
    )


def sla_state(task: Task, now: datetime, threshold: timedelta) -> str | None:
    """``overdue``, ``at_risk``, ``ok``, or None for a task without a due time."""
    due = task.due_at
    if task.overdue or (due is not None and due <= now):
        return "overdue"
    if (
        task.at_risk
        or (task.risk_at is not None and task.risk_at <= now)
        or (due is not None and due <= now + threshold)
    ):
        return "at_risk"
    return "ok" if due is not None else None


def seconds_left(task: Task, now: datetime) -> int | None:
    """Until the task is due; negative once it is late."""
    if task.due_at is None:
        return None
    return int((task.due_at - now).total_seconds() // 1)


def _sla_condition(state: str, now: datetime, threshold: timedelta) -> ColumnElement[bool]:
    rank = sla_rank(now, threshold)
    if state == "overdue":
        return rank == 0
    if state == "at_risk":
        return rank == 1
    if state == "ok":
        return and_(rank == 2, Task.due_at.isnot(None))
    return and_(rank == 2, Task.due_at.is_(None))


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own characters taken literally (escape ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(
    query: Select[*Ts],
    me: Principal,
    f: InboxFilter,
    now: datetime,
    threshold: timedelta,
    barred: Sequence[str] | None,
) -> Select[*Ts]:
    query = query.where(scope_condition(me, f.scope, barred))
    if f.workflow:
        query = query.where(Task.workflow_key == f.workflow)
    if f.stage:
        query = query.where(Instance.stage == f.stage)
    if f.due_before is not None:
        query = query.where(Task.due_at < f.due_before)
    if f.due_after is not None:
        query = query.where(Task.due_at >= f.due_after)
    if f.sla:
        query = query.where(_sla_condition(f.sla, now, threshold))
    if f.q:
        pattern = like_pattern(f.q)
        query = query.where(
            or_(
                Task.name.ilike(pattern, escape="\\"),
                Instance.business_key.ilike(pattern, escape="\\"),
                Workflow.name.ilike(pattern, escape="\\"),
            )
        )
    return query


def _order(f: InboxFilter, now: datetime, threshold: timedelta) -> list[Any]:
    due_last = [Task.due_at.is_(None), Task.due_at]
    tail = [Task.created_at, Task.id]
    if f.sort == "due":
        return [*due_last, *tail]
    if f.sort == "-due":
        return [Task.due_at.is_(None), Task.due_at.desc(), *tail]
    if f.sort == "created":
        return tail
    if f.sort == "-created":
        return [Task.created_at.desc(), Task.id]
    if f.sort == "priority":
        return [Task.priority.desc(), *due_last, *tail]
    return [sla_rank(now, threshold), Task.priority.desc(), *due_last, *tail]


def _joined(query: Select[*Ts]) -> Select[*Ts]:
    return query.join(Instance, Instance.id == Task.instance_id).join(
        Workflow, Workflow.key == Task.workflow_key
    )


def list_inbox(
    session: Session,
    *,
    me: Principal,
    f: InboxFilter,
    now: datetime,
    threshold: timedelta,
    offset: int,
    limit: int,
) -> tuple[list[InboxRow], int]:
    """A page of my inbox and how many tasks the filter finds in all.

    Two steps, for speed with thousands of tasks in a pool: the page's task ids and the count
    in one narrow query (``count(*) OVER ()``, sorted without the joins and the wide columns),
    then those tasks with their instances."""
    _without_jit(session)
    narrow = select(Task.id, func.count().over())
    if f.stage or f.q:
        narrow = _joined(narrow)
    barred = barred_from(session, me)
    narrow = _where(narrow, me, f, now, threshold, barred).order_by(*_order(f, now, threshold))
    page = session.execute(narrow.offset(offset).limit(limit)).all()
    if page:
        total = page[0][1]
    else:
        counted = select(func.count(Task.id)).select_from(Task)
        counted = _joined(counted) if f.stage or f.q else counted
        total = session.scalar(_where(counted, me, f, now, threshold, barred)) or 0
    found = {r.task.id: r for r in rows_for(session, [task_id for task_id, _ in page])}
    return [found[task_id] for task_id, _ in page if task_id in found], total


def _without_jit(session: Session) -> None:
    """PostgreSQL's cost estimate for the pool's semi-join is far too high, and compiling the
    query (JIT) would then take longer than running it: off for this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def rows_for(session: Session, task_ids: Sequence[str]) -> list[InboxRow]:
    """Inbox rows for these tasks (any state), in no particular order."""
    if not task_ids:
        return []
    query = _joined(select(Task, Workflow.name, Instance.stage, Instance.business_key)).where(
        Task.id.in_(list(task_ids))
    )
    return [
        InboxRow(t, name or t.workflow_key, stage, bk)
        for t, name, stage, bk in session.execute(query)
    ]


def inbox_ids(session: Session, me: Principal) -> dict[str, datetime | None]:
    """Every task in my inbox now, with when it last changed."""
    _without_jit(session)
    query = select(Task.id, Task.updated_at).where(
        scope_condition(me, "all", barred_from(session, me))
    )
    found: dict[str, datetime | None] = {}
    for task_id, changed in session.execute(query):
        found[task_id] = changed
    return found


def changed_since(session: Session, since: datetime, limit: int = 1000) -> list[Task]:
    """Tasks whose rows changed at or after ``since`` (system clock), oldest change first."""
    query = (
        select(Task).where(Task.updated_at >= since).order_by(Task.updated_at, Task.id).limit(limit)
    )
    return list(session.scalars(query))


Change = tuple[str, str, InboxRow | None]
"""An inbox change: (``added`` | ``changed`` | ``removed``, task id, the row unless removed)."""


class InboxWatch:
    """What changed in one person's inbox since the last look, for the live updates.

    It knows the inbox's task ids (read in full at the start), then each look reads only the
    tasks whose rows changed since the previous look (``Task.updated_at``, indexed), minus an
    overlap for transactions that committed late and for clocks a little apart between
    processes. Every ``RECONCILE`` it compares the whole inbox again, which catches what a
    look may have missed (a transaction longer than the overlap, a change in bulk).
    """

    OVERLAP = timedelta(seconds=5)
    RECONCILE = timedelta(seconds=60)
    BATCH = 1000

    def __init__(self, me: Principal) -> None:
        self.me = me
        self.known: dict[str, datetime | None] = {}
        self.since = self.reconciled = datetime.now(UTC)

    def start(self, session: Session) -> list[Change]:
        self.since = self.reconciled = datetime.now(UTC) - self.OVERLAP
        self.known = inbox_ids(session, self.me)
        return []

    def poll(self, session: Session) -> list[Change]:
        now = datetime.now(UTC)
        if now - self.reconciled >= self.RECONCILE:
            return self.reconcile(session)
        changed = changed_since(session, self.since, self.BATCH)
        if len(changed) >= self.BATCH:
            return self.reconcile(session)
        self.since = now - self.OVERLAP
        kinds: dict[str, str] = {}
        away_now = bool(changed) and is_away(session, self.me.username, clock.now())
        for task in changed:
            was = task.id in self.known
            if in_inbox(task, self.me, away_now=away_now):
                if not was:
                    kinds[task.id] = "added"
                elif self.known[task.id] != task.updated_at:
                    kinds[task.id] = "changed"
                self.known[task.id] = task.updated_at
            elif was:
                del self.known[task.id]
                kinds[task.id] = "removed"
        return self._changes(session, kinds)

    def reconcile(self, session: Session) -> list[Change]:
        now = datetime.now(UTC)
        self.since = self.reconciled = now - self.OVERLAP
        current = inbox_ids(session, self.me)
        kinds = dict.fromkeys(self.known.keys() - current.keys(), "removed")
        for task_id, changed in current.items():
            if task_id not in self.known:
                kinds[task_id] = "added"
            elif self.known[task_id] != changed:
                kinds[task_id] = "changed"
        self.known = current
        return self._changes(session, kinds)

    def _changes(self, session: Session, kinds: dict[str, str]) -> list[Change]:
        rows = {
            r.task.id: r for r in rows_for(session, [t for t, k in kinds.items() if k != "removed"])
        }
        return [
            (kind, task_id, None if kind == "removed" else rows.get(task_id))
            for task_id, kind in kinds.items()
            if kind == "removed" or task_id in rows
        ]
