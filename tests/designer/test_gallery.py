"""The template gallery: purchase approval, invoice three-way match, employee onboarding.

Each template is valid (no problems at all, its roles among those the first start seeds) and
runs headless to an end on every path its gateways offer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.seed import ROLES
from designer import Scenario, list_templates, load_template, sample_for, simulate
from engine import SendNotification, validate
from engine.effects import CreateTask, ScheduleTimer

GALLERY = ("purchase-approval", "invoice-three-way-match", "employee-onboarding")
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday


def effects_of(run: Any, kind: type) -> list[Any]:
    return [e for e in run.effects if isinstance(e, kind)]


@pytest.mark.parametrize("key", GALLERY)
def test_gallery_template_is_shipped_valid_and_names_only_seeded_roles(key: str):
    assert key in list_templates()
    definition = load_template(key)
    assert definition.key == key
    assert definition.name
    assert definition.description
    assert validate(definition, roles=sorted(ROLES)) == []
    assert set(definition.layout) == {n.id for n in definition.nodes}


@pytest.mark.parametrize("key", GALLERY)
def test_gallery_template_runs_to_an_end_with_its_start_form_sample(key: str):
    definition = load_template(key)
    start = next(n for n in definition.nodes if n.type == "start")
    run = simulate(definition, sample_for(start.form), start=T0)
    assert run.incidents == []
    assert run.status in ("completed", "rejected")


# --- purchase approval ----------------------------------------------------------------------


def purchase(amount: float) -> dict[str, Any]:
    return {"item": "Laptop", "amount": amount, "supplier": "Acme", "cost_center": "IT-1"}


def approvals(run: Any) -> list[str]:
    return [e.node for e in effects_of(run, CreateTask)]


@pytest.mark.parametrize(
    ("amount", "approvers", "level"),
    [
        (999.99, ["lead_approval"], 1),
        (1000, ["lead_approval", "head_approval"], 2),
        (9999, ["lead_approval", "head_approval"], 2),
        (10000, ["lead_approval", "head_approval", "cfo_approval"], 3),
        (250000, ["lead_approval", "head_approval", "cfo_approval"], 3),
    ],
)
def test_purchase_amount_decides_the_approval_levels(
    amount: float, approvers: list[str], level: int
):
    run = simulate(load_template("purchase-approval"), purchase(amount), start=T0)
    assert run.status == "completed"
    assert approvals(run) == [*approvers, "place_order"]
    assert run.state["data"]["approval"]["level"] == level
    assert run.state["stage"] == "Ordered"


def test_purchase_approved_tells_the_requester_twice_approved_then_ordered():
    scenario = Scenario(tasks={"place_order": {"po_number": "PO-77"}})
    run = simulate(load_template("purchase-approval"), purchase(50), start=T0, scenario=scenario)
    notices = effects_of(run, SendNotification)
    assert [(n.node, n.channel, n.to) for n in notices] == [
        ("approved_notice", "inbox", "user:{{ requester }}"),
        ("ordered_notice", "inbox", "user:{{ requester }}"),
    ]
    assert notices[-1].data["requester"] == "simulator"
    assert notices[-1].data["order"] == {"po_number": "PO-77", "expected_on": "2026-01-15"}


@pytest.mark.parametrize("rejecting", ["lead_approval", "head_approval", "cfo_approval"])
def test_purchase_rejected_at_any_level_notifies_the_requester_and_ends_rejected(rejecting: str):
    scenario = Scenario(outcomes={rejecting: "reject"})
    run = simulate(load_template("purchase-approval"), purchase(20000), start=T0, scenario=scenario)
    assert run.status == "rejected"
    assert run.path[-2:] == ["rejected_notice", "rejected"]
    assert approvals(run)[-1] == rejecting
    assert "place_order" not in run.path
    (notice,) = effects_of(run, SendNotification)
    assert (notice.node, notice.to) == ("rejected_notice", "user:{{ requester }}")


# --- invoice three-way match ----------------------------------------------------------------


def invoice(
    *, ordered: float = 1000, invoiced: float = 1000, qty: float = 10, received: float = 10
) -> dict[str, Any]:
    return {
        "order": {"number": "PO-1", "amount": ordered, "quantity": 10},
        "invoice": {
            "number": "INV-9",
            "supplier": "Acme",
            "supplier_email": "ar@acme.example",
            "amount": invoiced,
            "quantity": qty,
        },
        "receipt": {"quantity": received},
    }


@pytest.mark.parametrize(
    ("documents", "result"),
    [
        (invoice(), "match"),
        (invoice(invoiced=1020), "match"),  # 2.0% is within the tolerance
        (invoice(invoiced=980, received=9.8), "match"),
        (invoice(invoiced=1020.01), "amount_mismatch"),
        (invoice(received=9), "quantity_mismatch"),
        (invoice(invoiced=1500, received=5), "both_mismatch"),
    ],
)
def test_invoice_documents_are_matched_within_two_percent(documents: dict[str, Any], result: str):
    run = simulate(load_template("invoice-three-way-match"), documents, start=T0)
    assert run.state["data"]["match"]["result"] == result
    assert run.incidents == []


def test_matching_invoice_is_posted_for_payment_without_a_task():
    scenario = Scenario(http={"post_payment": {"id": "AP-1"}})
    run = simulate(load_template("invoice-three-way-match"), invoice(), start=T0, scenario=scenario)
    assert run.status == "completed"
    assert run.path == ["received", "compare", "match", "matched", "post_payment", "posted"]
    assert effects_of(run, CreateTask) == []
    assert run.state["data"]["payable"] == {"id": "AP-1"}


def test_matching_invoice_is_posted_by_hand_when_the_erp_is_down():
    scenario = Scenario(http_fail={"post_payment"})
    run = simulate(load_template("invoice-three-way-match"), invoice(), start=T0, scenario=scenario)
    assert run.status == "completed"
    assert run.path[-2:] == ["post_manually", "posted"]


def test_mismatch_goes_to_accounts_payable_who_may_pay_anyway():
    scenario = Scenario(tasks={"resolve": {"action": "pay"}})
    run = simulate(
        load_template("invoice-three-way-match"),
        invoice(invoiced=1500),
        start=T0,
        scenario=scenario,
    )
    (task,) = effects_of(run, CreateTask)
    assert (task.node, task.assignee["role"]) == ("resolve", "accounts_payable")
    assert task.due is not None
    assert run.status == "completed"
    assert run.path[-2:] == ["post_payment", "posted"]
    assert [s["stage"] for s in run.state["stages"]] == [
        "Received",
        "Mismatch",
        "Posted for payment",
    ]


def test_corrected_figures_are_compared_again_and_then_match():
    scenario = Scenario(tasks={"resolve": {"action": "correct", "amount": 1000, "quantity": 10}})
    run = simulate(
        load_template("invoice-three-way-match"),
        invoice(received=7),
        start=T0,
        scenario=scenario,
    )
    assert run.status == "completed"
    assert run.path.count("compare") == 2
    assert run.state["data"]["receipt"]["quantity"] == 10
    assert run.state["data"]["match"]["result"] == "match"


def test_rejected_invoice_emails_the_supplier_and_ends_rejected():
    scenario = Scenario(tasks={"resolve": {"action": "reject"}})
    run = simulate(
        load_template("invoice-three-way-match"), invoice(qty=20), start=T0, scenario=scenario
    )
    assert run.status == "rejected"
    (mail,) = effects_of(run, SendNotification)
    assert (mail.node, mail.channel) == ("rejected_notice", "email")
    assert mail.data["invoice"]["supplier_email"] == "ar@acme.example"


# --- employee onboarding --------------------------------------------------------------------


HIRE = {
    "name": "Grace Hopper",
    "email": "grace@example.com",
    "start_date": "2026-03-16",
    "manager": "mia",
    "department": "Engineering",
}


def test_onboarding_prepares_in_parallel_then_waits_for_the_first_morning():
    scenario = Scenario(
        tasks={"it_account": {"username": "ghopper", "work_email": "grace@stepwise.example"}},
        think=timedelta(hours=3),
    )
    run = simulate(load_template("employee-onboarding"), HIRE, start=T0, scenario=scenario)
    assert run.status == "completed"
    created = effects_of(run, CreateTask)
    assert sorted(t.node for t in created) == ["equipment", "it_account", "paperwork"]
    assert {t.assignee["role"] for t in created} == {"it", "hr"}
    assert all(t.due is not None for t in created)  # every branch has its SLA
    assert run.path.count("join") == 3  # the join waits for all three branches
    (first_day,) = [e for e in effects_of(run, ScheduleTimer) if e.node == "first_day"]
    assert first_day.at == datetime(2026, 3, 16, 8, tzinfo=UTC)
    welcome_step = next(
        at
        for at, _, effects in run.steps
        if any(getattr(e, "node", "") == "welcome" for e in effects)
    )
    assert welcome_step == first_day.at
    notices = effects_of(run, SendNotification)
    assert [(n.node, n.to) for n in notices] == [
        ("welcome", "{{ email }}"),
        ("tell_manager", "user:{{ manager }}"),
    ]
    assert notices[0].data["account"]["username"] == "ghopper"
    assert [s["stage"] for s in run.state["stages"]] == ["Hired", "Preparing", "Ready", "Started"]


def test_onboarding_is_not_finished_while_one_branch_is_open():
    scenario = Scenario(hold={"paperwork"})
    run = simulate(load_template("employee-onboarding"), HIRE, start=T0, scenario=scenario)
    assert run.status == "running"
    assert "first_day" not in run.path
    open_nodes = [t["node"] for t in run.state["tasks"].values() if t["status"] == "open"]
    assert open_nodes == ["paperwork"]


def test_onboarding_for_a_start_date_already_past_welcomes_at_once():
    run = simulate(
        load_template("employee-onboarding"), {**HIRE, "start_date": "2026-01-05"}, start=T0
    )
    assert run.status == "completed"
    assert run.path[-3:] == ["welcome", "tell_manager", "done"]
