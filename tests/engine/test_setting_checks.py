"""Checks of each step's settings: expressions, durations, forms, names and references.

Checked through :func:`engine.validation.validate`, as designers meet them.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.model import MAX_HTTP_TIMEOUT_S
from engine.validation import validate
from tests.engine.test_validation import SEQUENCE, only, wf


def single(node: Any) -> dict[str, Any]:
    """A start, ``node`` (whose id is ``n``) and an end."""
    return wf(["s:start", node, "e:end"], ["s>n", "n>e"])


@pytest.mark.parametrize(
    ("node", "field"),
    [
        (("n:set", {"assign": {"total": "price *"}}), "assign.total"),
        (("n:user_task", {"assignee": {"expr": "manager of"}}), "assignee.expr"),
        (("n:table", {"table": "t", "op": "get", "key": {"sku": "sku +"}}), "key.sku"),
        (("n:table", {"table": "t", "op": "update", "values": {"n": "(("}}), "values.n"),
        (("n:table", {"table": "t", "op": "get", "each": "items["}), "each"),
        (
            (
                "n:decision",
                {"inputs": ["total"], "output": "o", "rules": [{"when": ["> 1 +"], "then": {}}]},
            ),
            "rules.0.when.0",
        ),
        (("n:decision", {"inputs": ["total +"], "output": "o", "rules": []}), "inputs.0"),
        (("n:timer", {"until": "due date"}), "until"),
        (("n:receive", {"message": "m", "correlate": "order.id +"}), "correlate"),
        (("n:subworkflow", {"workflow": "w", "input": {"x": "a b"}}), "input.x"),
        (("n:subworkflow", {"workflow": "w", "output": {"x": "a b"}}), "output.x"),
        (("n:subworkflow", {"workflow": "w", "output": {"x": "__class__"}}), "output.x"),
    ],
)
def test_validation_finds_an_expression_that_does_not_parse(node: Any, field: str):
    problem = only(validate(single(node)), "bad_expression")
    assert (problem.node, problem.field) == ("n", field)


@pytest.mark.parametrize(
    ("node", "field"),
    [
        (("n:set", {"assign": {"now": "1"}}), "assign.now"),
        (("n:set", {"assign": {"instance.x": "1"}}), "assign.instance.x"),
        (
            ("n:user_task", {"form": {"type": "object", "properties": {"task": {}}}}),
            "form.properties.task",
        ),
        (("n:user_task", {"result": "today"}), "result"),
        (("n:decision", {"inputs": ["x"], "output": "task", "rules": []}), "output"),
    ],
)
def test_validation_finds_a_data_field_with_a_reserved_name(node: Any, field: str):
    problem = only(validate(single(node)), "reserved_name")
    assert (problem.node, problem.field) == ("n", field)


def test_validation_allows_reserved_names_in_a_form_whose_data_goes_under_a_result_key():
    node = (
        "n:user_task",
        {"form": {"type": "object", "properties": {"task": {}}}, "result": "pick"},
    )
    assert validate(single(node)) == []


def test_validation_finds_a_form_that_is_not_json_schema():
    problem = only(validate(single(("n:user_task", {"form": {"type": "bogus"}}))), "bad_form")
    assert (problem.node, problem.field) == ("n", "form")


@pytest.mark.parametrize(
    ("node", "field"),
    [
        (("n:user_task", {"sla": {"due": "4 hours"}}), "sla.due"),
        (("n:user_task", {"sla": {"due": "PT4H", "remind": ["PT3X"]}}), "sla.remind.0"),
        (
            ("n:user_task", {"sla": {"due": "PT4H", "escalate": [{"after": "soon"}]}}),
            "sla.escalate.0.after",
        ),
        (("n:user_task", {"sla": {"due": "P1M", "calendar": "business"}}), "sla.due"),
        (("n:timer", {"duration": "P1H"}), "duration"),
        (("n:http", {"request": {"url": "u"}, "retry": {"backoff": "10s"}}), "retry.backoff"),
        (("n:receive", {"message": "m", "correlate": "id", "keep_early": "-PT1H"}), "keep_early"),
    ],
)
def test_validation_finds_a_duration_that_does_not_parse(node: Any, field: str):
    problem = only(validate(single(node)), "bad_duration")
    assert (problem.node, problem.field) == ("n", field)


def test_validation_warns_about_a_reminder_after_the_due_time():
    problems = validate(
        single(("n:user_task", {"sla": {"due": "PT4H", "remind": ["PT3H", "PT5H"]}}))
    )
    assert [(p.code, p.node, p.field, p.severity) for p in problems] == [
        ("reminder_after_due", "n", "sla.remind.1", "warning")
    ]


@pytest.mark.parametrize(
    ("timeout", "code", "severity"),
    [(0, "bad_timeout", "error"), (-5, "bad_timeout", "error"), (120, "timeout_cut", "warning")],
)
def test_validation_checks_how_long_a_call_waits(timeout: float, code: str, severity: str):
    node = ("n:http", {"request": {"url": "https://example.com", "timeout_s": timeout}})
    problems = validate(single(node))
    assert [(p.code, p.node, p.field, p.severity) for p in problems] == [
        (code, "n", "request.timeout_s", severity)
    ]


def test_validation_accepts_a_call_that_waits_up_to_the_limit():
    node = ("n:http", {"request": {"url": "https://example.com", "timeout_s": MAX_HTTP_TIMEOUT_S}})
    assert validate(single(node)) == []


KNOWN = {
    "users": ["alice"],
    "roles": ["staff", "warehouse"],
    "workflows": ["refund"],
    "calendars": ["de"],
}


@pytest.mark.parametrize(
    ("node", "code", "field"),
    [
        (("n:user_task", {"assignee": {"role": "ghosts"}}), "unknown_role", "assignee.role"),
        (("n:user_task", {"assignee": {"user": "bob"}}), "unknown_user", "assignee.user"),
        (
            ("n:approval", {"approvers": [{"user": "alice"}, {"role": "x"}]}),
            "unknown_role",
            "approvers.1.role",
        ),
        (
            (
                "n:user_task",
                {"sla": {"due": "PT4H", "escalate": [{"after": "PT5H", "to": {"user": "bob"}}]}},
            ),
            "unknown_user",
            "sla.escalate.0.to.user",
        ),
        (("n:subworkflow", {"workflow": "ship"}), "unknown_workflow", "workflow"),
        (("n:timer", {"duration": "PT1H", "calendar": "fr"}), "unknown_calendar", "calendar"),
        (
            ("n:user_task", {"sla": {"due": "PT4H", "calendar": "fr"}}),
            "unknown_calendar",
            "sla.calendar",
        ),
    ],
)
def test_validation_finds_unknown_names_when_it_knows_the_names(node: Any, code: str, field: str):
    problem = only(validate(single(node), **KNOWN), code)
    assert (problem.node, problem.field) == ("n", field)
    assert validate(single(node)) == []  # without the lists, nothing is checked


def test_validation_knows_the_default_calendars_and_the_workflow_itself():
    node = ("n:timer", {"duration": "PT1H", "calendar": "24x7"})
    assert validate(single(node), **KNOWN) == []
    assert validate(single(("n:subworkflow", {"workflow": "test"})), **KNOWN) == []


def test_validation_finds_an_unknown_role_allowed_to_start():
    definition = wf([("s:start", {"trigger": {"roles": ["nobody"]}}), "e:end"], ["s>e"])
    problem = only(validate(definition, roles=["staff"]), "unknown_role")
    assert (problem.node, problem.field) == ("s", "trigger.roles.0")


@pytest.mark.parametrize("step", ["ghost", "e"])
def test_validation_finds_same_person_as_a_step_that_is_no_task(step: str):
    definition = wf(
        ["s:start", "a:user_task", ("b:user_task", {"assignee": {"same_as": step}}), "e:end"],
        ["s>a", "a>b", "b>e"],
    )
    problem = only(validate(definition), "same_as_unknown_step")
    assert (problem.node, problem.field) == ("b", "assignee.same_as")


def test_same_person_as_the_start_means_whoever_started_it():
    definition = wf(
        ["s:start", ("a:user_task", {"assignee": {"role": "staff", "not_same_as": "s"}}), "e:end"],
        ["s>a", "a>e"],
    )
    assert [p for p in validate(definition) if p.code == "same_as_unknown_step"] == []


def test_validation_warns_about_a_four_eyes_rule_on_a_later_step():
    definition = wf(
        ["s:start", ("a:user_task", {"assignee": {"not_same_as": "b"}}), "b:user_task", "e:end"],
        ["s>a", "a>b", "b>e"],
    )
    problem = only(validate(definition), "same_as_not_before")
    assert (problem.node, problem.field, problem.severity) == (
        "a",
        "assignee.not_same_as",
        "warning",
    )


def test_validation_accepts_same_person_as_an_earlier_step():
    definition = wf(
        ["s:start", "a:user_task", ("b:user_task", {"assignee": {"same_as": "a"}}), "e:end"],
        ["s>a", "a>b", "b>e"],
    )
    assert validate(definition) == []


@pytest.mark.parametrize("quorum", [0, 3])
def test_validation_finds_a_quorum_that_cannot_be_reached(quorum: int):
    node = (
        "n:approval",
        {"approvers": [{"role": "a"}, {"role": "b"}, {"role": "a"}], "quorum": quorum},
    )
    problem = only(validate(single(node)), "quorum_too_large")
    assert (problem.node, problem.field) == ("n", "quorum")


def test_validation_finds_a_decision_rule_with_the_wrong_number_of_cells():
    rules = [{"when": ["> 10", "-"], "then": {"x": 1}}, {"when": ["-"], "then": {"x": 2}}]
    node = ("n:decision", {"inputs": ["total", "tier"], "output": "x", "rules": rules})
    problem = only(validate(single(node)), "decision_cells")
    assert (problem.node, problem.field) == ("n", "rules.1.when")


def test_validation_finds_a_data_description_that_is_not_json_schema():
    definition = {**SEQUENCE, "data": {"type": "object", "properties": {"x": {"type": 3}}}}
    problem = only(validate(definition), "bad_form")
    assert (problem.node, problem.field) == (None, "data")
