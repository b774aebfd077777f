"""Property tests of the interpreter on generated graphs: no crash, no lost token,
every run ends or waits for something it can name."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import (
    CommandError,
    CompleteTask,
    DefinitionError,
    FireTimer,
    ReceiveMessage,
    Start,
    parse_definition,
    step,
)
from tests.factories import T0

KINDS = [
    "user_task",
    "exclusive",
    "parallel",
    "inclusive",
    "set",
    "notify",
    "timer",
    "receive",
    "end",
]
CONDITIONS = ["x > 0", "x < 3", "x == 2", "flag", "not flag"]


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(2, 9))
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(count)]
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "start"}]
    for i, kind in enumerate(kinds):
        n: dict[str, Any] = {"id": f"n{i}", "type": kind}
        if kind == "user_task":
            n["assignee"] = {"role": "staff"}
            if draw(st.booleans()):
                n["sla"] = {"due": "PT1H", "escalate": [{"after": "PT2H", "action": "priority"}]}
        elif kind == "set":
            n["assign"] = {"x": "x + 1"}
        elif kind == "notify":
            n.update(channel="email", to="a@example.com")
        elif kind == "timer":
            n["duration"] = "PT1H"
        elif kind == "receive":
            n.update(message="ping", correlate="key")
        nodes.append(n)
    nodes.append({"id": "finish", "type": "end"})
    ids = [n["id"] for n in nodes]
    edges: list[dict[str, Any]] = [
        {"id": "e0", "from": "start", "to": draw(st.sampled_from(ids[1:]))}
    ]
    for i, n in enumerate(nodes[1:-1], start=1):
        if n["type"] == "end":
            continue
        targets = draw(st.lists(st.sampled_from(ids[1:]), min_size=1, max_size=3))
        for j, target in enumerate(targets):
            e: dict[str, Any] = {"id": f"e{i}_{j}", "from": n["id"], "to": target}
            if n["type"] in ("exclusive", "inclusive") and len(targets) > 1:
                if j == len(targets) - 1 and draw(st.booleans()):
                    e["default"] = True
                else:
                    e["condition"] = draw(st.sampled_from(CONDITIONS))
            edges.append(e)
        if n["type"] in ("user_task", "receive") and draw(st.booleans()):
            edges.append(
                {
                    "id": f"b{i}",
                    "from": n["id"],
                    "to": draw(st.sampled_from(ids[1:])),
                    "on": "timeout",
                    "after": "PT3H",
                    "interrupting": draw(st.booleans()),
                }
            )
    return {"key": "generated", "nodes": nodes, "edges": edges}


def check_invariants(state: dict[str, Any]) -> None:
    tokens, waits, tasks, timers = state["tokens"], state["waits"], state["tasks"], state["timers"]
    if state["status"] != "running":
        assert tokens == {}
        assert waits == {}
        assert timers == {}
        assert all(t["status"] != "open" for t in tasks.values())
        return
    assert tokens, "a running instance with no token would be lost"
    for token_id, token in tokens.items():
        wait = token["wait"]
        assert wait is not None, f"token {token_id} left ready at {token['node']}: lost"
        if wait not in ("join", "incident"):
            assert waits[wait]["token"] == token_id
    for wait_id, wait in waits.items():
        assert tokens[wait["token"]]["wait"] == wait_id
    for task_id, task in tasks.items():
        if task["status"] == "open":
            assert task["wait"] in waits, f"open task {task_id} belongs to no wait"
    for timer in timers.values():
        assert timer["task"] is None or tasks[timer["task"]]["status"] == "open"
        assert timer["wait"] is None or timer["wait"] in waits
    json.dumps(state)  # plain JSON at every step


def actions(state: dict[str, Any]) -> list[Any]:
    found: list[Any] = [
        CompleteTask(t, {}, by="u") for t, v in state["tasks"].items() if v["status"] == "open"
    ]
    found += [FireTimer(t) for t in state["timers"]]
    found += [
        ReceiveMessage("ping", {}, correlation=w["correlation"])
        for w in state["waits"].values()
        if w["kind"] == "message"
    ]
    return found


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 3), st.booleans(), st.randoms(use_true_random=False))
def test_generated_workflows_never_crash_or_lose_a_token(raw, x, flag, rnd):
    try:
        definition = parse_definition(raw)
        state, _ = step(
            definition, None, Start({"x": x, "flag": flag, "key": "k"}), T0, max_moves=300
        )
    except DefinitionError:
        return
    check_invariants(state)
    for _ in range(40):
        if state["status"] != "running":
            break
        possible = actions(state)
        if not possible:
            break
        command = rnd.choice(possible)
        try:
            state, _ = step(definition, state, command, T0, max_moves=300)
        except CommandError:
            raise AssertionError(f"an available action was refused: {command}") from None
        check_invariants(state)
    if state["status"] == "running":
        waiting_on_something = (
            actions(state)
            or any(t["wait"] in ("join", "incident") for t in state["tokens"].values())
            or any(i["status"] == "open" for i in state["incidents"].values())
        )
        assert waiting_on_something
