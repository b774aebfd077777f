from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from designer import Scenario, list_templates, load_template, simulate
from engine import ReceiveMessage, step, validate
from engine.effects import CancelTask, SendNotification

ORDER = {
    "order_id": "A-7",
    "customer": {"name": "Ada", "email": "ada@example.com", "phone": "+491511"},
    "items": [{"sku": "MUG-01", "quantity": 1}],
    "total": 30,
    "payment": {"method": "card"},
}
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.mark.parametrize("key", list_templates())
def test_every_template_validates_without_errors(key: str):
    problems = validate(load_template(key))
    assert [p for p in problems if p.severity == "error"] == []


def test_order_runs_to_delivered_through_every_stage():
    run = simulate(load_template("order-management"), ORDER, start=T0)
    assert run.status == "completed"
    assert [s["stage"] for s in run.state["stages"]] == [
        "Received",
        "Paid",
        "Being prepared",
        "Ready for shipment",
        "Shipped",
        "Delivered",
    ]


def test_confirmation_goes_out_only_after_payment_is_captured():
    run = simulate(load_template("order-management"), ORDER, start=T0)
    order = [e.node if isinstance(e, SendNotification) else type(e).__name__ for e in run.effects]
    assert order.index("confirm") > order.index("CallHttp")


def test_failed_payment_notifies_the_customer_and_cancels():
    run = simulate(
        load_template("order-management"), ORDER, start=T0, scenario=Scenario(http_fail={"capture"})
    )
    assert run.status == "cancelled"
    assert "payment_failed_notice" in run.path
    assert "confirm" not in run.path


def test_invoice_orders_are_captured_by_finance():
    run = simulate(
        load_template("order-management"), {**ORDER, "payment": {"method": "invoice"}}, start=T0
    )
    assert "capture_manually" in run.path
    assert "capture" not in run.path
    assert run.status == "completed"


def test_large_orders_are_reviewed_and_rejection_cancels():
    scenario = Scenario(outcomes={"review": "reject"})
    run = simulate(
        load_template("order-management"), {**ORDER, "total": 5000}, start=T0, scenario=scenario
    )
    assert run.path[:3] == ["received", "check_review", "review"]
    assert run.status == "cancelled"


def test_out_of_stock_waits_for_restock_then_ships():
    scenario = Scenario(tables={"reserve_stock": {"ok": False}}, messages=True)
    run = simulate(
        load_template("order-management"), ORDER, start=T0, scenario=scenario, max_steps=12
    )
    assert run.path.count("reserve_stock") >= 2
    assert "out_of_stock_notice" in run.path


def test_out_of_stock_for_14_days_cancels():
    scenario = Scenario(tables={"reserve_stock": {"ok": False}}, messages=False)
    run = simulate(load_template("order-management"), ORDER, start=T0, scenario=scenario)
    assert run.status == "cancelled"
    assert run.path[-2:] == ["cancelled_notice", "cancelled"]


def test_undelivered_parcel_escalates_to_support_after_7_days_and_delivery_still_ends_it():
    scenario = Scenario(messages=False)
    definition = load_template("order-management")
    run = simulate(definition, ORDER, start=T0, scenario=scenario)
    assert "chase_carrier" in run.path
    assert run.status == "running"
    assert "await_delivery" in {w["node"] for w in run.state["waits"].values()}


def test_carrier_failure_falls_back_to_a_manual_label():
    run = simulate(
        load_template("order-management"), ORDER, start=T0, scenario=Scenario(http_fail={"label"})
    )
    assert "label_manually" in run.path
    assert run.status == "completed"


def test_delivery_after_the_chase_began_cancels_the_open_chase_task():
    definition = load_template("order-management")
    run = simulate(
        definition, ORDER, start=T0, scenario=Scenario(messages=False, hold={"chase_carrier"})
    )
    (wait,) = [w for w in run.state["waits"].values() if w["node"] == "await_delivery"]
    chase = [
        tid
        for tid, t in run.state["tasks"].items()
        if t["node"] == "chase_carrier" and t["status"] == "open"
    ]
    assert len(chase) == 1
    state, effects = step(
        definition,
        run.state,
        ReceiveMessage("delivered", {}, wait["correlation"]),
        T0 + timedelta(days=8),
    )
    assert state["status"] == "completed"
    assert [e.task_id for e in effects if isinstance(e, CancelTask)] == chase
