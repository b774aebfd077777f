"""Builders for tests: small workflow definitions and a driver that steps an instance."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from engine import (
    CompleteTask,
    CreateTask,
    Definition,
    Effect,
    FireTimer,
    ReceiveMessage,
    ScheduleTimer,
    Start,
    parse_definition,
    step,
)
from engine.commands import Command

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


def node(node_id: str, node_type: str, **fields: Any) -> dict[str, Any]:
    """A node as JSON; user tasks get a default assignee."""
    if node_type == "user_task":
        fields.setdefault("assignee", {"role": "staff"})
    if node_type == "approval":
        fields.setdefault("approvers", [{"role": "staff"}])
    return {"id": node_id, "type": node_type, "name": fields.pop("name", node_id), **fields}


def edge(source: str, target: str, **fields: Any) -> dict[str, Any]:
    edge_id = fields.pop("id", f"{source}->{target}")
    return {"id": edge_id, "from": source, "to": target, **fields}


def workflow(
    nodes: Iterable[dict[str, Any]], edges: Iterable[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    nodes, edges = (
        copy.deepcopy(list(nodes)),
        copy.deepcopy(list(edges)),
    )  # callers share node dicts
    return {"format": 1, "key": fields.pop("key", "test"), "nodes": nodes, "edges": edges, **fields}


def chain(*ids_and_types: tuple[str, str]) -> list[dict[str, Any]]:
    """Edges joining the given nodes in order (convenience for sequences)."""
    ids = [i for i, _ in ids_and_types]
    return [edge(a, b) for a, b in itertools.pairwise(ids)]


class Driver:
    """Steps one instance, keeping its state, the effects and the clock.

    With ``reload`` the state goes through JSON between steps, as it does through
    the database: every scenario must give the same result either way.
    """

    def __init__(
        self,
        definition: Definition | Mapping[str, Any],
        *,
        reload: bool = False,
        now: datetime = T0,
    ):
        self.definition = (
            definition if isinstance(definition, Definition) else parse_definition(definition)
        )
        self.reload = reload
        self.now = now
        self.state: dict[str, Any] | None = None
        self.effects: list[Effect] = []
        self.last: list[Effect] = []

    def send(self, command: Command, *, after: timedelta = timedelta(0)) -> list[Effect]:
        self.now += after
        state, effects = step(self.definition, self.state, command, self.now)
        if self.reload:
            state = json.loads(json.dumps(state))
        self.state = state
        self.effects.extend(effects)
        self.last = effects
        return effects

    def start(self, data: Mapping[str, Any] | None = None, **kwargs: Any) -> list[Effect]:
        return self.send(Start(data=dict(data or {}), by="starter"), **kwargs)

    @property
    def s(self) -> dict[str, Any]:
        assert self.state is not None
        return self.state

    def open_tasks(self, node_id: str | None = None) -> list[str]:
        return [
            tid
            for tid, t in self.s["tasks"].items()
            if t["status"] == "open" and (node_id is None or t["node"] == node_id)
        ]

    def task(self, node_id: str) -> str:
        found = self.open_tasks(node_id)
        assert len(found) == 1, f"expected one open task at {node_id}, found {found}"
        return found[0]

    def complete(
        self,
        node_id: str,
        data: Mapping[str, Any] | None = None,
        *,
        by: str | None = "alice",
        outcome: str | None = None,
        after: timedelta = timedelta(0),
    ) -> list[Effect]:
        return self.send(
            CompleteTask(self.task(node_id), dict(data or {}), by=by, outcome=outcome), after=after
        )

    def timers(self, purpose: str | None = None) -> dict[str, dict[str, Any]]:
        return {
            k: v for k, v in self.s["timers"].items() if purpose is None or v["purpose"] == purpose
        }

    def fire(self, timer_id: str) -> list[Effect]:
        at = datetime.fromisoformat(self.s["timers"][timer_id]["at"])
        self.now = max(self.now, at)
        return self.send(FireTimer(timer_id))

    def message(
        self, name: str, data: Mapping[str, Any] | None = None, correlation: Any = None
    ) -> list[Effect]:
        return self.send(ReceiveMessage(name, dict(data or {}), correlation))

    def waits(self, kind: str | None = None) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.s["waits"].items() if kind is None or v["kind"] == kind}

    @property
    def path(self) -> list[str]:
        return [p["node"] for p in self.s["path"]]

    @property
    def status(self) -> str:
        return str(self.s["status"])

    def of(self, kind: type[Any], effects: Iterable[Effect] | None = None) -> list[Any]:
        return [e for e in (self.last if effects is None else effects) if isinstance(e, kind)]

    def created(self, effects: Iterable[Effect] | None = None) -> list[CreateTask]:
        return self.of(CreateTask, effects)

    def scheduled(self, effects: Iterable[Effect] | None = None) -> list[ScheduleTimer]:
        return self.of(ScheduleTimer, effects)
