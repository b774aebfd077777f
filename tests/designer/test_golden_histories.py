"""The shipped templates' runs, recorded as golden histories and replayed.

A change in the engine's behaviour on a template shows up here as a diff of the
history, not as a guess. After an intended change, regenerate with
``STEPWISE_UPDATE_GOLDEN=1 make test`` and review the diff of tests/designer/golden/.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from designer import Scenario, load_template, simulate

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
ORDER = {
    "order_id": "G-1",
    "customer": {"name": "Grace", "email": "grace@example.com", "phone": "+441234"},
    "items": [{"sku": "MUG-01", "quantity": 2, "price": 600}],
    "total": 1200,
    "payment": {"method": "card", "reference": "pi_g"},
}
SCENARIOS: dict[str, tuple[dict[str, Any], Scenario]] = {
    "order-delivered": (ORDER, Scenario()),
    "order-invoice-out-of-stock-cancelled": (
        {**ORDER, "total": 50, "payment": {"method": "invoice"}},
        Scenario(tables={"reserve_stock": {"ok": False}}, messages=False),
    ),
    "order-payment-failed": ({**ORDER, "total": 50}, Scenario(http_fail={"capture"})),
    "order-undelivered-chased": ({**ORDER, "total": 50}, Scenario(messages=False)),
}


def history(data: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    run = simulate(load_template("order-management"), data, start=T0, scenario=scenario)
    steps = []
    for at, command, effects in run.steps:
        rendered = []
        for effect in effects:
            fields = effect.to_dict()
            fields.pop("data", None)
            rendered.append(fields)
        steps.append({"at": at.isoformat(), "command": command, "effects": rendered})
    return {"status": run.status, "path": run.path, "stages": run.state["stages"], "steps": steps}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_template_run_matches_its_golden_history(name: str):
    data, scenario = SCENARIOS[name]
    actual = json.loads(json.dumps(history(data, scenario), default=str))
    path = GOLDEN / f"{name}.json"
    if os.environ.get("STEPWISE_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert actual == expected
