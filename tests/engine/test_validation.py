from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.model import Definition
from engine.problems import Problem, parse_definition
from engine.validation import has_errors, validate

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "order-management.json"


def wf(nodes: list[Any], edges: list[Any], **fields: Any) -> dict[str, Any]:
    """A definition as JSON from short specs.

    A node is ``"id:type"`` or ``("id:type", {fields})``; a user task gets a role, an
    approval an approver. An edge is ``"a>b"`` or ``("a>b", {fields})``; edges are
    numbered e1, e2, ... unless they name an ``id``.
    """
    out_nodes = []
    for spec in nodes:
        text, extra = (spec, {}) if isinstance(spec, str) else spec
        node_id, node_type = text.split(":")
        node = {"id": node_id, "type": node_type, **extra}
        if node_type == "user_task":
            node.setdefault("assignee", {"role": "staff"})
        if node_type == "approval":
            node.setdefault("approvers", [{"role": "staff"}])
        out_nodes.append(node)
    out_edges = []
    for number, spec in enumerate(edges, start=1):
        text, extra = (spec, {}) if isinstance(spec, str) else spec
        source, target = text.split(">")
        out_edges.append({"id": f"e{number}", "from": source, "to": target, **extra})
    return {"format": 1, "key": "test", "nodes": out_nodes, "edges": out_edges, **fields}


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def only(problems: list[Problem], code: str) -> Problem:
    """The one problem with ``code``; fails if there are none or several."""
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, problems
    return found[0]


SEQUENCE = wf(["s:start", "pick:user_task", "e:end"], ["s>pick", "pick>e"])


# --- the good case and the API ------------------------------------------------------------


def test_validation_of_a_sound_workflow_finds_nothing():
    assert validate(SEQUENCE) == []


def test_validation_accepts_a_parsed_definition():
    assert validate(parse_definition(SEQUENCE)) == []
    assert isinstance(parse_definition(SEQUENCE), Definition)


def test_validation_of_a_loop_with_a_way_out_finds_nothing():
    definition = wf(
        ["s:start", "fix:user_task", "check:approval", "e:end"],
        [
            "s>fix",
            "fix>check",
            ("check>fix", {"outcome": "reject"}),
            ("check>e", {"outcome": "approve"}),
        ],
    )
    assert validate(definition) == []


def test_has_errors_is_true_only_for_errors():
    warning = Problem("busy_loop", "spins", node="a", severity="warning")
    error = Problem("no_start", "no start")
    assert has_errors([warning, error])
    assert not has_errors([warning])
    assert not has_errors([])


def test_validation_lists_errors_first_then_warnings_in_node_order():
    definition = wf(
        ["s:start", "a:user_task", "b:user_task", "lost:user_task", "c:user_task"],
        ["s>a", "s>b", "s>c"],
    )
    problems = validate(definition)
    assert [(p.code, p.node) for p in problems] == [
        ("unreachable", "lost"),
        ("missing_outgoing", "a"),
        ("missing_outgoing", "b"),
        ("missing_outgoing", "lost"),
        ("missing_outgoing", "c"),
    ]
    assert validate(definition) == problems


def test_validation_of_the_order_management_template_finds_no_errors():
    problems = validate(json.loads(TEMPLATE.read_text()))
    assert not has_errors(problems), problems


# --- fields the format refuses -----------------------------------------------------------------


def test_validation_names_an_unknown_setting_by_node_and_field():
    definition = wf(
        [
            "s:start",
            ("pick:user_task", {"assignee": {"role": "w"}, "sla": {"due": "PT4H", "bogus": 1}}),
            "e:end",
        ],
        ["s>pick", "pick>e"],
    )
    problem = only(validate(definition), "invalid_field")
    assert (problem.node, problem.field) == ("pick", "sla.bogus")


def test_validation_names_a_setting_of_the_wrong_type():
    definition = wf(
        ["s:start", ("pick:user_task", {"priority": "high"}), "e:end"], ["s>pick", "pick>e"]
    )
    problem = only(validate(definition), "invalid_field")
    assert (problem.node, problem.field) == ("pick", "priority")


def test_validation_names_a_step_of_an_unknown_kind():
    definition = wf(["s:start", "pick:teleport", "e:end"], ["s>pick", "pick>e"])
    problems = validate(definition)
    assert [p.node for p in problems] == ["pick"]
    assert "teleport" in problems[0].message


# --- starts, ids and connections -------------------------------------------------------------


def test_validation_finds_a_workflow_without_start():
    problems = validate(wf(["a:user_task", "e:end"], ["a>e"]))
    assert codes(problems) == ["no_start"]


def test_validation_finds_several_starts():
    problems = validate(wf(["s:start", "t:start", "e:end"], ["s>e", "t>e"]))
    assert [(p.code, p.node) for p in problems] == [("several_starts", "t")]


def test_validation_finds_duplicate_step_ids():
    problems = validate(wf(["s:start", "a:user_task", "a:user_task", "e:end"], ["s>a", "a>e"]))
    assert [(p.code, p.node) for p in problems] == [("duplicate_id", "a")]


def test_validation_finds_duplicate_connection_ids():
    definition = wf(["s:start", "a:user_task", "e:end"], ["s>a", ("a>e", {"id": "e1"})])
    assert [(p.code, p.edge) for p in validate(definition)] == [("duplicate_id", "e1")]


def test_validation_finds_a_connection_to_a_missing_step():
    problems = validate(wf(["s:start", "a:user_task", "e:end"], ["s>a", "a>e", "a>ghost"]))
    assert [(p.code, p.edge, p.field) for p in problems] == [("dangling_edge", "e3", "to")]


def test_validation_finds_an_unreachable_step():
    problems = validate(
        wf(["s:start", "a:user_task", "b:user_task", "e:end"], ["s>a", "a>e", "b>e"])
    )
    assert [(p.code, p.node) for p in problems] == [("unreachable", "b")]


def test_validation_finds_steps_that_cannot_reach_an_end():
    definition = wf(
        ["s:start", "a:user_task", "b:user_task", "c:user_task"], ["s>a", "a>b", "b>c", "c>b"]
    )
    problems = validate(definition)
    assert [(p.code, p.node) for p in problems if p.code == "no_way_to_end"] == [
        ("no_way_to_end", "s"),
        ("no_way_to_end", "a"),
    ]


def test_validation_finds_a_connection_into_the_start():
    problems = validate(wf(["s:start", "a:user_task", "e:end"], ["s>a", "a>e", "a>s"]))
    assert [(p.code, p.node, p.edge) for p in problems] == [("start_has_incoming", "s", "e3")]


def test_validation_finds_a_connection_out_of_an_end():
    definition = wf(
        ["s:start", "a:user_task", "e:end", "b:user_task"], ["s>a", "a>e", "e>b", "b>a"]
    )
    problems = validate(definition)
    assert ("end_has_outgoing", "e", "e3") in [(p.code, p.node, p.edge) for p in problems]
    assert only(problems, "unreachable").node == "b"  # never followed, so b never runs


def test_validation_warns_about_a_step_without_way_out():
    problem = only(validate(wf(["s:start", "a:user_task"], ["s>a"])), "missing_outgoing")
    assert (problem.node, problem.severity) == ("a", "warning")


def test_validation_finds_a_gateway_without_way_out_as_an_error():
    problems = validate(wf(["s:start", "x:exclusive"], ["s>x"]))
    assert [(p.code, p.node, p.severity) for p in problems] == [("missing_outgoing", "x", "error")]


# --- routing -------------------------------------------------------------------------------------

ROUTE_NODES = ["s:start", "x:exclusive", "a:user_task", "b:user_task", "e:end"]


def route(*outgoing: Any) -> dict[str, Any]:
    return wf(ROUTE_NODES, ["s>x", *outgoing, "a>e", "b>e"])


def test_validation_finds_an_exclusive_gateway_without_default():
    problems = validate(route(("x>a", {"condition": "total > 10"}), ("x>b", {"condition": "rush"})))
    assert [(p.code, p.node) for p in problems] == [("exclusive_no_default", "x")]


def test_validation_accepts_exclusive_conditions_that_cover_every_case():
    assert (
        validate(route(("x>a", {"condition": "total > 10"}), ("x>b", {"condition": "total <= 10"})))
        == []
    )
    assert validate(route(("x>a", {"condition": "rush"}), ("x>b", {"condition": "not rush"}))) == []


def test_validation_finds_a_second_unconditional_path_out_of_an_exclusive_gateway():
    problems = validate(route("x>a", "x>b"))
    assert [(p.code, p.node, p.edge) for p in problems] == [
        ("exclusive_condition_missing", None, "e3"),
        ("unreachable", "b", None),  # the only way to b is never taken
    ]


def test_validation_warns_about_an_unconditional_path_not_marked_default():
    problems = validate(route(("x>a", {"condition": "rush"}), "x>b"))
    assert [(p.code, p.edge, p.severity) for p in problems] == [
        ("exclusive_condition_missing", "e3", "warning")
    ]


def test_validation_finds_several_default_paths():
    problems = validate(
        route(
            ("x>b", {"condition": "rush"}), ("x>a", {"default": True}), ("x>a", {"default": True})
        )
    )
    assert [(p.code, p.node, p.edge) for p in problems] == [("several_defaults", "x", "e4")]


def test_validation_finds_an_inclusive_gateway_without_default():
    definition = wf(
        ["s:start", "i:inclusive", "a:user_task", "b:user_task", "j:inclusive", "e:end"],
        [
            "s>i",
            ("i>a", {"condition": "big"}),
            ("i>b", {"condition": "heavy"}),
            "a>j",
            "b>j",
            "j>e",
        ],
    )
    assert [(p.code, p.node) for p in validate(definition)] == [("inclusive_no_default", "i")]


def test_validation_warns_about_a_step_with_only_conditional_ways_out():
    definition = wf(
        ["s:start", "a:user_task", "b:user_task", "e:end"],
        ["s>a", ("a>b", {"condition": "rush"}), ("a>e", {"condition": "late"}), "b>e"],
    )
    assert [(p.code, p.node, p.severity) for p in validate(definition)] == [
        ("no_default", "a", "warning")
    ]


def test_validation_warns_about_a_condition_that_is_never_checked():
    definition = wf(
        ["s:start", "p:parallel", "a:user_task", "b:user_task", "j:parallel", "e:end"],
        ["s>p", ("p>a", {"condition": "rush"}), "p>b", "a>j", "b>j", "j>e"],
    )
    assert [(p.code, p.edge, p.severity) for p in validate(definition)] == [
        ("condition_ignored", "e2", "warning")
    ]


def test_validation_finds_an_outcome_the_approval_does_not_have():
    definition = wf(
        ["s:start", "ok:approval", "e:end", "no:end"],
        ["s>ok", ("ok>e", {"outcome": "approve"}), ("ok>no", {"outcome": "refuse"})],
    )
    problems = validate(definition)
    assert ("outcome_unknown", "e3") in [(p.code, p.edge) for p in problems]


def test_validation_finds_an_outcome_on_a_connection_not_leaving_an_approval():
    definition = wf(["s:start", "a:user_task", "e:end"], ["s>a", ("a>e", {"outcome": "approve"})])
    problems = validate(definition)
    assert only(problems, "outcome_unknown").edge == "e2"


def test_validation_finds_an_approval_outcome_without_path():
    definition = wf(["s:start", "ok:approval", "e:end"], ["s>ok", ("ok>e", {"outcome": "approve"})])
    problems = validate(definition)
    assert [(p.code, p.node, p.field) for p in problems] == [
        ("approval_outcome_unrouted", "ok", "outcomes")
    ]


def test_validation_accepts_an_approval_with_a_default_path_for_other_outcomes():
    definition = wf(
        ["s:start", "ok:approval", "e:end", "no:end"],
        ["s>ok", ("ok>e", {"outcome": "approve"}), ("ok>no", {"default": True})],
    )
    assert validate(definition) == []


def test_validation_warns_about_an_approval_whose_paths_ignore_the_outcome():
    definition = wf(["s:start", "ok:approval", "e:end", "no:end"], ["s>ok", "ok>e", "ok>no"])
    assert [(p.code, p.node) for p in validate(definition)] == [("approval_outcome_missing", "ok")]


def test_validation_warns_about_a_connection_without_outcome_next_to_outcome_paths():
    definition = wf(
        ["s:start", "ok:approval", "e:end", "no:end"],
        ["s>ok", ("ok>e", {"outcome": "approve"}), "ok>no"],
    )
    assert [(p.code, p.edge, p.severity) for p in validate(definition)] == [
        ("approval_outcome_missing", "e3", "warning")
    ]


@pytest.mark.parametrize(
    ("node_type", "on", "extra"),
    [
        ("notify", "timeout", {"channel": "email", "to": "x@example.com"}),
        ("set", "error", {"assign": {"a": "1"}}),
        ("user_task", "error", {}),
        ("table", "timeout", {"table": "inventory", "op": "get"}),
    ],
)
def test_validation_finds_a_boundary_connection_on_a_step_that_cannot_take_it(
    node_type: str, on: str, extra: dict[str, Any]
):
    boundary = {"on": on, "after": "PT1H"} if on == "timeout" else {"on": on}
    definition = wf(
        ["s:start", (f"a:{node_type}", extra), "e:end", "late:end"],
        ["s>a", "a>e", ("a>late", boundary)],
    )
    problem = only(validate(definition), "boundary_on_non_waiting")
    assert (problem.edge, problem.field) == ("e3", "on")


def test_validation_accepts_timeout_and_error_connections_where_they_belong():
    definition = wf(
        [
            "s:start",
            ("call:http", {"request": {"url": "https://example.com"}}),
            "a:user_task",
            "e:end",
            "failed:end",
            "late:end",
        ],
        [
            "s>call",
            "call>a",
            ("call>failed", {"on": "error"}),
            "a>e",
            ("a>late", {"on": "timeout", "after": "P2D"}),
        ],
    )
    assert validate(definition) == []


# --- settings on connections (the rest: test_setting_checks.py) ----------------------------------


def test_validation_finds_a_condition_that_does_not_parse():
    definition = wf(
        ROUTE_NODES,
        ["s>x", ("x>a", {"condition": "total >"}), ("x>b", {"default": True}), "a>e", "b>e"],
    )
    problem = only(validate(definition), "bad_expression")
    assert (problem.edge, problem.field) == ("e2", "condition")


def test_validation_finds_a_timeout_connection_with_a_bad_duration():
    definition = wf(
        ["s:start", "a:user_task", "e:end", "late:end"],
        ["s>a", "a>e", ("a>late", {"on": "timeout", "after": "a week"})],
    )
    problem = only(validate(definition), "bad_duration")
    assert (problem.edge, problem.field) == ("e3", "after")


# --- loops (joins and merges: test_join_analysis.py) ---------------------------------------------


def test_validation_finds_a_loop_without_way_out():
    definition = wf(
        ["s:start", "a:user_task", "b:user_task", "e:end"], ["s>a", "a>b", "b>a", "s>e"]
    )
    problems = validate(definition)
    assert [(p.code, p.node) for p in problems] == [("endless_loop", "a")]


def test_validation_counts_a_timeout_as_a_way_out_of_a_loop():
    definition = wf(
        ["s:start", "a:user_task", "b:user_task", "e:end"],
        ["s>a", "a>b", "b>a", ("b>e", {"on": "timeout", "after": "P7D"})],
    )
    assert validate(definition) == []


def test_validation_warns_about_a_loop_that_never_waits():
    definition = wf(
        ["s:start", ("a:set", {"assign": {"n": "n + 1"}}), "x:exclusive", "e:end"],
        ["s>a", "a>x", ("x>a", {"condition": "n < 10"}), ("x>e", {"default": True})],
    )
    problems = validate(definition)
    assert [(p.code, p.node, p.severity) for p in problems] == [("busy_loop", "a", "warning")]


# --- any graph -----------------------------------------------------------------------------------

NODE_SPECS: dict[str, dict[str, Any]] = {
    "start": {},
    "end": {},
    "exclusive": {},
    "parallel": {},
    "inclusive": {},
    "set": {"assign": {"n": "n + 1"}},
    "user_task": {"assignee": {"role": "staff"}},
    "notify": {"channel": "email", "to": "x@example.com"},
}


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    types = draw(st.lists(st.sampled_from(sorted(NODE_SPECS)), min_size=1, max_size=9))
    nodes = [{"id": f"n{i}", "type": t, **NODE_SPECS[t]} for i, t in enumerate(types)]
    ids = st.sampled_from([*(n["id"] for n in nodes), "ghost"])
    boundary = st.sampled_from(
        [
            {},
            {"on": "error"},
            {"on": "timeout", "after": "PT1H"},
            {"on": "timeout", "after": "PT1H", "interrupting": False},
        ]
    )
    edge = st.builds(
        lambda ends, extra, on: {**ends, **extra, **on},
        st.fixed_dictionaries({"from": ids, "to": ids}),
        st.fixed_dictionaries(
            {},
            optional={
                "condition": st.sampled_from(["n > 1", "not (n > 1)", "n >", "rush"]),
                "default": st.booleans(),
                "outcome": st.just("approve"),
            },
        ),
        boundary,
    )
    edges = draw(st.lists(edge, max_size=14))
    return {
        "key": "random",
        "nodes": nodes,
        "edges": [{"id": f"e{i}", **e} for i, e in enumerate(edges)],
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_validation_of_any_graph_returns_problems_without_raising(definition: dict[str, Any]):
    problems = validate(definition)
    assert isinstance(problems, list)
    assert all(isinstance(p, Problem) for p in problems)
    assert all(p.severity in ("error", "warning") for p in problems)
    ranks = [p.severity == "warning" for p in problems]
    assert ranks == sorted(ranks)  # errors first
    assert validate(definition) == problems
