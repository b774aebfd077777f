"""A definition prepared once for running: adjacency, parsed expressions, form validators.

Published definitions are immutable, so the compiled form is cached on the
definition object itself and every step of every instance reuses it. This is
where the interpreter's speed comes from: no step re-parses an expression,
rebuilds a schema validator or searches the edge list. Per node, it also keeps what
every entry would otherwise work out again from the pydantic models (whose attribute
access is slow next to plain data): the plain way out, the timeouts, the deduplicated
approvers and what each task shares (``TaskPlan``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, final

import networkx as nx

from engine.expressions import Expression, ExpressionError, compile_expression
from engine.forms import FormValidator
from engine.model import (
    ApprovalNode,
    Assignee,
    DecisionNode,
    Definition,
    Edge,
    HttpNode,
    InclusiveNode,
    ParallelNode,
    ReceiveNode,
    SetNode,
    StartNode,
    SubworkflowNode,
    TableNode,
    TimerNode,
    UserTaskNode,
)
from engine.problems import DefinitionError, Problem

_COMPARISON_PREFIXES = ("<=", ">=", "==", "!=", "<", ">", "in ", "not in ")


def decision_cell_source(cell: str) -> str | None:
    """The expression a decision-table cell stands for, or None for "any value".

    ``-`` or blank matches anything; a cell starting with a comparison applies it to
    the input (``> 100``); a cell that names ``value`` is a condition on it; anything
    else is a value the input must equal (``"gold"``).
    """
    text = cell.strip()
    if text in ("", "-"):
        return None
    if text.startswith(_COMPARISON_PREFIXES):
        return f"value {text}"
    try:
        names = compile_expression(text).names
    except ExpressionError:
        return f"value == ({text})"
    if "value" in names:
        return text
    return f"value == ({text})"


@dataclass(frozen=True, slots=True)
class TaskPlan:
    """What every task of a user task or approval node shares, worked out once.

    Attributes:
        name: the task's title (the node's name, else its id).
        approval: whether the node is an approval.
        outcomes: an approval's outcomes.
        calendar: the SLA's business calendar.
        sla: the SLA timers as (timer id suffix, duration, purpose, level), the due one
            first; empty without an SLA.
        notify: the node's notices as JSON, for each person a task is given to.
        form, instructions, priority: the node's, read here rather than from the model.
    """

    name: str
    approval: bool
    outcomes: tuple[str, ...]
    calendar: str | None
    sla: tuple[tuple[str, str, str, int], ...]
    notify: tuple[dict[str, Any], ...] = ()
    form: dict[str, Any] | None = None
    instructions: str | None = None
    priority: int = 0


def _task_plan(node: UserTaskNode | ApprovalNode) -> TaskPlan:
    sla = node.sla
    timers: list[tuple[str, str, str, int]] = []
    if sla is not None:
        timers.append(("due", sla.due, "sla_due", 0))
        timers += [(f"remind{i + 1}", r, "sla_remind", i) for i, r in enumerate(sla.remind)]
        timers += [
            (f"escalate{i + 1}", e.after, "sla_escalate", i) for i, e in enumerate(sla.escalate)
        ]
    return TaskPlan(
        name=node.name or node.id,
        approval=isinstance(node, ApprovalNode),
        outcomes=tuple(node.outcomes) if isinstance(node, ApprovalNode) else (),
        calendar=sla.calendar if sla is not None else None,
        sla=tuple(timers),
        notify=tuple(n.model_dump() for n in node.notify),
        form=node.form,
        instructions=node.instructions,
        priority=node.priority,
    )


@final
class Arc:
    """A connection as the interpreter reads it: the model's ``Edge`` as plain attributes.

    Reading a field of a pydantic model costs a few hundred instructions; the interpreter
    reads two or three for every move of a token, and this costs a few.
    """

    def __init__(self, edge: Edge) -> None:
        self.id = edge.id
        self.from_ = edge.from_
        self.to = edge.to
        self.condition = edge.condition
        self.default = edge.default
        self.outcome = edge.outcome
        self.on = edge.on
        self.after = edge.after
        self.interrupting = edge.interrupting

    def __repr__(self) -> str:
        return f"Arc({self.id!r}: {self.from_!r} -> {self.to!r})"


class Compiled:
    """Everything the interpreter looks up, computed once per definition."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.nodes: dict[str, Any] = {}
        problems: list[Problem] = []
        for node in definition.nodes:
            if node.id in self.nodes:
                problems.append(
                    Problem("duplicate_id", f"Two steps have the id {node.id}.", node=node.id)
                )
            self.nodes[node.id] = node
        starts = [n.id for n in definition.nodes if isinstance(n, StartNode)]
        if len(starts) != 1:
            problems.append(
                Problem("start_count", f"A workflow needs exactly one start, not {len(starts)}.")
            )
        self.start = starts[0] if starts else ""
        self.kinds: dict[str, str] = {n: node.type for n, node in self.nodes.items()}
        self.stages: dict[str, str | None] = {n: node.stage for n, node in self.nodes.items()}
        """Each node's type and stage, read at every entry (see ``Arc`` for why not from it)."""

        self.out: dict[str, tuple[Arc, ...]] = dict.fromkeys(self.nodes, ())
        self.incoming: dict[str, tuple[Arc, ...]] = dict.fromkeys(self.nodes, ())
        self.boundary: dict[str, tuple[Arc, ...]] = dict.fromkeys(self.nodes, ())
        for edge in definition.edges:
            if edge.from_ not in self.nodes or edge.to not in self.nodes:
                problems.append(
                    Problem(
                        "dangling_edge",
                        f"Connection {edge.id} points at a missing step.",
                        edge=edge.id,
                    )
                )
                continue
            arc = Arc(edge)
            if edge.on is None:
                self.out[edge.from_] += (arc,)
                self.incoming[edge.to] += (arc,)
            else:
                self.boundary[edge.from_] += (arc,)
        self.exprs: dict[str, Expression] = {}
        for source, node_id, edge_id in self._expression_sources():
            try:
                self.exprs[source] = compile_expression(source)
            except ExpressionError as exc:
                problems.append(
                    Problem(
                        "bad_expression", f"{exc.message} in {source!r}", node=node_id, edge=edge_id
                    )
                )
        if problems:
            raise DefinitionError(problems)

        self.exit: dict[str, Arc | None] = {
            n: edges[0] if len(edges) == 1 and _plain(edges[0]) else None
            for n, edges in self.out.items()
        }
        """A node's one outgoing connection when it is its only one and has no condition,
        outcome or default: the common case of leaving a node, taken without inspecting it."""
        self.timeouts: dict[str, tuple[tuple[Arc, str], ...]] = {
            n: tuple((e, e.after) for e in edges if e.on == "timeout" and e.after)
            for n, edges in self.boundary.items()
        }
        """A node's timeout connections with their durations, scheduled whenever a token
        waits there."""
        self.approvers: dict[str, tuple[Assignee, ...]] = {
            n.id: tuple(_distinct(n.approvers))
            for n in definition.nodes
            if isinstance(n, ApprovalNode)
        }
        """An approval's approvers, duplicates counted once (comparing pydantic models is slow,
        so it is done here rather than at every entry)."""
        self.tasks: dict[str, TaskPlan] = {
            n.id: _task_plan(n)
            for n in definition.nodes
            if isinstance(n, UserTaskNode | ApprovalNode)
        }
        """What the tasks of each user task and approval share (see ``TaskPlan``)."""
        self.requests: dict[str, dict[str, Any]] = {
            n.id: n.request.model_dump() for n in definition.nodes if isinstance(n, HttpNode)
        }
        self._contextual: dict[str, bool] = {}
        self._cells: dict[str, str | None] = {}
        self.specs: dict[int, dict[str, Any]] = {}
        """Assignee specs as JSON, by ``id()`` of the spec object (owned by the definition)."""
        self.forms: dict[str, FormValidator] = {}
        for node in definition.nodes:
            form = getattr(node, "form", None)
            if form:
                self.forms[node.id] = FormValidator(form)
        self._data_form: FormValidator | None = None
        self._data_form_built = False
        self.joins: frozenset[str] = frozenset(
            n
            for n, node in self.nodes.items()
            if isinstance(node, ParallelNode | InclusiveNode) and len(self.incoming[n]) > 1
        )
        graph = nx.DiGraph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from(
            (e.from_, e.to)
            for e in definition.edges
            if e.from_ in self.nodes and e.to in self.nodes
        )
        self.can_reach: dict[str, frozenset[str]] = {
            j: frozenset(nx.ancestors(graph, j))
            for j in self.joins
            if isinstance(self.nodes[j], InclusiveNode)
        }

    def data_form(self) -> FormValidator | None:
        """The validator of the workflow's data schema (``data``), built on first use: only
        the app checks data against it, when an instance starts or its data is changed."""
        if not self._data_form_built:
            schema = self.definition.data
            self._data_form = FormValidator(schema) if schema else None
            self._data_form_built = True
        return self._data_form

    def spec(self, spec: Assignee) -> dict[str, Any]:
        """An assignee spec as JSON (shared: do not mutate)."""
        found = self.specs.get(id(spec))
        if found is None:
            found = self.specs[id(spec)] = spec.model_dump(exclude_none=True)
        return found

    def contextual(self, source: str) -> bool:
        """Whether an expression may read ``instance`` or ``task`` (a cheap, safe over-estimate)."""
        found = self._contextual.get(source)
        if found is None:
            found = self._contextual[source] = "instance" in source or "task" in source
        return found

    def cell_source(self, cell: str) -> str | None:
        """``decision_cell_source(cell)``, worked out once per cell (it parses the cell)."""
        if cell in self._cells:
            return self._cells[cell]
        found = self._cells[cell] = decision_cell_source(cell)
        return found

    def expr(self, source: str) -> Expression:
        found = self.exprs.get(source)
        if found is None:
            found = self.exprs[source] = compile_expression(source)
        return found

    def _expression_sources(self) -> Iterable[tuple[str, str | None, str | None]]:
        for edge in self.definition.edges:
            if edge.condition:
                yield edge.condition, None, edge.id
        for node in self.definition.nodes:
            nid = node.id
            if isinstance(node, UserTaskNode) and node.assignee.expr:
                yield node.assignee.expr, nid, None
            elif isinstance(node, ApprovalNode):
                for a in node.approvers:
                    if a.expr:
                        yield a.expr, nid, None
            elif isinstance(node, SetNode):
                yield from ((src, nid, None) for src in node.assign.values())
            elif isinstance(node, TableNode):
                yield from ((src, nid, None) for src in (*node.key.values(), *node.values.values()))
                if node.each:
                    yield node.each, nid, None
            elif isinstance(node, DecisionNode):
                yield from ((src, nid, None) for src in node.inputs)
                for rule in node.rules:
                    for cell in rule.when:
                        src = decision_cell_source(cell)
                        if src is not None:
                            yield src, nid, None
            elif isinstance(node, TimerNode) and node.until:
                yield node.until, nid, None
            elif isinstance(node, ReceiveNode):
                yield node.correlate, nid, None
            elif isinstance(node, SubworkflowNode):
                yield from ((src, nid, None) for src in node.input.values())
                yield from ((src, nid, None) for src in node.output.values())


def _plain(edge: Arc) -> bool:
    """Whether a connection is always taken: no condition, outcome or default."""
    return edge.condition is None and edge.outcome is None and not edge.default


def _distinct(specs: Iterable[Assignee]) -> list[Assignee]:
    """The specs without repeats (by equality), in their order."""
    distinct: list[Assignee] = []
    for spec in specs:
        if spec not in distinct:
            distinct.append(spec)
    return distinct


def compile_definition(definition: Definition) -> Compiled:
    """The compiled form of ``definition``, built on first use and kept on it.

    Raises:
        DefinitionError: when the definition cannot run at all (no single start,
            a connection to a missing step, an expression that does not parse).
    """
    compiled = definition._compiled
    if not isinstance(compiled, Compiled):
        compiled = Compiled(definition)
        definition._compiled = compiled
    return compiled
