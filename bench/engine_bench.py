"""In-memory engine throughput on the order-management template.

Each instance: start, 4 task completions (large-order review, pick, pack, hand
over), 2 http results (payment capture, shipping label), 1 table result (stock
reservation, answered in the step's own transaction by the app) and 1 message
(the carrier's delivery). One process, one core; the figure is the median of
several runs after a warm-up.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import engine
from designer.templates import load_template
from engine import (
    CallHttp,
    CompleteTask,
    CreateTask,
    HttpResult,
    ReceiveMessage,
    Start,
    TableOperation,
    TableResult,
    WaitForMessage,
    compile_definition,
    step,
)

ORDER: dict[str, Any] = {
    "order_id": "A-1",
    "customer": {"name": "Ada", "email": "ada@example.com", "phone": "+4915100000"},
    "items": [{"sku": "MUG-01", "quantity": 2, "price": 600.0}],
    "total": 1200.0,
    "payment": {"method": "card", "reference": "pi_1"},
}
FORMS: dict[str, dict[str, Any]] = {
    "pick": {"picked": True},
    "pack": {"items_checked": True, "weight_kg": 1.5},
    "hand_over": {"handed_over": True},
}


STEP_GAP = timedelta(milliseconds=1)
"""Each step of an instance happens at its own moment, as in the app (nothing computed for
one moment, such as where it falls in a business calendar, is reused by the next step)."""


def answer(effect: Any) -> Any:
    """The command that answers an effect, as the app would send it."""
    kind = type(effect)
    if kind is CreateTask:
        outcome = "approve" if effect.outcomes else None
        return CompleteTask(
            effect.task_id, FORMS.get(effect.node, {}), by="worker", outcome=outcome
        )
    if kind is CallHttp:
        return HttpResult(effect.request_id, 200, {"id": "cap_1", "tracking_number": "TR1"})
    if kind is TableOperation:
        return TableResult(effect.request_id, {"ok": True})
    return ReceiveMessage("delivered", {"signed_by": "Ada"}, correlation=effect.correlation)


ANSWERED = frozenset({CreateTask, CallHttp, TableOperation, WaitForMessage})
"""The effects that wait for an answer: one of them is answered at each step."""


def run_instance(compiled: Any, now: datetime) -> int:
    """Drive one order to "Delivered", starting at ``now``; returns the number of steps."""
    state, effects = step(compiled, None, Start(ORDER, by="shop"), now)
    steps = 1
    while state["status"] == "running":
        for effect in reversed(effects):  # the last effect waiting for an answer
            if type(effect) in ANSWERED:
                break
        else:
            raise RuntimeError(f"instance stuck at {state['tokens']}")
        now += STEP_GAP
        state, effects = step(compiled, state, answer(effect), now)
        steps += 1
    if state["status"] != "completed" or state["stage"] != "Delivered":
        raise RuntimeError(f"instance ended {state['status']} at stage {state['stage']}")
    return steps


def measure(seconds: float) -> tuple[float, float]:
    compiled = compile_definition(load_template("order-management"))
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    instances = steps = 0
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(100):
            steps += run_instance(compiled, now)
            instances += 1
            now += timedelta(seconds=1)  # every instance starts at its own moment
    elapsed = time.perf_counter() - began
    return instances / elapsed, steps / elapsed


def run(*, quick: bool = False) -> dict[str, dict[str, Any]]:
    measure(0.2 if quick else 1.0)  # warm-up: compile, caches
    runs = [measure(0.3 if quick else 2.0) for _ in range(3 if quick else 5)]
    how = "compiled with mypyc" if engine.NATIVE else "as plain Python"
    setup = (
        f"in-memory, engine {how}, 1 process on 1 core, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()}-core machine, order template, every instance and step at its own moment, "
        f"median of {len(runs)}"
    )
    return {
        "engine.order_instances_per_s": {
            "value": round(statistics.median(r[0] for r in runs), 1),
            "unit": "instances/s",
            "setup": setup,
        },
        "engine.steps_per_s": {
            "value": round(statistics.median(r[1] for r in runs), 1),
            "unit": "steps/s",
            "setup": setup,
        },
    }
