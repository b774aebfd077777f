"""The interpreter, node by node, gateway by gateway, and the control-flow patterns.

Every scenario runs twice (the ``drive`` fixture): in memory, and with the state
saved and reloaded through JSON between steps.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine import (
    AssignTask,
    CallHttp,
    Cancel,
    CancelTask,
    CancelTimer,
    CancelWait,
    CommandError,
    CompleteTask,
    CreateTask,
    DefinitionError,
    FireTimer,
    HttpFailed,
    HttpResult,
    InstanceFinished,
    RaiseIncident,
    RetryIncident,
    SendNotification,
    SetStage,
    SkipIncident,
    SlaEvent,
    Start,
    StartSubworkflow,
    SubworkflowFinished,
    TableOperation,
    TableResult,
    UpdateData,
    WaitForMessage,
    parse_definition,
    step,
)
from tests.factories import T0, edge, node, workflow

START = node("start", "start")
END = node("end", "end")


def seq(*middle: dict[str, Any], extra_edges: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """start -> middle... -> end."""
    nodes = [START, *middle, END]
    ids = [n["id"] for n in nodes]
    return workflow(nodes, [*(edge(a, b) for a, b in itertools.pairwise(ids)), *extra_edges])


# --- sequence, start, end -------------------------------------------------------------------


def test_sequence_runs_tasks_in_order_and_completes(drive):
    d = drive(seq(node("a", "user_task"), node("b", "user_task")))
    d.start({"x": 1})
    assert [t.node for t in d.created()] == ["a"]
    d.complete("a", by="alice")
    assert [t.node for t in d.created()] == ["b"]
    d.complete("b")
    assert d.status == "completed"
    assert d.path == ["start", "a", "b", "end"]
    assert d.of(InstanceFinished)[0].outcome == "completed"


def test_start_form_is_checked(drive):
    wf = seq()
    wf["nodes"][0]["form"] = {
        "type": "object",
        "required": ["amount"],
        "properties": {"amount": {"type": "number"}},
    }
    d = drive(wf)
    with pytest.raises(CommandError) as err:
        d.start({"amount": "lots"})
    assert err.value.code == "invalid_form"
    assert d.state is None
    d.start({"amount": 3})
    assert d.status == "completed"


def test_starting_twice_is_refused(drive):
    d = drive(seq(node("a", "user_task")))
    d.start()
    with pytest.raises(CommandError, match="already started"):
        d.send(Start())


def test_implicit_termination_completes_when_every_path_ended(drive):
    wf = workflow(
        [START, node("split", "parallel"), node("a", "user_task"), node("b", "user_task")],
        [edge("start", "split"), edge("split", "a"), edge("split", "b")],
    )
    d = drive(wf)
    d.start()
    d.complete("a")
    assert d.status == "running"
    d.complete("b")
    assert d.status == "completed"


# --- user tasks -------------------------------------------------------------------------------


def test_completed_form_data_merges_at_top_level_or_under_result(drive):
    d = drive(seq(node("a", "user_task"), node("b", "user_task", result="review")))
    d.start({"x": 1})
    d.complete("a", {"y": 2})
    d.complete("b", {"ok": True})
    assert d.s["data"] == {"x": 1, "y": 2, "review": {"ok": True}}


def test_form_data_failing_its_schema_is_refused_and_state_unchanged(drive):
    form = {
        "type": "object",
        "required": ["weight"],
        "properties": {"weight": {"type": "number", "minimum": 0}},
    }
    d = drive(seq(node("pack", "user_task", form=form)))
    d.start()
    before = json.dumps(d.s, sort_keys=True)
    with pytest.raises(CommandError) as err:
        d.complete("pack", {"weight": -1})
    assert err.value.code == "invalid_form"
    assert any("weight" in line for line in err.value.details)
    assert json.dumps(d.s, sort_keys=True) == before


def test_completing_a_task_twice_is_refused(drive):
    d = drive(seq(node("a", "user_task")))
    d.start()
    task = d.task("a")
    d.send(CompleteTask(task, {}, by="alice"))
    with pytest.raises(CommandError) as err:
        d.send(CompleteTask(task, {}, by="bob"))
    assert err.value.code == "instance_finished"


def test_command_for_unknown_task_is_refused(drive):
    d = drive(seq(node("a", "user_task"), node("b", "user_task")))
    d.start()
    with pytest.raises(CommandError) as err:
        d.send(CompleteTask("task-999", {}))
    assert err.value.code == "no_such_task"
    first = d.task("a")
    d.send(CompleteTask(first, {}))
    with pytest.raises(CommandError) as err:
        d.send(CompleteTask(first, {}))
    assert err.value.code == "task_not_open"


def test_task_carries_assignee_spec_for_the_app(drive):
    d = drive(seq(node("a", "user_task", assignee={"role": "warehouse", "policy": "round_robin"})))
    d.start()
    (task,) = d.created()
    assert task.assignee == {"role": "warehouse", "policy": "round_robin"}
    assert task.users == ()


def test_assignee_expression_yields_users_and_is_explained(drive):
    d = drive(seq(node("a", "user_task", assignee={"expr": "account_manager"})))
    d.start({"account_manager": "carol"})
    (task,) = d.created()
    assert task.users == ("carol",)
    decision = d.s["decisions"][-1]
    assert decision["kind"] == "assignee"
    assert decision["inputs"] == {"account_manager": "carol"}


def test_assignee_expression_yielding_a_list_offers_to_all(drive):
    d = drive(seq(node("a", "user_task", assignee={"expr": "reviewers"})))
    d.start({"reviewers": ["ann", "ben", "ann"]})
    assert d.created()[0].users == ("ann", "ben")


def test_assignee_expression_with_missing_data_raises_incident(drive):
    d = drive(seq(node("a", "user_task", assignee={"expr": "account_manager"})))
    d.start({})
    (incident,) = d.of(RaiseIncident)
    assert incident.code == "missing_data"
    assert incident.details["missing"] == "account_manager"


def test_an_expression_that_fails_on_its_data_raises_an_incident_saying_why(drive):
    d = drive(seq(node("a", "set", assign={"n": "int(note)"})))
    d.start({"note": "seven"})
    (incident,) = d.of(RaiseIncident)
    assert incident.code == "expression_failed"
    assert incident.details == {"expression": "int(note)"}
    assert "int(note)" in incident.message
    assert d.status == "running"


def test_retain_familiar_gives_task_to_whoever_did_the_earlier_step(drive):
    d = drive(
        seq(
            node("pick", "user_task", assignee={"role": "w"}),
            node("fix", "user_task", assignee={"same_as": "pick"}),
        )
    )
    d.start()
    d.complete("pick", by="dora")
    (task,) = d.created()
    assert task.users == ("dora",)
    assert task.fallback == {"role": "w", "policy": "claim"}


def test_four_eyes_excludes_whoever_did_the_earlier_step(drive):
    d = drive(
        seq(
            node("request", "user_task", assignee={"role": "w"}),
            node("check", "user_task", assignee={"role": "w", "not_same_as": "request"}),
        )
    )
    d.start()
    d.complete("request", by="dora")
    (task,) = d.created()
    assert task.exclude == ("dora",)
    assert task.assignee["role"] == "w"


def test_assign_task_records_the_holder(drive):
    d = drive(seq(node("a", "user_task")))
    d.start()
    d.send(AssignTask(d.task("a"), "erin"))
    assert d.s["tasks"][d.task("a")]["assignee"] == "erin"
    d.send(CompleteTask(d.task("a"), {}, by=None))
    assert d.s["done"]["a"] == "erin"


# --- stages, notify, set --------------------------------------------------------------------


def test_stage_changes_are_recorded_and_emitted(drive):
    d = drive(
        seq(
            node("a", "user_task", stage="Picking"),
            node("n", "notify", channel="email", to="x", stage="Shipped"),
        )
    )
    effects = d.start()
    assert [e.stage for e in d.of(SetStage, effects)] == ["Picking"]
    d.complete("a")
    assert [s["stage"] for s in d.s["stages"]] == ["Picking", "Shipped"]
    assert d.s["stage"] == "Shipped"


def test_notify_sends_with_the_data_at_that_moment(drive):
    d = drive(
        seq(
            node("n", "notify", channel="sms", to="{{ phone }}", body="Hi {{ name }}"),
            node("s", "set", assign={"name": "'changed'"}),
        )
    )
    effects = d.start({"phone": "+49", "name": "Ada"})
    (note,) = d.of(SendNotification, effects)
    assert note.channel == "sms"
    assert note.data["name"] == "Ada"
    assert d.s["data"]["name"] == "changed"


def test_set_computes_fields_in_order_including_nested(drive):
    d = drive(
        seq(
            node(
                "s",
                "set",
                assign={"net": "total * 0.8", "tax.amount": "total - net", "big": "net > 50"},
            )
        )
    )
    d.start({"total": 100})
    assert d.s["data"]["net"] == 80
    assert d.s["data"]["tax"] == {"amount": 20}
    assert d.s["data"]["big"] is True


# --- exclusive --------------------------------------------------------------------------------


def exclusive_wf() -> dict[str, Any]:
    return workflow(
        [START, node("gw", "exclusive"), node("big", "user_task"), node("small", "user_task"), END],
        [
            edge("start", "gw"),
            edge("gw", "big", id="to-big", condition="total > 1000"),
            edge("gw", "small", id="to-small", default=True),
            edge("big", "end"),
            edge("small", "end"),
        ],
    )


@pytest.mark.parametrize(("total", "expected"), [(5000, "big"), (10, "small")])
def test_exclusive_takes_first_true_condition_else_default(drive, total, expected):
    d = drive(exclusive_wf())
    d.start({"total": total})
    assert [t.node for t in d.created()] == [expected]


def test_exclusive_records_why_it_chose(drive):
    d = drive(exclusive_wf())
    d.start({"total": 5000})
    decision = next(x for x in d.s["decisions"] if x["kind"] == "exclusive")
    assert decision["inputs"] == {"total": 5000}
    assert decision["evaluated"] == [
        {"edge": "to-big", "condition": "total > 1000", "result": True}
    ]
    assert decision["chosen"] == ["to-big"]
    assert decision["default"] is False


def test_exclusive_condition_on_missing_data_raises_incident_not_default(drive):
    d = drive(exclusive_wf())
    d.start({})
    (incident,) = d.of(RaiseIncident)
    assert incident.node == "gw"
    assert incident.code == "missing_data"
    assert incident.details == {"expression": "total > 1000", "missing": "total"}
    assert d.created() == []
    assert d.status == "running"


def test_incident_retry_after_data_fix_continues(drive):
    d = drive(exclusive_wf())
    d.start({})
    (incident,) = d.of(RaiseIncident)
    d.send(UpdateData({"total": 2000}, by="admin"))
    d.send(RetryIncident(incident.incident_id))
    assert [t.node for t in d.created()] == ["big"]
    assert d.s["incidents"][incident.incident_id]["status"] == "resolved"


def test_exclusive_without_default_and_no_true_condition_raises_incident(drive):
    wf = exclusive_wf()
    wf["edges"][2] = edge("gw", "small", id="to-small", condition="total < 0")
    d = drive(wf)
    d.start({"total": 5})
    assert d.of(RaiseIncident)[0].code == "no_way_out"


# --- parallel ---------------------------------------------------------------------------------


def parallel_wf(kind: str = "parallel") -> dict[str, Any]:
    return workflow(
        [
            START,
            node("split", kind),
            node("a", "user_task"),
            node("b", "user_task"),
            node("join", kind),
            node("after", "user_task"),
            END,
        ],
        [
            edge("start", "split"),
            edge("split", "a", condition="want_a") if kind == "inclusive" else edge("split", "a"),
            edge("split", "b", condition="want_b") if kind == "inclusive" else edge("split", "b"),
            edge("a", "join"),
            edge("b", "join"),
            edge("join", "after"),
            edge("after", "end"),
        ],
    )


def test_parallel_split_creates_every_branch(drive):
    d = drive(parallel_wf())
    d.start()
    assert sorted(t.node for t in d.created()) == ["a", "b"]
    assert len(d.s["tokens"]) == 2


def test_join_waits_for_all_branches(drive):
    d = drive(parallel_wf())
    d.start()
    d.complete("b")
    assert d.created() == []
    assert d.open_tasks("after") == []
    d.complete("a")
    assert [t.node for t in d.created()] == ["after"]
    assert len(d.s["tokens"]) == 1
    d.complete("after")
    assert d.status == "completed"


# --- inclusive --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("want_a", "want_b", "expected"),
    [(True, True, ["a", "b"]), (True, False, ["a"]), (False, True, ["b"])],
)
def test_inclusive_split_takes_every_true_edge(drive, want_a, want_b, expected):
    d = drive(parallel_wf("inclusive"))
    d.start({"want_a": want_a, "want_b": want_b})
    assert sorted(t.node for t in d.created()) == expected


def test_inclusive_join_waits_only_for_branches_taken(drive):
    d = drive(parallel_wf("inclusive"))
    d.start({"want_a": True, "want_b": False})
    d.complete("a")
    assert [t.node for t in d.created()] == ["after"]


def test_inclusive_join_waits_for_both_when_both_taken(drive):
    d = drive(parallel_wf("inclusive"))
    d.start({"want_a": True, "want_b": True})
    d.complete("a")
    assert d.open_tasks("after") == []
    d.complete("b")
    assert len(d.open_tasks("after")) == 1
    d.complete("after")
    assert d.status == "completed"


def test_inclusive_split_with_nothing_true_and_no_default_raises_incident(drive):
    d = drive(parallel_wf("inclusive"))
    d.start({"want_a": False, "want_b": False})
    assert d.of(RaiseIncident)[0].code == "no_way_out"


# --- merges and loops -------------------------------------------------------------------------


def test_simple_merge_passes_each_branch_once(drive):
    wf = workflow(
        [
            START,
            node("split", "parallel"),
            node("a", "user_task"),
            node("b", "user_task"),
            node("merge", "exclusive"),
            node("after", "user_task"),
            END,
        ],
        [
            edge("start", "split"),
            edge("split", "a"),
            edge("split", "b"),
            edge("a", "merge"),
            edge("b", "merge"),
            edge("merge", "after"),
            edge("after", "end"),
        ],
    )
    d = drive(wf)
    d.start()
    d.complete("a")
    d.complete("b")
    assert len(d.open_tasks("after")) == 2  # semantics 5: once per branch


def test_loop_through_exclusive_repeats_until_condition_changes(drive):
    wf = workflow(
        [START, node("work", "user_task"), node("check", "exclusive"), END],
        [
            edge("start", "work"),
            edge("work", "check"),
            edge("check", "work", id="again", condition="not ok"),
            edge("check", "end", id="done", default=True),
        ],
    )
    d = drive(wf)
    d.start()
    d.complete("work", {"ok": False})
    d.complete("work", {"ok": False})
    d.complete("work", {"ok": True})
    assert d.status == "completed"
    assert d.path.count("work") == 3


def test_endless_loop_without_wait_raises_incident(drive):
    wf = workflow(
        [START, node("s", "set", assign={"n": "n + 1"}), node("gw", "exclusive"), END],
        [
            edge("start", "s"),
            edge("s", "gw"),
            edge("gw", "s", id="back", condition="n > 0"),
            edge("gw", "end", default=True),
        ],
    )
    d = drive(wf)
    d.start({"n": 1})
    assert d.of(RaiseIncident)[0].code == "endless_loop"


# --- approvals --------------------------------------------------------------------------------


def approval_wf(
    quorum: Any = "all", approvers: int = 3, outcomes: list[str] | None = None
) -> dict[str, Any]:
    extra = {"outcomes": outcomes} if outcomes else {}
    appr = node(
        "ok",
        "approval",
        approvers=[{"user": f"u{i}"} for i in range(approvers)],
        quorum=quorum,
        **extra,
    )
    return workflow(
        [
            START,
            appr,
            node("yes", "end"),
            node("no", "end", outcome="rejected"),
            node("redo", "end"),
        ],
        [
            edge("start", "ok"),
            edge("ok", "yes", outcome="approve"),
            edge("ok", "no", outcome="reject"),
            *([edge("ok", "redo", outcome="rework")] if outcomes else []),
        ],
    )


def vote(d, user: str, outcome: str) -> list[Any]:
    task = next(t for t in d.open_tasks("ok") if d.created(d.effects) and _task_user(d, t) == user)
    return d.send(CompleteTask(task, {}, by=user, outcome=outcome))


def _task_user(d, task_id: str) -> str:
    return next(e.users[0] for e in d.created(d.effects) if e.task_id == task_id)


def test_approval_creates_one_task_per_distinct_approver(drive):
    wf = approval_wf()
    wf["nodes"][1]["approvers"].append({"user": "u0"})
    d = drive(wf)
    d.start()
    assert sorted(t.users[0] for t in d.created()) == ["u0", "u1", "u2"]


def test_approval_all_completes_when_everyone_approves(drive):
    d = drive(approval_wf("all"))
    d.start()
    vote(d, "u0", "approve")
    vote(d, "u1", "approve")
    assert d.status == "running"
    vote(d, "u2", "approve")
    assert d.status == "completed"
    assert d.s["data"]["ok"]["outcome"] == "approve"


def test_approval_all_fails_at_first_rejection_and_cancels_other_votes(drive):
    d = drive(approval_wf("all"))
    d.start()
    others = [t for t in d.open_tasks("ok") if _task_user(d, t) != "u1"]
    effects = vote(d, "u1", "reject")
    assert sorted(c.task_id for c in d.of(CancelTask, effects)) == sorted(others)
    assert d.status == "rejected"


def test_quorum_completes_as_soon_as_n_approve(drive):
    d = drive(approval_wf(2, approvers=3))
    d.start()
    vote(d, "u0", "approve")
    effects = vote(d, "u2", "approve")
    assert d.status == "completed"
    assert len(d.of(CancelTask, effects)) == 1


def test_quorum_fails_as_soon_as_n_cannot_be_reached(drive):
    d = drive(approval_wf(2, approvers=3))
    d.start()
    vote(d, "u0", "reject")
    assert d.status == "running"
    vote(d, "u1", "reject")
    assert d.status == "rejected"


def test_custom_outcome_ends_the_approval_with_it(drive):
    d = drive(approval_wf("all", outcomes=["approve", "reject", "rework"]))
    d.start()
    vote(d, "u0", "rework")
    assert d.path[-1] == "redo"


def test_approval_needs_a_known_outcome(drive):
    d = drive(approval_wf("any"))
    d.start()
    task = d.open_tasks("ok")[0]
    with pytest.raises(CommandError) as err:
        d.send(CompleteTask(task, {}, by="u0", outcome="maybe"))
    assert err.value.code == "invalid_outcome"


def test_approval_decision_is_explained(drive):
    d = drive(approval_wf("any"))
    d.start()
    vote(d, "u2", "approve")
    record = d.s["decisions"][0]
    assert record["kind"] == "approval"
    assert record["outcome"] == "approve"
    assert record["votes"] == [{"by": "u2", "outcome": "approve"}]


# --- timers, SLA, boundary events -------------------------------------------------------------


def test_timer_node_waits_for_its_duration(drive):
    d = drive(seq(node("wait", "timer", duration="PT2H")))
    effects = d.start()
    (timer,) = d.scheduled(effects)
    assert timer.at == T0 + timedelta(hours=2)
    d.fire(timer.timer_id)
    assert d.status == "completed"


def test_timer_until_expression(drive):
    d = drive(seq(node("wait", "timer", until="datetime(ship_date)")))
    d.start({"ship_date": "2026-03-05T08:00:00+00:00"})
    assert d.scheduled()[0].at == datetime(2026, 3, 5, 8, tzinfo=UTC)


def test_timer_fires_at_most_once(drive):
    d = drive(seq(node("wait", "timer", duration="PT1H"), node("a", "user_task")))
    d.start()
    timer_id = d.scheduled()[0].timer_id
    d.fire(timer_id)
    assert d.send(FireTimer(timer_id)) == []


def test_sla_schedules_due_reminder_and_escalations_in_working_hours(drive):
    sla = {
        "due": "PT4H",
        "calendar": "business",
        "remind": ["PT3H"],
        "escalate": [
            {"after": "PT4H", "to": {"role": "manager"}, "action": "notify"},
            {"after": "PT8H", "to": {"user": "lead"}, "action": "reassign"},
        ],
    }
    d = drive(seq(node("pick", "user_task", sla=sla)))
    friday_3pm = datetime(2026, 3, 6, 15, tzinfo=UTC)
    d.now = friday_3pm
    effects = d.start()
    timers = {t.purpose + str(t.timer_id[-1]): t.at for t in d.scheduled(effects)}
    monday = datetime(2026, 3, 9, tzinfo=UTC)
    assert timers["sla_duee"] == monday.replace(hour=11)
    assert timers["sla_remind1"] == monday.replace(hour=10)
    assert timers["sla_escalate1"] == monday.replace(hour=11)
    assert timers["sla_escalate2"] == monday.replace(hour=15)
    assert d.created(effects)[0].due == monday.replace(hour=11)


def test_sla_timers_fire_reminder_overdue_and_escalation_levels(drive):
    sla = {
        "due": "PT4H",
        "remind": ["PT3H"],
        "escalate": [
            {"after": "PT5H", "to": {"role": "manager"}},
            {"after": "PT8H", "action": "priority", "priority": 9},
        ],
    }
    d = drive(seq(node("pick", "user_task", sla=sla)))
    d.start()
    task = d.task("pick")
    events = []
    for timer_id in sorted(d.timers(), key=lambda k: d.s["timers"][k]["at"]):
        events += [(e.event, e.level, e.action) for e in d.of(SlaEvent, d.fire(timer_id))]
    assert events == [
        ("remind", 1, None),
        ("due", 0, None),
        ("escalate", 1, "notify"),
        ("escalate", 2, "priority"),
    ]
    assert d.s["tasks"][task]["overdue"] is True
    assert d.s["tasks"][task]["priority"] == 9


def test_completing_a_task_cancels_its_sla_timers(drive):
    d = drive(seq(node("pick", "user_task", sla={"due": "PT4H", "remind": ["PT1H"]})))
    d.start()
    effects = d.complete("pick")
    assert len(d.of(CancelTimer, effects)) == 2
    assert d.s["timers"] == {}


def test_reassigning_a_task_keeps_its_sla_clock(drive):
    d = drive(seq(node("pick", "user_task", sla={"due": "PT4H"})))
    d.start()
    task = d.task("pick")
    due = d.s["tasks"][task]["due"]
    d.send(AssignTask(task, "zoe"), after=timedelta(hours=1))
    assert d.s["tasks"][task]["due"] == due
    assert len(d.timers("sla_due")) == 1


def boundary_wf(interrupting: bool) -> dict[str, Any]:
    return workflow(
        [
            START,
            node("task", "user_task"),
            node("late", "user_task"),
            node("end", "end"),
            node("end2", "end"),
        ],
        [
            edge("start", "task"),
            edge("task", "end"),
            edge(
                "task", "late", id="timeout", on="timeout", after="P2D", interrupting=interrupting
            ),
            edge("late", "end2"),
        ],
    )


def test_interrupting_timeout_cancels_the_task_and_takes_its_edge(drive):
    d = drive(boundary_wf(True))
    d.start()
    task = d.task("task")
    (timer,) = d.timers("boundary")
    effects = d.fire(timer)
    assert d.of(CancelTask, effects)[0].task_id == task
    assert d.open_tasks() == [d.task("late")]


def test_non_interrupting_timeout_leaves_the_task_open_and_starts_a_path(drive):
    d = drive(boundary_wf(False))
    d.start()
    (timer,) = d.timers("boundary")
    d.fire(timer)
    assert len(d.open_tasks()) == 2
    d.complete("late")
    assert d.status == "running"
    d.complete("task")
    assert d.status == "completed"


def test_deferred_choice_task_done_first_cancels_the_timeout(drive):
    d = drive(boundary_wf(True))
    d.start()
    (timer,) = d.timers("boundary")
    effects = d.complete("task")
    assert [c.timer_id for c in d.of(CancelTimer, effects)] == [timer]
    assert d.status == "completed"
    assert d.send(FireTimer(timer)) == []


# --- receive, http, table, decision, subworkflow ----------------------------------------------


def receive_wf() -> dict[str, Any]:
    return seq(
        node("wait", "receive", message="delivered", correlate="tracking", result="delivery")
    )


def test_receive_waits_for_its_correlated_message(drive):
    d = drive(receive_wf())
    effects = d.start({"tracking": "TR1"})
    (wait,) = d.of(WaitForMessage, effects)
    assert (wait.message, wait.correlation) == ("delivered", "TR1")
    with pytest.raises(CommandError) as err:
        d.message("delivered", correlation="TR2")
    assert err.value.code == "no_waiting_receive"
    d.message("delivered", {"at": "noon"}, correlation="TR1")
    assert d.s["data"]["delivery"] == {"at": "noon"}
    assert d.status == "completed"


def test_same_message_twice_moves_the_instance_once(drive):
    d = drive(receive_wf())
    d.start({"tracking": "TR1"})
    d.message("delivered", correlation="TR1")
    with pytest.raises(CommandError):
        d.message("delivered", correlation="TR1")


def http_wf(error_edge: bool) -> dict[str, Any]:
    call = node(
        "call",
        "http",
        request={"url": "https://pay.example/capture", "body": {"o": "{{ order }}"}},
        result="payment",
    )
    wf = seq(call, node("after", "user_task"))
    if error_edge:
        wf["nodes"].append(node("failed", "end", outcome="cancelled"))
        wf["edges"].append(edge("call", "failed", on="error"))
    return wf


def test_http_node_calls_and_maps_the_result(drive):
    d = drive(http_wf(False))
    effects = d.start({"order": 7})
    (call,) = d.of(CallHttp, effects)
    assert call.request["url"] == "https://pay.example/capture"
    assert call.data == {"order": 7}
    d.send(HttpResult(call.request_id, 200, {"captured": True}))
    assert d.s["data"]["payment"] == {"captured": True}
    assert len(d.open_tasks("after")) == 1


def test_http_failure_follows_error_edge(drive):
    d = drive(http_wf(True))
    d.start()
    (call,) = d.of(CallHttp)
    d.send(HttpFailed(call.request_id, "connection refused"))
    assert d.status == "cancelled"
    assert d.s["data"]["error"]["node"] == "call"


def test_http_failure_without_error_edge_raises_incident_and_retry_calls_again(drive):
    d = drive(http_wf(False))
    d.start()
    (call,) = d.of(CallHttp)
    d.send(HttpResult(call.request_id, 503, None))
    (incident,) = d.of(RaiseIncident)
    assert incident.code == "http_failed"
    effects = d.send(RetryIncident(incident.incident_id))
    assert len(d.of(CallHttp, effects)) == 1


def test_skipping_an_http_incident_goes_on_without_calling_again(drive):
    d = drive(http_wf(False))
    d.start()
    (call,) = d.of(CallHttp)
    d.send(HttpResult(call.request_id, 503, None))
    (incident,) = d.of(RaiseIncident)
    effects = d.send(SkipIncident(incident.incident_id, by="admin"))
    assert d.of(CallHttp, effects) == []
    assert len(d.open_tasks("after")) == 1
    assert "payment" not in d.s["data"]
    assert d.s["incidents"][incident.incident_id]["status"] == "skipped"
    with pytest.raises(CommandError) as again:
        d.send(SkipIncident(incident.incident_id))
    assert again.value.code == "no_such_incident"


def test_a_gateway_incident_cannot_be_skipped(drive):
    d = drive(exclusive_wf())
    d.start({})
    (incident,) = d.of(RaiseIncident)
    with pytest.raises(CommandError) as refused:
        d.send(SkipIncident(incident.incident_id))
    assert refused.value.code == "cannot_skip"
    assert d.s["incidents"][incident.incident_id]["status"] == "open"


def test_answer_for_unknown_request_is_refused(drive):
    d = drive(http_wf(False))
    d.start()
    with pytest.raises(CommandError) as err:
        d.send(HttpResult("w999", 200, {}))
    assert err.value.code == "no_such_request"


def test_table_operation_for_each_item(drive):
    table = node(
        "reserve",
        "table",
        table="inventory",
        op="increment",
        each="items",
        key={"sku": "item.sku"},
        values={"on_hand": "-item.quantity"},
        result="stock",
    )
    d = drive(seq(table))
    d.start({"items": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]})
    (op,) = d.of(TableOperation)
    assert op.keys == ({"sku": "A"}, {"sku": "B"})
    assert op.values == ({"on_hand": -2}, {"on_hand": -1})
    d.send(TableResult(op.request_id, {"ok": True}))
    assert d.s["data"]["stock"] == {"ok": True}
    assert d.status == "completed"


def decision_wf(hit: str = "first") -> dict[str, Any]:
    table = node(
        "route",
        "decision",
        inputs=["total", "customer.tier"],
        hit=hit,
        output="route",
        rules=[
            {"when": [">= 1000", '"gold"'], "then": {"level": "director"}},
            {"when": [">= 1000", "-"], "then": {"level": "manager"}},
            {"when": ["-", "-"], "then": {"level": "none"}},
        ],
    )
    return seq(table)


@pytest.mark.parametrize(
    ("total", "tier", "level"),
    [(5000, "gold", "director"), (5000, "silver", "manager"), (10, "gold", "none")],
)
def test_decision_table_first_hit(drive, total, tier, level):
    d = drive(decision_wf())
    d.start({"total": total, "customer": {"tier": tier}})
    assert d.s["data"]["route"] == {"level": level}
    record = d.s["decisions"][-1]
    assert record["inputs"] == {"total": total, "customer.tier": tier}


def test_decision_table_collect_and_unique(drive):
    d = drive(decision_wf("collect"))
    d.start({"total": 5000, "customer": {"tier": "gold"}})
    assert [r["level"] for r in d.s["data"]["route"]] == ["director", "manager", "none"]
    d2 = drive(decision_wf("unique"))
    d2.start({"total": 5000, "customer": {"tier": "gold"}})
    assert d2.of(RaiseIncident)[0].code == "decision_not_unique"


def test_subworkflow_starts_child_and_maps_output(drive):
    sub = node(
        "child",
        "subworkflow",
        workflow="onboarding",
        input={"who": "name"},
        output={"account": "account_id"},
    )
    d = drive(seq(sub))
    d.start({"name": "Ada"})
    (start,) = d.of(StartSubworkflow)
    assert (start.workflow, start.input) == ("onboarding", {"who": "Ada"})
    d.send(SubworkflowFinished(start.request_id, "completed", {"account_id": 42}))
    assert d.s["data"]["account"] == 42
    assert d.status == "completed"


def test_a_child_that_could_not_run_is_an_incident_at_the_subworkflow_step(drive):
    d = drive(seq(node("child", "subworkflow", workflow="onboarding")))
    d.start({})
    (start,) = d.of(StartSubworkflow)
    effects = d.send(SubworkflowFinished(start.request_id, "failed"))
    (incident,) = d.of(RaiseIncident, effects)
    assert (incident.node, incident.code) == ("child", "subworkflow_failed")
    assert incident.message == "the sub-workflow could not start or run"
    assert d.status == "running"


# --- termination and cancellation ---------------------------------------------------------------


def test_terminating_end_cancels_every_other_task_and_timer(drive):
    wf = workflow(
        [
            START,
            node("split", "parallel"),
            node("a", "user_task", sla={"due": "PT1H"}),
            node("b", "user_task"),
            node("stop", "end", terminate=True),
        ],
        [
            edge("start", "split"),
            edge("split", "a"),
            edge("split", "b"),
            edge("b", "stop"),
            edge("a", "stop"),
        ],
    )
    d = drive(wf)
    d.start()
    task_a = d.task("a")
    effects = d.complete("b")
    assert [c.task_id for c in d.of(CancelTask, effects)] == [task_a]
    assert len(d.of(CancelTimer, effects)) == 1
    assert d.status == "completed"
    assert d.s["tokens"] == {}


def test_rejected_end_terminates_by_default(drive):
    wf = workflow(
        [
            START,
            node("split", "parallel"),
            node("a", "user_task"),
            node("no", "end", outcome="rejected"),
        ],
        [edge("start", "split"), edge("split", "a"), edge("split", "no")],
    )
    d = drive(wf)
    d.start()
    assert d.status == "rejected"
    assert d.open_tasks() == []


def test_cancel_case_cancels_everything(drive):
    d = drive(receive_wf())
    d.start({"tracking": "T"})
    effects = d.send(Cancel("customer asked"))
    assert len(d.of(CancelWait, effects)) == 1
    assert d.status == "cancelled"
    with pytest.raises(CommandError) as err:
        d.message("delivered", correlation="T")
    assert err.value.code == "instance_finished"


# --- robustness ------------------------------------------------------------------------------


def test_malformed_definition_is_a_typed_error():
    with pytest.raises(DefinitionError) as err:
        step({"key": "x", "nodes": [{"id": "a", "type": "warp"}]}, None, Start(), T0)  # type: ignore[arg-type]
    assert err.value.problems[0].node == "a"


def test_definition_without_start_cannot_run():
    definition = parse_definition(workflow([END], []))
    with pytest.raises(DefinitionError) as err:
        step(definition, None, Start(), T0)
    assert err.value.problems[0].code == "start_count"


def test_naive_time_is_refused():
    definition = parse_definition(seq())
    with pytest.raises(CommandError):
        step(definition, None, Start(), datetime(2026, 1, 1))


def test_step_never_mutates_the_given_state():
    definition = parse_definition(parallel_wf())
    state, _ = step(definition, None, Start({"n": [1]}), T0)
    frozen = json.dumps(state, sort_keys=True)
    task = next(iter(state["tasks"]))
    step(definition, state, CompleteTask(task, {"n": [2]}), T0)
    assert json.dumps(state, sort_keys=True) == frozen


def test_effects_serialise_to_json(drive):
    d = drive(http_wf(False))
    d.start({"order": 1})
    kinds = [json.loads(json.dumps(e.to_dict()))["kind"] for e in d.effects]
    assert "call_http" in kinds
    assert any(isinstance(e, CreateTask) for e in d.effects) is False


# --- failures while leaving, partial entries, outcomes, JSON state ---------------------------


def test_condition_failing_after_a_task_raises_incident_and_retry_leaves_again(drive):
    wf = workflow(
        [START, node("a", "user_task"), node("big", "user_task"), END],
        [
            edge("start", "a"),
            edge("a", "big", condition="total > 10"),
            edge("a", "end", default=True),
            edge("big", "end"),
        ],
    )
    d = drive(wf)
    d.start()
    effects = d.complete("a")
    (incident,) = d.of(RaiseIncident, effects)
    assert (incident.node, incident.code) == ("a", "missing_data")
    d.send(UpdateData({"total": 50}, by="admin"))
    d.send(RetryIncident(incident.incident_id))
    assert len(d.open_tasks("big")) == 1
    assert len(d.s["tasks"]) == 2  # the completed task was not created again


def test_failed_approval_entry_leaves_no_orphan_tasks(drive):
    appr = node("ok", "approval", approvers=[{"user": "u0"}, {"expr": "boss"}])
    d = drive(seq(appr))
    effects = d.start()
    assert d.of(RaiseIncident, effects)[0].code == "missing_data"
    assert d.open_tasks() == []
    assert d.s["timers"] == {}
    d.send(UpdateData({"boss": "bea"}))
    d.send(RetryIncident(d.of(RaiseIncident, effects)[0].incident_id))
    assert len(d.open_tasks("ok")) == 2


def test_one_person_holding_both_approval_tasks_counts_once_and_approves(drive):
    d = drive(approval_wf("all", approvers=2))
    d.start()
    for task in d.open_tasks("ok"):
        d.send(CompleteTask(task, {}, by="same-person", outcome="approve"))
    assert d.status == "completed"
    assert d.s["data"]["ok"]["outcome"] == "approve"


def test_terminating_completed_end_is_not_overruled_by_an_earlier_rejected_path(drive):
    wf = workflow(
        [
            START,
            node("split", "parallel"),
            node("a", "user_task"),
            node("no", "end", outcome="rejected", terminate=False),
            node("stop", "end", terminate=True),
        ],
        [edge("start", "split"), edge("split", "no"), edge("split", "a"), edge("a", "stop")],
    )
    d = drive(wf)
    d.start()
    d.complete("a")
    assert d.status == "completed"


def test_set_stores_dates_and_durations_as_json(drive):
    d = drive(
        seq(
            node("s", "set", assign={"ship_by": "now + days(2)", "window": "hours(3)"}),
            node("a", "user_task"),
        )
    )
    d.start()
    assert d.s["data"]["ship_by"] == (T0 + timedelta(days=2)).isoformat()
    assert d.s["data"]["window"] == 10800.0
    assert json.loads(json.dumps(d.s)) == d.s


def test_dotted_result_key_nests_the_form_data(drive):
    d = drive(seq(node("a", "user_task", result="checks.packing")))
    d.start({"checks": {"picking": True}})
    d.complete("a", {"ok": True})
    assert d.s["data"]["checks"] == {"picking": True, "packing": {"ok": True}}


def test_expressions_can_read_the_instance(drive):
    wf = workflow(
        [
            START,
            node("a", "user_task", stage="Working"),
            node("gw", "exclusive"),
            node("b", "user_task"),
            END,
        ],
        [
            edge("start", "a"),
            edge("a", "gw"),
            edge(
                "gw",
                "b",
                condition="instance.stage == 'Working' and get(instance.data, 'x', 0) == 0",
            ),
            edge("gw", "end", default=True),
            edge("b", "end"),
        ],
    )
    d = drive(wf)
    d.start()
    d.complete("a")
    assert len(d.open_tasks("b")) == 1


def test_four_eyes_against_the_start_excludes_whoever_started(drive):
    d = drive(seq(node("check", "user_task", assignee={"role": "w", "not_same_as": "start"})))
    d.start()
    assert d.created()[0].exclude == ("starter",)


def test_pick_created_friday_4pm_is_due_monday_noon_and_a_holiday_pushes_it_a_day():
    from designer.templates import load_template
    from engine import BusinessCalendar

    definition = load_template("order-management")
    order = {
        "order_id": "T-1",
        "customer": {"name": "Ada", "email": "a@example.com"},
        "items": [{"sku": "M", "quantity": 1}],
        "total": 10,
        "payment": {"method": "invoice"},
    }

    def pick_due(friday: datetime, calendars: dict[str, Any] | None) -> datetime:
        state, effects = step(definition, None, Start(order), friday, calendars=calendars)
        capture = next(e for e in effects if isinstance(e, CreateTask))
        state, effects = step(
            definition,
            state,
            CompleteTask(capture.task_id, {"captured": True}),
            friday,
            calendars=calendars,
        )
        table = next(e for e in effects if isinstance(e, TableOperation))
        state, effects = step(
            definition,
            state,
            TableResult(table.request_id, {"ok": True}),
            friday,
            calendars=calendars,
        )
        pick = next(e for e in effects if isinstance(e, CreateTask))
        assert pick.node == "pick"
        assert pick.due is not None
        return pick.due

    friday = datetime(2026, 9, 4, 16, tzinfo=UTC)  # the Monday after is Labor Day in the US
    assert pick_due(friday, None) == datetime(2026, 9, 7, 12, tzinfo=UTC)
    us = {"business": BusinessCalendar(country="US")}
    assert pick_due(friday, us) == datetime(2026, 9, 8, 12, tzinfo=UTC)
