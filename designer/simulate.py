"""A test run: drive one instance through a definition with no people and no systems.

Tasks are completed with sample data from their forms (or with the data the
caller gives per step), approvals approved, http calls answered with sample
responses, table operations succeed, messages arrive as soon as an instance
waits for them, and timers fire in time order when nothing else is left to do.
Simulated time advances by ``think`` for each person's task.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from designer.samples import sample_for
from engine import (
    CallHttp,
    Command,
    CommandError,
    CompleteTask,
    CreateTask,
    Definition,
    Effect,
    FireTimer,
    HttpFailed,
    HttpResult,
    InstanceFinished,
    RaiseIncident,
    ReceiveMessage,
    ScheduleTimer,
    Start,
    StartSubworkflow,
    SubworkflowFinished,
    TableOperation,
    TableResult,
    WaitForMessage,
    compile_definition,
    step,
)
from engine.effects import CancelTimer

DEFAULT_HTTP_BODY: dict[str, Any] = {"status": "ok", "id": "SIM-1", "tracking_number": "SIM123456"}


@dataclass
class Scenario:
    """What the outside world answers during a test run.

    Attributes:
        tasks: form data per step id (merged over the sample data).
        outcomes: the outcome an approval's approvers choose, per step id.
        http: the response body per http step id; a step listed in ``http_fail`` fails.
        tables: the result per table step id (default: ``{"ok": true}``).
        messages: whether messages arrive (False: receive steps wait, timers decide).
        think: how long a person takes for a task.
        hold: steps whose tasks nobody completes (they stay open).
    """

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)
    http_fail: set[str] = field(default_factory=set)
    tables: dict[str, Any] = field(default_factory=dict)
    messages: bool = True
    message_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    think: timedelta = timedelta(minutes=30)
    hold: set[str] = field(default_factory=set)


@dataclass
class Simulation:
    """What a test run did."""

    state: dict[str, Any]
    steps: list[tuple[datetime, str, list[Effect]]]
    incidents: list[RaiseIncident]

    @property
    def effects(self) -> list[Effect]:
        return [e for _, _, effects in self.steps for e in effects]

    @property
    def path(self) -> list[str]:
        return [p["node"] for p in self.state["path"]]

    @property
    def status(self) -> str:
        return str(self.state["status"])


def simulate(
    definition: Definition,
    data: Mapping[str, Any],
    *,
    start: datetime,
    scenario: Scenario | None = None,
    max_steps: int = 1000,
) -> Simulation:
    """Run an instance from start until it finishes, hits an incident, or nothing is left to do."""
    scenario = scenario or Scenario()
    compiled = compile_definition(definition)
    now = start
    pending: list[tuple[datetime, int, Command]] = []
    timers: dict[str, tuple[datetime, int]] = {}
    seq = 0
    steps: list[tuple[datetime, str, list[Effect]]] = []
    incidents: list[RaiseIncident] = []

    def push(at: datetime, command: Command) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(pending, (at, seq, command))

    state, effects = step(compiled, None, Start(data=dict(data), by="simulator"), now)
    steps.append((now, "start", effects))
    while state["status"] == "running" and len(steps) < max_steps:
        for effect in effects:
            _answer(effect, now, scenario, compiled.nodes, push, timers)
            if isinstance(effect, RaiseIncident):
                incidents.append(effect)
        if incidents and not pending:
            break
        command = _next(pending, timers)
        if command is None:
            break
        now, cmd = max(now, command[0]), command[1]
        try:
            state, effects = step(compiled, state, cmd, now)
        except CommandError:
            effects = []  # e.g. a vote for an approval that others already decided
            continue
        steps.append((now, type(cmd).__name__, effects))
    return Simulation(state=state, steps=steps, incidents=incidents)


def _next(
    pending: list[tuple[datetime, int, Command]], timers: dict[str, tuple[datetime, int]]
) -> tuple[datetime, Command] | None:
    soonest_timer = min(timers.items(), key=lambda kv: kv[1], default=None)
    if pending and (soonest_timer is None or pending[0][0] <= soonest_timer[1][0]):
        at, _, command = heapq.heappop(pending)
        return at, command
    if soonest_timer is not None:
        timer_id, (at, _) = soonest_timer
        del timers[timer_id]
        return at, FireTimer(timer_id)
    return None


def _answer(
    effect: Effect,
    now: datetime,
    scenario: Scenario,
    nodes: Mapping[str, Any],
    push: Any,
    timers: dict[str, tuple[datetime, int]],
) -> None:
    if isinstance(effect, CreateTask) and effect.node not in scenario.hold:
        node = nodes[effect.node]
        values = sample_for(node.form) if node.form else {}
        values.update(scenario.tasks.get(effect.node, {}))
        user = effect.users[0] if effect.users else f"sim-{effect.task_id}"
        outcome = scenario.outcomes.get(effect.node, "approve") if effect.outcomes else None
        push(now + scenario.think, CompleteTask(effect.task_id, values, by=user, outcome=outcome))
    elif isinstance(effect, CallHttp):
        if effect.node in scenario.http_fail:
            push(now, HttpFailed(effect.request_id, "simulated failure"))
        else:
            push(
                now,
                HttpResult(
                    effect.request_id, 200, scenario.http.get(effect.node, DEFAULT_HTTP_BODY)
                ),
            )
    elif isinstance(effect, TableOperation):
        push(now, TableResult(effect.request_id, scenario.tables.get(effect.node, {"ok": True})))
    elif isinstance(effect, WaitForMessage):
        if scenario.messages:
            body = scenario.message_data.get(effect.message, {})
            push(
                now + scenario.think,
                ReceiveMessage(effect.message, body, correlation=effect.correlation),
            )
    elif isinstance(effect, StartSubworkflow):
        push(now, SubworkflowFinished(effect.request_id, "completed", {}))
    elif isinstance(effect, ScheduleTimer):
        timers[effect.timer_id] = (effect.at, len(timers))
    elif isinstance(effect, CancelTimer):
        timers.pop(effect.timer_id, None)
    elif isinstance(effect, InstanceFinished):
        pass
