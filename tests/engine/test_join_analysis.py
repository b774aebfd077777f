"""The join analysis: joins that get stuck or never fire, and parallel paths that merge.

Checked through :func:`engine.validation.validate`, as designers meet it.
"""

from __future__ import annotations

from engine.validation import validate
from tests.engine.test_validation import only, wf

# --- sound joins ---------------------------------------------------------------------------------


def test_validation_of_parallel_split_and_join_finds_nothing():
    definition = wf(
        ["s:start", "p:parallel", "a:user_task", "b:user_task", "j:parallel", "e:end"],
        ["s>p", "p>a", "p>b", "a>j", "b>j", "j>e"],
    )
    assert validate(definition) == []


def test_validation_of_a_choice_inside_a_parallel_branch_merged_before_the_join_finds_nothing():
    definition = wf(
        [
            "s:start",
            "p:parallel",
            "a:user_task",
            "x:exclusive",
            "b1:user_task",
            "b2:user_task",
            "m:exclusive",
            "j:parallel",
            "e:end",
        ],
        [
            "s>p",
            "p>a",
            "p>x",
            ("x>b1", {"condition": "rush"}),
            ("x>b2", {"default": True}),
            "b1>m",
            "b2>m",
            "m>j",
            "a>j",
            "j>e",
        ],
    )
    assert validate(definition) == []


def test_validation_of_an_inclusive_join_behind_an_exclusive_choice_finds_nothing():
    definition = wf(
        ["s:start", "x:exclusive", "a:user_task", "b:user_task", "j:inclusive", "e:end"],
        ["s>x", ("x>a", {"condition": "rush"}), ("x>b", {"default": True}), "a>j", "b>j", "j>e"],
    )
    assert validate(definition) == []


def test_validation_of_an_inclusive_split_and_join_finds_nothing():
    definition = wf(
        ["s:start", "i:inclusive", "a:user_task", "b:user_task", "j:inclusive", "e:end"],
        ["s>i", ("i>a", {"condition": "big"}), ("i>b", {"default": True}), "a>j", "b>j", "j>e"],
    )
    assert validate(definition) == []


# --- joins that get stuck or never fire ----------------------------------------------------------


def test_validation_finds_a_parallel_join_behind_an_exclusive_choice():
    definition = wf(
        ["s:start", "x:exclusive", "a:user_task", "b:user_task", "j:parallel", "e:end"],
        ["s>x", ("x>a", {"condition": "rush"}), ("x>b", {"default": True}), "a>j", "b>j", "j>e"],
    )
    problems = validate(definition)
    assert [(p.code, p.node) for p in problems] == [("parallel_join_deadlock", "j")]


def test_validation_finds_a_parallel_join_reentered_by_one_branch_of_a_loop():
    definition = wf(
        [
            "s:start",
            "p:parallel",
            "a:user_task",
            "b:user_task",
            "j:parallel",
            "x:exclusive",
            "e:end",
        ],
        [
            "s>p",
            "p>a",
            "p>b",
            "a>j",
            "b>j",
            "j>x",
            ("x>a", {"condition": "again"}),
            ("x>e", {"default": True}),
        ],
    )
    problem = only(validate(definition), "parallel_join_deadlock")
    assert (problem.node, problem.edge) == ("j", "e5")  # the path from b never comes again


def test_validation_finds_a_parallel_join_whose_branch_ends_without_terminating():
    definition = wf(
        ["s:start", "p:parallel", "a:user_task", "b:user_task", "j:parallel", "done:end", "e:end"],
        [
            "s>p",
            "p>a",
            "p>b",
            "a>j",
            ("b>j", {"condition": "ok"}),
            ("b>done", {"default": True}),
            "j>e",
        ],
    )
    assert [(p.code, p.node) for p in validate(definition)] == [("parallel_join_deadlock", "j")]


def test_validation_accepts_a_parallel_join_when_the_other_branch_cancels_the_instance():
    definition = wf(
        [
            "s:start",
            "p:parallel",
            "a:user_task",
            "b:approval",
            "j:parallel",
            ("no:end", {"outcome": "rejected"}),
            "e:end",
        ],
        [
            "s>p",
            "p>a",
            "p>b",
            "a>j",
            ("b>j", {"outcome": "approve"}),
            ("b>no", {"outcome": "reject"}),
            "j>e",
        ],
    )
    assert validate(definition) == []


def test_validation_finds_inclusive_joins_waiting_for_each_other():
    definition = wf(
        [
            "s:start",
            "p:parallel",
            "a:user_task",
            "b:user_task",
            "j1:inclusive",
            "j2:inclusive",
            "e:end",
        ],
        [
            "s>p",
            "p>a",
            "p>b",
            "a>j1",
            "b>j2",
            ("j1>j2", {"condition": "more"}),
            ("j1>e", {"default": True}),
            ("j2>j1", {"condition": "more"}),
            ("j2>e", {"default": True}),
        ],
    )
    problems = validate(definition)
    assert [(p.code, p.node) for p in problems if p.code.endswith("deadlock")] == [
        ("inclusive_join_deadlock", "j1"),
        ("inclusive_join_deadlock", "j2"),
    ]


def test_validation_finds_a_join_that_never_fires():
    definition = wf(
        [
            "s:start",
            "p:parallel",
            "a:user_task",
            ("no:end", {"outcome": "cancelled"}),
            "orphan:user_task",
            "j:parallel",
            "e:end",
        ],
        ["s>p", "p>a", "p>no", "a>j", "orphan>j", "j>e"],
    )
    problems = validate(definition)
    assert [(p.code, p.node) for p in problems] == [
        ("unreachable", "orphan"),
        ("join_never_fires", "j"),
    ]


# --- parallel paths that merge -------------------------------------------------------------------


def test_validation_warns_about_parallel_paths_meeting_at_an_exclusive_merge():
    definition = wf(
        ["s:start", "p:parallel", "a:user_task", "b:user_task", "m:exclusive", "e:end"],
        ["s>p", "p>a", "p>b", "a>m", "b>m", "m>e"],
    )
    problems = validate(definition)
    assert [(p.code, p.node, p.severity) for p in problems] == [
        ("merge_of_parallel", "m", "warning")
    ]


def test_validation_warns_about_a_non_interrupting_timeout_path_rejoining_the_flow():
    definition = wf(
        [
            "s:start",
            "a:user_task",
            "m:exclusive",
            ("nudge:notify", {"channel": "email", "to": "x"}),
            "e:end",
        ],
        [
            "s>a",
            "a>m",
            ("a>nudge", {"on": "timeout", "after": "P1D", "interrupting": False}),
            "nudge>m",
            "m>e",
        ],
    )
    assert [(p.code, p.node) for p in validate(definition)] == [("merge_of_parallel", "m")]


# --- wide workflows, and the fallback ------------------------------------------------------------


def test_validation_of_a_wide_workflow_stays_exact():
    branches = [f"b{i}" for i in range(5)]
    nodes = ["s:start", "p:parallel", *(f"{b}:user_task" for b in branches), "j:parallel", "e:end"]
    edges = ["s>p", *(f"p>{b}" for b in branches), *(f"{b}>j" for b in branches), "j>e"]
    assert validate(wf(nodes, edges)) == []


def test_validation_falls_back_to_dominators_when_runs_multiply_without_bound():
    definition = wf(
        [
            "s:start",
            "x:exclusive",
            "a:user_task",
            "b:user_task",
            "j:parallel",
            "e:end",
            ("r:notify", {"channel": "email", "to": "x"}),
            "p:parallel",
            ("t:timer", {"duration": "P1D"}),
        ],
        [
            "s>x",
            ("x>a", {"condition": "rush"}),
            ("x>b", {"default": True}),
            "a>j",
            "b>j",
            "j>e",
            "s>r",
            "r>p",
            "p>r",  # every pass through the loop leaves one more waiting timer behind
            "p>t",
        ],
    )
    problems = validate(definition)
    assert ("parallel_join_deadlock", "j") in [(p.code, p.node) for p in problems]
