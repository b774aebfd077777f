"""Checks of each step's settings: expressions, durations, forms, names and references.

Each setting is checked where it is written, so that a problem points at the step and the
field to fix: an expression must compile, a duration parse (on the step's calendar, if it has
one), a form be JSON Schema, and data the workflow writes must not take a reserved name. Roles,
users, published workflows and calendars are checked only against the lists
:func:`~engine.validation.validate` is given; without a list, any name passes. A few rules
relate settings to each other: a reminder comes before the due time, a quorum can be reached,
a four-eyes rule names a task that comes earlier, a decision rule has a cell per input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from engine._checker import Checker
from engine.calendar import DEFAULT_CALENDARS, Duration, check_duration, parse_duration
from engine.compiled import decision_cell_source
from engine.expressions import RESERVED_NAMES, ExpressionError, check_expression
from engine.forms import check_form_schema
from engine.model import (
    MAX_HTTP_TIMEOUT_S,
    ApprovalNode,
    Assignee,
    DecisionNode,
    HttpNode,
    Node,
    ReceiveNode,
    SetNode,
    Sla,
    StartNode,
    SubworkflowNode,
    TableNode,
    TimerNode,
    UserTaskNode,
)


def _not_earlier(a: Duration, b: Duration) -> bool:
    """Whether ``a`` is surely no shorter than ``b``."""
    if a.months >= b.months and a.days >= b.days and a.seconds >= b.seconds:
        return True
    if a.months or b.months:
        return False
    return a.days * 86400 + a.seconds >= b.days * 86400 + b.seconds


class SettingChecks(Checker):
    """Checks of the settings of each step, and of the workflow's data description."""

    def expression(
        self,
        source: str,
        what: str,
        *,
        node: str | None = None,
        edge: str | None = None,
        field: str,
    ) -> None:
        try:
            message = check_expression(source)
        except ExpressionError as exc:
            message = exc.message
        if message is not None:
            self.add(
                "bad_expression",
                f"{what} cannot be read: {message}.",
                node=node,
                edge=edge,
                field=field,
            )

    def duration(
        self,
        text: str,
        what: str,
        *,
        node: str | None = None,
        edge: str | None = None,
        field: str,
        calendar: str | None = None,
    ) -> Duration | None:
        message = check_duration(
            text, calendar=DEFAULT_CALENDARS.get(calendar) if calendar else None
        )
        if message is not None:
            self.add("bad_duration", f"{what}: {message}.", node=node, edge=edge, field=field)
            return None
        return parse_duration(text)

    def reserved(self, name: str, node_id: str | None, field: str) -> None:
        head = name.partition(".")[0]
        if head in RESERVED_NAMES:
            where = f"{self.name(node_id)} writes" if node_id else "The workflow's data has"
            self.add(
                "reserved_name",
                f"{where} a field named '{head}', a name the workflow keeps for itself "
                f"({', '.join(sorted(RESERVED_NAMES))}); choose another name.",
                node=node_id,
                field=field,
            )

    def form(
        self, schema: Mapping[str, Any] | None, node_id: str | None, field: str, *, top_level: bool
    ) -> None:
        if schema is None:
            return
        message = check_form_schema(schema)
        if message is not None:
            owner = (
                f"The form of {self.name(node_id)}"
                if node_id
                else "The workflow's data description"
            )
            self.add("bad_form", f"{owner} is not valid: {message}.", node=node_id, field=field)
            return
        properties = schema.get("properties")
        if top_level and isinstance(properties, Mapping):
            for name in properties:
                self.reserved(str(name), node_id, f"{field}.properties.{name}")

    def calendar(self, name: str | None, node_id: str, field: str) -> None:
        if name is not None and self.calendars is not None and name not in self.calendars:
            self.add(
                "unknown_calendar",
                f"{self.name(node_id)} counts time on a calendar '{name}' that does not exist "
                f"(known: {', '.join(sorted(self.calendars))}).",
                node=node_id,
                field=field,
            )

    def assignee(self, spec: Assignee, node_id: str, field: str) -> None:
        who = self.name(node_id)
        if spec.user is not None and self.users is not None and spec.user not in self.users:
            self.add(
                "unknown_user",
                f"{who} is for a user '{spec.user}' who does not exist.",
                node=node_id,
                field=f"{field}.user",
            )
        if spec.role is not None and self.roles is not None and spec.role not in self.roles:
            self.add(
                "unknown_role",
                f"{who} is for a role '{spec.role}' that does not exist.",
                node=node_id,
                field=f"{field}.role",
            )
        if spec.expr is not None:
            self.expression(spec.expr, f"{who}: who it is for", node=node_id, field=f"{field}.expr")
        for way, step in (("same_as", spec.same_as), ("not_same_as", spec.not_same_as)):
            if step is None:
                continue
            target = self.nodes.get(step)
            # the start counts too: its "person" is whoever started the instance
            if not isinstance(target, UserTaskNode | ApprovalNode | StartNode):
                what = (
                    "does not exist"
                    if target is None
                    else "is not a task, an approval or the start"
                )
                self.add(
                    "same_as_unknown_step",
                    f"{who} refers to the person of step '{step}', which {what}.",
                    node=node_id,
                    field=f"{field}.{way}",
                )
            elif step not in nx.ancestors(self.graph, node_id):
                self.add(
                    "same_as_not_before",
                    f"{who} refers to the person of {self.name(step)}, which never comes before it; "
                    "nobody will have done that step yet.",
                    node=node_id,
                    field=f"{field}.{way}",
                    severity="warning",
                )

    def sla(self, sla: Sla | None, node_id: str, field: str = "sla") -> None:
        if sla is None:
            return
        who = self.name(node_id)
        self.calendar(sla.calendar, node_id, f"{field}.calendar")
        due = self.duration(
            sla.due,
            f"{who}: the due time",
            node=node_id,
            field=f"{field}.due",
            calendar=sla.calendar,
        )
        for i, text in enumerate(sla.remind):
            where = f"{field}.remind.{i}"
            remind = self.duration(
                text, f"{who}: the reminder", node=node_id, field=where, calendar=sla.calendar
            )
            if remind is not None and due is not None and _not_earlier(remind, due):
                self.add(
                    "reminder_after_due",
                    f"{who}: the reminder after {text} comes no earlier than the due time ({sla.due}); "
                    "a reminder should come before the task is due.",
                    node=node_id,
                    field=where,
                    severity="warning",
                )
        for i, level in enumerate(sla.escalate):
            where = f"{field}.escalate.{i}"
            self.duration(
                level.after,
                f"{who}: the escalation",
                node=node_id,
                field=f"{where}.after",
                calendar=sla.calendar,
            )
            if level.to is not None:
                self.assignee(level.to, node_id, f"{where}.to")

    def settings(self) -> None:
        if self.d.data is not None:
            self.form(self.d.data, None, "data", top_level=True)
        for node in self.nodes.values():
            self.node_settings(node)

    def node_settings(self, node: Node) -> None:
        nid, who = node.id, self.name(node.id)
        if isinstance(node, StartNode):
            for i, role in enumerate(node.trigger.roles):
                if self.roles is not None and role not in self.roles:
                    self.add(
                        "unknown_role",
                        f"{who} may be started by a role '{role}' that does not exist.",
                        node=nid,
                        field=f"trigger.roles.{i}",
                    )
            self.form(node.form, nid, "form", top_level=True)
        elif isinstance(node, UserTaskNode):
            self.assignee(node.assignee, nid, "assignee")
            self.form(node.form, nid, "form", top_level=node.result is None)
            self.sla(node.sla, nid)
            if node.result is not None:
                self.reserved(node.result, nid, "result")
        elif isinstance(node, ApprovalNode):
            for i, spec in enumerate(node.approvers):
                self.assignee(spec, nid, f"approvers.{i}")
            self.form(node.form, nid, "form", top_level=False)
            self.sla(node.sla, nid)
            self.reserved(node.result or nid, nid, "result")
            distinct = len([s for i, s in enumerate(node.approvers) if s not in node.approvers[:i]])
            if isinstance(node.quorum, int) and not 1 <= node.quorum <= distinct:
                self.add(
                    "quorum_too_large",
                    f"{who} needs {node.quorum} approvals, but it has {distinct} different approver(s); "
                    f"choose a number from 1 to {distinct}.",
                    node=nid,
                    field="quorum",
                )
        elif isinstance(node, HttpNode):
            self.duration(
                node.retry.backoff,
                f"{who}: the wait between retries",
                node=nid,
                field="retry.backoff",
            )
            timeout = node.request.timeout_s
            if not timeout > 0:  # also NaN
                self.add(
                    "bad_timeout",
                    f"{who}: the time to wait for an answer must be more than 0 seconds.",
                    node=nid,
                    field="request.timeout_s",
                )
            elif timeout > MAX_HTTP_TIMEOUT_S:
                self.add(
                    "timeout_cut",
                    f"{who} waits {timeout:g} s for an answer; calls are cut off after "
                    f"{MAX_HTTP_TIMEOUT_S:g} s.",
                    node=nid,
                    field="request.timeout_s",
                    severity="warning",
                )
            if node.result is not None:
                self.reserved(node.result, nid, "result")
        elif isinstance(node, SetNode):
            for name, source in node.assign.items():
                self.reserved(name, nid, f"assign.{name}")
                self.expression(
                    source, f"{who}: the value for '{name}'", node=nid, field=f"assign.{name}"
                )
        elif isinstance(node, TableNode):
            for part in ("key", "values"):
                for name, source in getattr(node, part).items():
                    self.expression(
                        source, f"{who}: the {part} '{name}'", node=nid, field=f"{part}.{name}"
                    )
            if node.each is not None:
                self.expression(node.each, f"{who}: the list to go through", node=nid, field="each")
            if node.result is not None:
                self.reserved(node.result, nid, "result")
        elif isinstance(node, DecisionNode):
            self.decision(node)
        elif isinstance(node, TimerNode):
            self.calendar(node.calendar, nid, "calendar")
            if node.duration is not None:
                self.duration(
                    node.duration,
                    f"{who}: the time to wait",
                    node=nid,
                    field="duration",
                    calendar=node.calendar,
                )
            if node.until is not None:
                self.expression(
                    node.until, f"{who}: the time to wait until", node=nid, field="until"
                )
        elif isinstance(node, ReceiveNode):
            self.expression(
                node.correlate,
                f"{who}: the value that matches messages",
                node=nid,
                field="correlate",
            )
            if node.keep_early is not None:
                self.duration(
                    node.keep_early,
                    f"{who}: how long to keep early messages",
                    node=nid,
                    field="keep_early",
                )
            if node.result is not None:
                self.reserved(node.result, nid, "result")
        elif isinstance(node, SubworkflowNode):
            if self.workflows is not None and node.workflow not in self.workflows:
                self.add(
                    "unknown_workflow",
                    f"{who} starts a workflow '{node.workflow}' that is not published.",
                    node=nid,
                    field="workflow",
                )
            for part in ("input", "output"):
                for name, source in getattr(node, part).items():
                    self.expression(
                        source, f"{who}: the {part} '{name}'", node=nid, field=f"{part}.{name}"
                    )
            for name in node.output:
                self.reserved(name, nid, f"output.{name}")

    def decision(self, node: DecisionNode) -> None:
        nid, who = node.id, self.name(node.id)
        for i, source in enumerate(node.inputs):
            self.expression(source, f"{who}: input {i + 1}", node=nid, field=f"inputs.{i}")
        for r, rule in enumerate(node.rules):
            if len(rule.when) != len(node.inputs):
                self.add(
                    "decision_cells",
                    f"{who}: rule {r + 1} has {len(rule.when)} cell(s) but the table has "
                    f"{len(node.inputs)} input(s); give one cell per input ('-' for any).",
                    node=nid,
                    field=f"rules.{r}.when",
                )
            for c, cell in enumerate(rule.when):
                cell_source = decision_cell_source(cell)
                if cell_source is not None:
                    self.expression(
                        cell_source,
                        f"{who}: rule {r + 1}, cell {c + 1}",
                        node=nid,
                        field=f"rules.{r}.when.{c}",
                    )
        self.reserved(node.output, nid, "output")
