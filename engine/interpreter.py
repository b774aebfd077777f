"""The interpreter: ``step(definition, state, command, now) -> (state, effects)``.

The engine is a functional core. It never reads the clock, never sleeps, never
calls out; it moves tokens through the graph until each one waits or ends and
returns what the app must carry out as effects.

State is plain JSON-serialisable data. ``step`` never mutates the state it is
given: the new state is a shallow copy whose top-level containers are copied
the first time a step changes them (copy-on-write), and the dicts inside are
replaced, never edited. That keeps a step's cost proportional to what it
changes, not to the size of the instance's history.

Designs rejected: a deep copy per step (dominated the profile at several
times the cost of the step itself); mutable runtime objects per token, as
SpiffWorkflow has (a serialisation layer between every step and the database);
an exception for every expected failure (a bad expression at run time is an
incident in the state, returned as data).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.commands import (
    AssignTask,
    Cancel,
    Command,
    CompleteTask,
    FireTimer,
    HttpFailed,
    HttpResult,
    ReceiveMessage,
    RetryIncident,
    SkipIncident,
    Start,
    SubworkflowFinished,
    TableResult,
    UpdateData,
)
from engine.compiled import Compiled, compile_definition
from engine.effects import (
    Effect,
    ResolveIncident,
    SlaEvent,
)
from engine.errors import CommandError
from engine.expressions import ExpressionError
from engine.flow import MAX_MOVES_PER_STEP, Flow
from engine.model import (
    ApprovalNode,
    Definition,
)
from engine.problems import parse_definition
from engine.runtime import Calendars, json_safe
from engine.state import STATE_FORMAT, new_state


def step(
    definition: Definition | Compiled | Mapping[str, Any],
    state: Mapping[str, Any] | None,
    command: Command,
    now: datetime,
    *,
    calendars: Calendars | None = None,
    max_moves: int = MAX_MOVES_PER_STEP,
) -> tuple[dict[str, Any], list[Effect]]:
    """Apply one command to one instance.

    Args:
        definition: the workflow (or its compiled form) the instance runs on.
        state: the instance's state; None (or omitted) for a ``Start``.
        command: what happened.
        now: the time it happened; the engine has no other clock.
        calendars: business calendars by name, for SLA and timer durations.
        max_moves: how often tokens may move in this step before it counts as an
            endless loop (an incident).

    Returns:
        The new state and the effects for the app to carry out, in order.

    Raises:
        CommandError: the command does not apply (a task that is not open, form
            data that fails its schema, ...). The given state is left unchanged.
        DefinitionError: the definition cannot run at all.
    """
    if now.tzinfo is None:
        raise CommandError("naive_time", "'now' must carry a time zone")
    if isinstance(definition, Compiled):  # first: the hot path, and cheaper than the ABC check
        compiled = definition
    else:
        if isinstance(definition, Mapping):
            # raw JSON: parsed each time, so not for hot paths
            definition = parse_definition(definition)
        compiled = compile_definition(definition)
    if isinstance(command, Start):
        if state is not None and state.get("status") is not None:
            raise CommandError("already_started", "this instance has already started")
        run = _Step(compiled, new_state(), now, calendars, max_moves, fresh=True)
        run.start(command)
    else:
        if state is None:
            raise CommandError("not_started", "this instance has not started")
        if state.get("format") != STATE_FORMAT:
            raise CommandError("state_format", f"unknown state format {state.get('format')!r}")
        run = _Step(compiled, state, now, calendars, max_moves)
        run.apply(command)
    run.settle()
    return run.s, run.effects


class _Step(Flow):
    """A step driven by a command from outside."""

    __slots__ = ()

    def start(self, command: Start) -> None:
        form = self.c.forms.get(self.c.start)
        if form is not None:
            errors = form.errors(command.data)
            if errors:
                raise CommandError(
                    "invalid_form", "the start form is not filled in correctly", errors
                )
        self.s["status"] = "running"
        self.s["started_at"] = self.now_iso
        self.s["started_by"] = command.by
        if command.by is not None:  # "same person as the start" means whoever started it
            self.s["done"] = {self.c.start: command.by}
        self.merge(command.data)
        token = self.new_id("tok")
        self.s["tokens"][token] = {"node": self.c.start, "wait": None}
        self.queue.append((token, self.c.start, None))

    def apply(self, command: Command) -> None:
        if self.s["status"] != "running":
            if isinstance(command, AssignTask | FireTimer):
                return  # late news for a finished instance: nothing to do
            raise CommandError("instance_finished", f"this instance is {self.s['status']}")
        match command:
            case CompleteTask():
                self.complete_task(command)
            case AssignTask():
                task = self._task(command.task_id)
                self.s["tasks"][command.task_id] = {**task, "assignee": command.user}
            case FireTimer():
                self.fire_timer(command.timer_id)
            case ReceiveMessage():
                self.receive(command)
            case HttpResult() | HttpFailed():
                self.http_answer(command)
            case TableResult():
                self.table_answer(command)
            case SubworkflowFinished():
                self.subworkflow_answer(command)
            case Cancel():
                self.finish("cancelled", reason=command.reason or "cancelled")
            case UpdateData():
                self.merge(command.data)
            case RetryIncident():
                self.retry(command.incident_id)
            case SkipIncident():
                self.skip(command.incident_id)
            case _:
                raise CommandError("unknown_command", f"unknown command {type(command).__name__}")

    def _task(self, task_id: str) -> dict[str, Any]:
        task = self.s["tasks"].get(task_id)
        if task is None:
            raise CommandError("no_such_task", f"there is no task {task_id} in this instance")
        if task["status"] != "open":
            raise CommandError("task_not_open", f"task {task_id} is already {task['status']}")
        result: dict[str, Any] = task
        return result

    def complete_task(self, command: CompleteTask) -> None:
        task = self._task(command.task_id)
        node = self.c.nodes[task["node"]]
        form = self.c.forms.get(node.id)
        if form is not None:
            errors = form.errors(command.data)
            if errors:
                raise CommandError("invalid_form", "the form is not filled in correctly", errors)
        by = command.by or task.get("assignee")
        if isinstance(node, ApprovalNode):
            outcome = command.outcome
            if outcome not in node.outcomes:
                raise CommandError(
                    "invalid_outcome",
                    f"choose one of {', '.join(node.outcomes)} to complete this approval",
                )
            self.s["tasks"][command.task_id] = {
                **task,
                "status": "completed",
                "completed_by": by,
                "completed_at": self.now_iso,
                "outcome": outcome,
            }
            self._cancel_task_timers(command.task_id)
            self.vote(task["wait"], command.task_id, by, outcome, command.data)
            return
        if command.outcome is not None:
            raise CommandError("invalid_outcome", "only approvals have outcomes")
        self.s["tasks"][command.task_id] = {
            **task,
            "status": "completed",
            "completed_by": by,
            "completed_at": self.now_iso,
        }
        self._cancel_task_timers(command.task_id)
        self.merge(command.data, node.result)
        if by is not None:
            self.m("done")[node.id] = by
        wait = self.s["waits"][task["wait"]]
        self.end_wait(task["wait"], cancel=False)
        self.leave_safely(wait["token"], node.id)

    def vote(
        self, wait_id: str, task_id: str, by: str | None, outcome: str, data: Mapping[str, Any]
    ) -> None:
        wait = self.s["waits"][wait_id]
        node = self.c.nodes[wait["node"]]
        votes = [
            *wait["votes"],
            {"task": task_id, "by": by, "outcome": outcome, "data": dict(data)},
        ]
        self.s["waits"][wait_id] = {**wait, "votes": votes}
        voters: dict[str, str] = {}
        for v in votes:  # the same person voting twice counts once: their first vote
            voters.setdefault(v["by"] or v["task"], v["outcome"])
        approvals = sum(1 for o in voters.values() if o == "approve")
        rejections = sum(1 for o in voters.values() if o == "reject")
        total = len(wait["tasks"])
        needed = (
            total
            if node.quorum == "all"
            else 1
            if node.quorum == "any"
            else min(node.quorum, total)
        )
        decided: str | None = None
        all_in = all(self.s["tasks"][t]["status"] != "open" for t in wait["tasks"])
        if all_in:
            # one person holding several of the tasks counts once (DESIGN semantics 6)
            needed = min(needed, len(voters))
        if outcome not in ("approve", "reject"):
            decided = outcome
        elif approvals >= needed:
            decided = "approve"
        elif total - rejections < needed or all_in:
            decided = "reject"
        if decided is None:
            return
        self.explain(
            {
                "node": node.id,
                "kind": "approval",
                "quorum": node.quorum,
                "needed": needed,
                "votes": [{"by": v["by"], "outcome": v["outcome"]} for v in votes],
                "outcome": decided,
            }
        )
        if by is not None and decided == "approve":
            self.m("done")[node.id] = by
        self.merge({"outcome": decided, "votes": votes}, node.result or node.id)
        self.end_wait(wait_id, cancel=True, reason=f"approval decided: {decided}")
        self.leave_safely(wait["token"], node.id, outcome=decided)

    def fire_timer(self, timer_id: str) -> None:
        timer = self.s["timers"].get(timer_id)
        if timer is None:
            return  # already cancelled or fired: a timer fires at most once
        del self.s["timers"][timer_id]
        purpose = timer["purpose"]
        if purpose.startswith("sla_"):
            task_id = timer["task"]
            task = self.s["tasks"].get(task_id)
            if task is None or task["status"] != "open":
                return
            if purpose == "sla_due":
                self.s["tasks"][task_id] = {**task, "overdue": True}
                self.emit(SlaEvent(task_id=task_id, event="due"))
            elif purpose == "sla_remind":
                self.emit(SlaEvent(task_id=task_id, event="remind", level=timer["level"] + 1))
            else:
                node = self.c.nodes[task["node"]]
                level = node.sla.escalate[timer["level"]]
                self.emit(
                    SlaEvent(
                        task_id=task_id,
                        event="escalate",
                        level=timer["level"] + 1,
                        action=level.action,
                        to=self.c.spec(level.to) if level.to else None,
                        priority=level.priority,
                    )
                )
                if level.action == "priority":
                    priority = (
                        level.priority
                        if level.priority is not None
                        else task.get("priority", 0) + 1
                    )
                    self.s["tasks"][task_id] = {**self.s["tasks"][task_id], "priority": priority}
            return
        wait_id = timer["wait"]
        wait = self.s["waits"].get(wait_id)
        if wait is None:
            return
        if purpose == "timer":
            self.end_wait(wait_id, cancel=False)
            self.leave_safely(wait["token"], wait["node"])
            return
        # a boundary timeout
        edge = next(e for e in self.c.boundary[wait["node"]] if e.id == timer["edge"])
        self.explain(
            {
                "node": wait["node"],
                "kind": "timeout",
                "edge": edge.id,
                "interrupting": edge.interrupting,
            }
        )
        if edge.interrupting:
            self.end_wait(wait_id, cancel=True, reason="timed out")
            self.move(wait["token"], edge)
        else:
            token = self.new_id("tok")
            self.s["tokens"][token] = {"node": wait["node"], "wait": None}
            self.move(token, edge)

    def receive(self, command: ReceiveMessage) -> None:
        found = next(
            (
                (wait_id, wait)
                for wait_id, wait in self.s["waits"].items()
                if wait["kind"] == "message"
                and wait["message"] == command.message
                and (command.correlation is None or wait["correlation"] == command.correlation)
            ),
            None,
        )
        if found is None:
            raise CommandError(
                "no_waiting_receive", f"nothing here waits for the message {command.message!r}"
            )
        wait_id, wait = found
        node = self.c.nodes[wait["node"]]
        self.merge(command.data, node.result)
        self.end_wait(wait_id, cancel=False)
        self.leave_safely(wait["token"], node.id)

    def _answered_wait(self, request_id: str, kind: str) -> dict[str, Any]:
        wait = self.s["waits"].get(request_id)
        if wait is None or wait["kind"] != kind:
            raise CommandError("no_such_request", f"nothing here waits for the answer {request_id}")
        result: dict[str, Any] = wait
        return result

    def http_answer(self, command: HttpResult | HttpFailed) -> None:
        wait = self._answered_wait(command.request_id, "http")
        node = self.c.nodes[wait["node"]]
        if isinstance(command, HttpResult) and 200 <= command.status < 300:
            self.end_wait(command.request_id, cancel=False)
            body = command.body
            if node.result:
                self.merge(body, node.result)
            elif isinstance(body, Mapping):
                self.merge(body)
            self.leave_safely(wait["token"], node.id)
            return
        error = command.error if isinstance(command, HttpFailed) else f"HTTP {command.status}"
        self.end_wait(command.request_id, cancel=False)
        self.fail(
            wait["token"], node.id, "http_failed", f"the call failed: {error}", {"error": error}
        )

    def fail(
        self, token: str, node_id: str, code: str, message: str, details: dict[str, Any]
    ) -> None:
        """Follow the node's error edge, or raise an incident when it has none."""
        edge = next((e for e in self.c.boundary[node_id] if e.on == "error"), None)
        if edge is None:
            self.incident(token, node_id, code, message, details)
            return
        self.merge({"error": {"node": node_id, "message": message, **details}})
        self.explain({"node": node_id, "kind": "error", "edge": edge.id, "message": message})
        self.move(token, edge)

    def table_answer(self, command: TableResult) -> None:
        wait = self._answered_wait(command.request_id, "table")
        node = self.c.nodes[wait["node"]]
        self.end_wait(command.request_id, cancel=False)
        if command.error is not None:
            self.fail(wait["token"], node.id, "table_failed", command.error, {"table": node.table})
            return
        if node.result:
            self.merge(command.result, node.result)
        elif isinstance(command.result, Mapping):
            self.merge(command.result)
        self.leave_safely(wait["token"], node.id)

    def subworkflow_answer(self, command: SubworkflowFinished) -> None:
        wait = self._answered_wait(command.request_id, "subworkflow")
        node = self.c.nodes[wait["node"]]
        self.end_wait(command.request_id, cancel=False)
        if command.outcome != "completed":
            self.fail(
                wait["token"],
                node.id,
                "subworkflow_" + command.outcome,
                "the sub-workflow could not start or run"
                if command.outcome == "failed"
                else f"the sub-workflow ended {command.outcome}",
                {"workflow": node.workflow},
            )
            return
        try:
            out = {
                name: json_safe(self.c.expr(src).evaluate(command.data, now=self.now))
                for name, src in node.output.items()
            }
        except ExpressionError as exc:
            self.incident(
                wait["token"], node.id, "expression_failed", exc.message, {"output": node.output}
            )
            return
        self.merge(out)
        self.leave_safely(wait["token"], node.id)

    def retry(self, incident_id: str) -> None:
        incident = self.s["incidents"].get(incident_id)
        if incident is None or incident["status"] != "open":
            raise CommandError("no_such_incident", f"there is no open incident {incident_id}")
        self.m("incidents")[incident_id] = {
            **incident,
            "status": "resolved",
            "resolved_at": self.now_iso,
        }
        self.emit(ResolveIncident(incident_id=incident_id))
        token = incident["token"]
        tokens = self.s["tokens"]
        if token not in tokens:
            return
        if incident["join"]:
            self.force_join(token, incident["node"])
            return
        if incident["leaving"]:
            tokens[token] = {"node": incident["node"], "wait": None}
            self.leave_safely(token, incident["node"], incident["outcome"])
            return
        for stopped, node_id, edge_id in [
            [token, incident["node"], incident["edge"]],
            *incident["also"],
        ]:
            if stopped in tokens:
                tokens[stopped] = {"node": node_id, "wait": None}
                self.queue.append((stopped, node_id, edge_id))

    def skip(self, incident_id: str) -> None:
        incident = self.s["incidents"].get(incident_id)
        if incident is None or incident["status"] != "open":
            raise CommandError("no_such_incident", f"there is no open incident {incident_id}")
        kind = self.c.nodes[incident["node"]].type
        if incident["join"] or incident["leaving"] or incident["also"] or kind in _BRANCHING:
            raise CommandError(
                "cannot_skip",
                "this incident stopped the path where it branches or joins; fix the cause and "
                "retry it instead",
            )
        self.m("incidents")[incident_id] = {
            **incident,
            "status": "skipped",
            "resolved_at": self.now_iso,
        }
        self.emit(ResolveIncident(incident_id=incident_id))
        token = incident["token"]
        if token in self.s["tokens"]:
            self.s["tokens"][token] = {"node": incident["node"], "wait": None}
            self.leave_safely(token, incident["node"], None)


# a gateway's incident is about which way to go: skipping it would choose for the admin
_BRANCHING = frozenset({"exclusive", "inclusive", "parallel", "decision"})

__all__ = ["MAX_MOVES_PER_STEP", "step"]
