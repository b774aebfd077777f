"""Plumbing of one step: the copy-on-write state, effects, tasks, timers, waits, incidents.

See ``engine.interpreter`` for the design.
"""

from __future__ import annotations

from collections import ChainMap, deque
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from engine.calendar import DEFAULT_CALENDARS, BusinessCalendar, add_duration
from engine.compiled import Compiled
from engine.effects import (
    CancelTask,
    CancelTimer,
    CancelWait,
    CreateTask,
    Effect,
    InstanceFinished,
    RaiseIncident,
    ScheduleTimer,
)
from engine.expressions import ExpressionError, MissingNameError
from engine.model import (
    ApprovalNode,
    Assignee,
    UserTaskNode,
)

_CONTAINERS: Final = {
    "tokens": dict,
    "waits": dict,
    "tasks": dict,
    "timers": dict,
    "joins": dict,
    "done": dict,
    "stages": list,
    "path": list,
    "decisions": list,
    "incidents": dict,
}

_EAGER: Final = frozenset(("tokens", "waits", "tasks", "timers", "path"))
_ALL_SET: Final = frozenset(_CONTAINERS)
_NUMBERS: Final = tuple(str(n) for n in range(1000))
"""Ids' numbers as text, made once: an instance rarely counts past a few hundred."""

Calendars = Mapping[str, BusinessCalendar | None]


class Run:
    """One step in progress: the copied state, the effects so far, the token work list."""

    __slots__ = (
        "c",
        "cals",
        "effects",
        "emit",
        "max_moves",
        "moments",
        "now",
        "now_iso",
        "queue",
        "s",
        "touched",
    )

    def __init__(
        self,
        compiled: Compiled,
        state: Mapping[str, Any],
        now: datetime,
        calendars: Calendars | None,
        max_moves: int,
        *,
        fresh: bool = False,
    ) -> None:
        self.c = compiled
        self.max_moves = max_moves
        s = self.s = dict(state)
        if fresh:
            self.touched: set[str] = set(_ALL_SET)
        else:
            # Nearly every step changes these, so they are copied up front rather than on
            # first change (which costs a call per access on the hottest paths).
            s["tokens"], s["waits"] = dict(s["tokens"]), dict(s["waits"])
            s["tasks"], s["timers"] = dict(s["tasks"]), dict(s["timers"])
            s["path"] = list(s["path"])
            self.touched = set(_EAGER)  # copying a set: no hashing again
        self.now = now
        self.now_iso = iso(now)
        self.effects: list[Effect] = []
        # the list's own append: emitting is the commonest call of a step
        self.emit: Callable[[Effect], None] = self.effects.append
        self.queue: deque[tuple[str, str, str | None]] = deque()
        self.cals = calendars
        self.moments: dict[tuple[str, str | None], datetime] = {}

    def m(self, key: str) -> Any:
        """The container ``key`` of the new state, copied on first change."""
        if key not in self.touched:
            self.s[key] = _CONTAINERS[key](self.s[key])
            self.touched.add(key)
        return self.s[key]

    def new_id(self, prefix: str) -> str:
        seq: int = self.s["seq"] + 1
        self.s["seq"] = seq
        return prefix + (_NUMBERS[seq] if seq < len(_NUMBERS) else str(seq))

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.s["data"]
        return data

    def merge(self, values: Any, key: str | None = None) -> None:
        """Merge ``values`` into the data at the top level, or put them under ``key``
        (a dotted key nests, as ``set`` does)."""
        if key:
            self.assign(key, values)
        elif values:
            self.s["data"] = {**self.s["data"], **values}

    def calendar(self, name: str | None) -> BusinessCalendar | None:
        if name is None:
            return None
        for table in (self.cals, DEFAULT_CALENDARS):
            if table is not None and name in table:
                return table[name]
        raise Incident(
            "unknown_calendar", f"there is no business calendar named {name!r}", {"calendar": name}
        )

    def at(self, duration: str, calendar: str | None = None) -> datetime:
        """``now`` plus ``duration``, remembered for the rest of the step: the tasks of an
        approval share one SLA, and a due time and an escalation often share a duration."""
        key = (duration, calendar)
        moment = self.moments.get(key)
        if moment is None:
            try:
                moment = add_duration(self.now, duration, self.calendar(calendar))
            except ValueError as exc:
                raise Incident("bad_duration", str(exc), {"duration": duration}) from None
            self.moments[key] = moment
        return moment

    def evaluate(self, source: str, extra: Mapping[str, Any] | None = None) -> Any:
        try:
            expression = self.c.expr(source)
            data: dict[str, Any] = self.s["data"]
            names: Mapping[str, Any] = data
            if extra is not None:
                # an expression that reads nothing but the extra names (a decision cell on
                # ``value``, a table key on ``item``) needs no view of the data behind them
                names = extra if expression.names <= extra.keys() else ChainMap(dict(extra), data)
            context = self.context() if self.c.contextual(source) else None
            return expression.evaluate(names, now=self.now, context=context)
        except MissingNameError as missing:
            raise Incident(
                "missing_data",
                f"{missing.message} (in {source!r})",
                {"expression": source, "missing": missing.name},
            ) from None
        except ExpressionError as failed:  # its own name: compiled, each name has one type
            raise Incident(
                "expression_failed", f"{failed.message} (in {source!r})", {"expression": source}
            ) from None

    def context(self) -> dict[str, Any]:
        """What the reserved names ``instance`` (and ``task``) stand for in expressions."""
        return {
            "instance": {
                "status": self.s["status"],
                "stage": self.s["stage"],
                "started_at": self.s.get("started_at"),
                "started_by": self.s.get("started_by"),
                "data": self.s["data"],
            }
        }

    def assign(self, name: str, value: Any) -> None:
        """Set a data field; a dotted name (``tax.amount``) sets a field inside a record.
        ``value`` must be plain JSON already (see ``json_safe`` for expression results)."""
        head, _, rest = name.partition(".")
        if not rest:
            self.s["data"] = {**self.data, name: value}
            return
        parent = self.data.get(head)
        parent = dict(parent) if isinstance(parent, Mapping) else {}
        parts = rest.split(".")
        cursor = parent
        for part in parts[:-1]:
            child = cursor.get(part)
            cursor[part] = dict(child) if isinstance(child, Mapping) else {}
            cursor = cursor[part]
        cursor[parts[-1]] = value
        self.s["data"] = {**self.data, head: parent}

    def inputs(self, *sources: str) -> dict[str, Any]:
        """The data values that expressions read, recorded to explain a decision."""
        seen: dict[str, Any] = {}
        data = self.s["data"]
        for source in sources:
            for name in self.c.expr(source).names:
                if name in data:
                    seen[name] = data[name]
        return seen

    def explain(self, record: dict[str, Any]) -> None:
        record["at"] = self.now_iso
        self.m("decisions").append(record)

    def schedule(
        self,
        timer_id: str,
        at: datetime,
        purpose: str,
        node_id: str,
        *,
        task: str | None = None,
        wait: str | None = None,
        edge: str | None = None,
        level: int = 0,
    ) -> str:
        self.s["timers"][timer_id] = {
            "purpose": purpose,
            "node": node_id,
            "at": iso(at),
            "task": task,
            "wait": wait,
            "edge": edge,
            "level": level,
        }
        self.emit(
            ScheduleTimer(timer_id=timer_id, at=at, purpose=purpose, node=node_id, task_id=task)
        )
        return timer_id

    def wait(self, token: str, node_id: str, wait_id: str, record: dict[str, Any]) -> None:
        """Park a token at a waiting node, with its boundary timeouts."""
        record["node"] = node_id
        record["token"] = token
        timers: list[str] = []
        timeouts = self.c.timeouts[node_id]
        if timeouts:
            moments = [(e, self.at(after)) for e, after in timeouts]
            for edge, at in moments:
                timer_id = f"{wait_id}/{edge.id}"
                timers.append(
                    self.schedule(timer_id, at, "boundary", node_id, wait=wait_id, edge=edge.id)
                )
        record["timers"] = timers
        self.s["waits"][wait_id] = record
        self.s["tokens"][token] = {"node": node_id, "wait": wait_id}

    def end_wait(self, wait_id: str, *, cancel: bool, reason: str = "") -> None:
        """A wait is over: drop it, its timers, and (when cancelled) its open tasks."""
        wait = self.s["waits"].pop(wait_id)
        for timer_id in wait["timers"]:
            self._cancel_timer(timer_id)
        if wait["kind"] == "timer":
            self._cancel_timer(wait_id)
        if cancel:
            for task_id in wait.get("tasks", ()):
                task = self.s["tasks"][task_id]
                if task["status"] == "open":
                    self.s["tasks"][task_id] = {
                        **task,
                        "status": "cancelled",
                        "cancelled_at": self.now_iso,
                    }
                    self._cancel_task_timers(task_id)
                    self.emit(CancelTask(task_id=task_id, reason=reason))
            if wait["kind"] in ("message", "http", "table", "subworkflow"):
                self.emit(CancelWait(wait_id=wait_id))

    def _cancel_timer(self, timer_id: str) -> None:
        if timer_id in self.s["timers"]:
            del self.s["timers"][timer_id]
            self.emit(CancelTimer(timer_id=timer_id))

    def _cancel_task_timers(self, task_id: str) -> None:
        for timer_id in self.s["tasks"][task_id]["timers"]:
            self._cancel_timer(timer_id)

    def incident(
        self,
        token: str,
        node_id: str,
        code: str,
        message: str,
        details: dict[str, Any],
        *,
        join: bool = False,
        also: list[list[Any]] | None = None,
        edge: str | None = None,
        leaving: bool = False,
        outcome: str | None = None,
    ) -> None:
        """Stop ``token`` at a node until someone retries it.

        A retry enters the node again (by ``edge``), or, when the token was ``leaving``
        the node (its outgoing conditions failed), tries leaving again with ``outcome``.
        ``also``: other tokens stopped with it, as [token, node, edge] (an endless loop).
        """
        incident_id = self.new_id("inc")
        self.m("incidents")[incident_id] = {
            "node": node_id,
            "token": token,
            "code": code,
            "message": message,
            "details": details,
            "status": "open",
            "at": self.now_iso,
            "join": join,
            "also": also or [],
            "edge": edge,
            "leaving": leaving,
            "outcome": outcome,
        }
        tokens = self.s["tokens"]
        for stopped in (token, *(t for t, _, _ in also or ())):
            if stopped in tokens:
                tokens[stopped] = {"node": tokens[stopped]["node"], "wait": "incident"}
        self.emit(
            RaiseIncident(
                incident_id=incident_id, node=node_id, code=code, message=message, details=details
            )
        )

    def undo_tasks(self, task_ids: list[str]) -> None:
        """Take back tasks created by a node whose entry then failed (no orphans)."""
        for task_id in task_ids:
            self._cancel_task_timers(task_id)
            del self.s["tasks"][task_id]
            self.emit(CancelTask(task_id=task_id, reason="the step could not start"))

    def finish(self, outcome: str, *, reason: str = "", implicit: bool = False) -> None:
        """End the whole instance: cancel every open task, timer and wait."""
        for wait_id in list(self.s["waits"]):
            self.end_wait(wait_id, cancel=True, reason=reason)
        for timer_id in list(self.s["timers"]):
            self._cancel_timer(timer_id)
        if self.s["tokens"]:
            self.s["tokens"] = {}
        if self.s["joins"]:
            self.s["joins"] = {}
        for incident_id, incident in self.s["incidents"].items():
            if incident["status"] == "open":
                self.m("incidents")[incident_id] = {**incident, "status": "closed"}
        self.queue.clear()
        if implicit:  # every path ended: the last end reached says how
            outcome = self.s.get("outcome_hint") or outcome
        self.s.pop("outcome_hint", None)
        self.s["status"] = outcome
        self.s["finished_at"] = self.now_iso
        self.emit(InstanceFinished(outcome=outcome))

    def create_task(
        self,
        node: UserTaskNode | ApprovalNode,
        spec: Assignee,
        wait_id: str,
    ) -> str:
        node_id = node.id
        plan = self.c.tasks[node_id]
        task_id = self.new_id("task")
        users: tuple[str, ...] = ()
        exclude: tuple[str, ...] = ()
        fallback: dict[str, Any] | None = None
        # the spec's fields read from its JSON, cheaper than from the pydantic model
        assignee = self.c.spec(spec)
        expr: str | None = assignee.get("expr")
        same_as: str | None = assignee.get("same_as")
        not_same_as: str | None = assignee.get("not_same_as")
        if expr is not None:
            value = self.evaluate(expr)
            found = (
                [value] if isinstance(value, str) else value if isinstance(value, list) else None
            )
            if not found or not all(isinstance(u, str) for u in found):
                raise Incident(
                    "bad_assignee",
                    f"{expr!r} gave {value!r}, not a user name or a list of them",
                    {"expression": expr, "value": value},
                )
            users = tuple(dict.fromkeys(found))
            self.explain(
                {
                    "node": node_id,
                    "kind": "assignee",
                    "expression": expr,
                    "inputs": self.inputs(expr),
                    "users": list(users),
                }
            )
        elif "user" in assignee:
            users = (assignee["user"],)
        elif same_as is not None:
            other = self.c.nodes.get(same_as)
            fallback = _spec_of(self.c, other)
            familiar = self.s["done"].get(same_as)
            if familiar is not None:
                users = (familiar,)
        if not_same_as is not None:
            excluded = self.s["done"].get(not_same_as)
            if excluded is not None:
                exclude = (excluded,)
            if not assignee.keys() & {"role", "user", "expr", "same_as"}:
                fallback = _spec_of(self.c, self.c.nodes.get(not_same_as))
        due: datetime | None = None
        due_iso: str | None = None
        timers: list[str] = []
        if plan.sla:
            # every moment first, so that a bad duration leaves nothing half-scheduled
            moments = [self.at(duration, plan.calendar) for _, duration, _, _ in plan.sla]
            for (suffix, _, purpose, level), at in zip(plan.sla, moments, strict=True):
                timer_id = f"{task_id}/{suffix}"
                timers.append(
                    self.schedule(timer_id, at, purpose, node_id, task=task_id, level=level)
                )
            due = moments[0]
            due_iso = self.s["timers"][timers[0]]["at"]  # formatted once, for the due timer
        priority = plan.priority
        self.s["tasks"][task_id] = {
            "node": node_id,
            "wait": wait_id,
            "status": "open",
            "assignee": users[0] if len(users) == 1 else None,
            "created_at": self.now_iso,
            "due": due_iso,
            "priority": priority,
            "timers": timers,
        }
        self.emit(
            CreateTask(
                task_id=task_id,
                node=node_id,
                name=plan.name,
                assignee=assignee,
                users=users,
                exclude=exclude,
                fallback=fallback,
                form=plan.form,
                instructions=plan.instructions,
                due=due,
                priority=priority,
                approval=wait_id if plan.approval else None,
                outcomes=plan.outcomes,
                notify=plan.notify,
            )
        )
        return task_id


_PAD: Final = tuple(f"{n:02d}" for n in range(60))
_MINUTES: dict[int, str] = {}


def iso(moment: datetime) -> str:
    """``moment.isoformat()``, several times faster for the UTC times the app passes.

    ``isoformat`` formats each of its eight numbers through C's ``sprintf``, which made it
    the largest single cost of a step (a step writes its moment, and each timer's). Here
    the text up to the minute is kept for the last few thousand minutes seen, and only
    the seconds are formatted. Other time zones take ``isoformat`` itself.
    """
    if moment.tzinfo is not UTC:
        return moment.isoformat()
    minute = moment.toordinal() * 1440 + moment.hour * 60 + moment.minute
    head = _MINUTES.get(minute)
    if head is None:
        if len(_MINUTES) >= 4096:
            _MINUTES.clear()
        head = _MINUTES[minute] = moment.replace(second=0, microsecond=0).isoformat()[:17]
    micro = moment.microsecond
    if micro:
        return f"{head}{_PAD[moment.second]}.{str(1_000_000 + micro)[1:]}+00:00"
    return f"{head}{_PAD[moment.second]}+00:00"


class Incident(Exception):
    """Raised inside a node's work; the token stops there with an incident."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def _spec_of(compiled: Compiled, node: Any) -> dict[str, Any] | None:
    if isinstance(node, UserTaskNode):
        return compiled.spec(node.assignee)
    if isinstance(node, ApprovalNode) and node.approvers:
        return compiled.spec(node.approvers[0])
    return None


def as_datetime(value: Any, source: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise Incident(
                "not_a_time", f"{source!r} gave {value!r}, not a date and time", {}
            ) from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise Incident(
            "not_a_time", f"{source!r} did not give a date and time with a time zone", {}
        )
    return value


def json_safe(value: Any) -> Any:
    """Expression results as plain JSON: dates and times as ISO 8601 text, durations as
    seconds, tuples as lists. The state must survive a save and reload unchanged."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, tuple | list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return value
