"""Validation: the problems a designer marks on a workflow before it is published.

:func:`validate` reads a definition (or the raw JSON the designer saves) and returns every
problem it finds, errors first, each pointing at the step (node) or connection (edge) to
mark, in words a business user reads. Errors block publishing; warnings do not.

The checks are split by feature: this module checks the structure (ids, connections,
routing, the shape of the graph); ``engine._setting_checks`` the settings of each step;
``engine._join_analysis`` the joins and merges, by playing the workflow's runs on an
abstract model (why, and the rules on dominators it replaced, are told there);
``engine._checker`` holds the state they share.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

import networkx as nx

from engine._checker import exhaustive
from engine._join_analysis import JoinAnalysis
from engine._setting_checks import SettingChecks
from engine.model import (
    ApprovalNode,
    Definition,
    Edge,
    EndNode,
    ExclusiveNode,
    InclusiveNode,
    Node,
    ParallelNode,
    StartNode,
)
from engine.problems import DefinitionError, Problem, parse_definition

__all__ = ["ERROR_TYPES", "TIMEOUT_TYPES", "has_errors", "validate"]

#: Steps a timeout connection (``on: timeout``) may leave: those that wait.
TIMEOUT_TYPES: Final = frozenset(
    {"user_task", "approval", "timer", "receive", "http", "subworkflow"}
)
#: Steps an error connection (``on: error``) may leave: those that can fail.
ERROR_TYPES: Final = frozenset({"http", "table", "subworkflow"})
#: Steps that pass on at once; a loop made only of them never waits for anything.
_BUSY_TYPES: Final = frozenset(
    {"set", "exclusive", "notify", "decision", "parallel", "inclusive", "table"}
)


def validate(
    definition: Definition | Mapping[str, Any],
    *,
    users: Collection[str] | None = None,
    roles: Collection[str] | None = None,
    workflows: Collection[str] | None = None,
    calendars: Collection[str] | None = None,
) -> list[Problem]:
    """Every problem in a workflow definition: errors first, then warnings, in step order.

    Args:
        definition: a parsed definition, or the decoded JSON of one. JSON that does not
            fit the format gives only the problems with its fields.
        users: the known user names; None skips checking users named in assignments.
        roles: the known roles; None skips checking roles.
        workflows: the keys of published workflows a sub-workflow step may start;
            None skips the check. The definition's own key is always known.
        calendars: the names of the installation's business calendars; ``business``
            and ``24x7`` are always known. None skips the check.
    """
    if not isinstance(definition, Definition):
        try:
            definition = parse_definition(definition)
        except DefinitionError as exc:
            return list(exc.problems)
    checker = _Checker(
        definition, users=users, roles=roles, workflows=workflows, calendars=calendars
    )
    return checker.run()


def has_errors(problems: Sequence[Problem]) -> bool:
    """Whether any of ``problems`` blocks publishing."""
    return any(p.severity == "error" for p in problems)


class _Checker(SettingChecks, JoinAnalysis):
    """Every check of one definition: the structural ones here, the others by inheritance."""

    def run(self) -> list[Problem]:
        self.ids()
        self.connections()
        self.routing()
        self.build_graph()
        self.settings()
        self.shape()
        if self.playable:
            self.runs()
        return self.ordered()

    def ordered(self) -> list[Problem]:
        position: dict[str, int] = {}
        for i, node in enumerate(self.d.nodes):
            position.setdefault(node.id, i)
        edges: dict[str, tuple[int, int]] = {}
        for i, edge in enumerate(self.d.edges):
            anchor = position.get(edge.from_, position.get(edge.to, len(position)))
            edges.setdefault(edge.id, (anchor, i + 1))

        def key(p: Problem) -> tuple[int, int, int]:
            rank = 0 if p.severity == "error" else 1
            sub = edges.get(p.edge, (0, 0))[1] if p.edge is not None else 0
            if p.node is not None:
                return rank, position.get(p.node, len(position)), sub
            if p.edge is not None:
                return rank, *edges.get(p.edge, (len(position), 0))
            return rank, -1, 0

        return sorted(dict.fromkeys(self.problems), key=key)

    # --- ids and connections ------------------------------------------------------------

    def ids(self) -> None:
        for node in self.d.nodes:
            if node.id in self.nodes:
                self.playable = False
                self.add(
                    "duplicate_id",
                    f"Two steps have the id '{node.id}'; give each its own.",
                    node=node.id,
                )
                continue
            self.nodes[node.id] = node
            self.out[node.id], self.incoming[node.id], self.boundary[node.id] = [], [], []
            if isinstance(node, StartNode):
                self.starts.append(node.id)
        seen: set[str] = set()
        for edge in self.d.edges:
            if edge.id in seen:
                self.playable = False
                self.add(
                    "duplicate_id",
                    f"Two connections have the id '{edge.id}'; give each its own.",
                    edge=edge.id,
                )
            seen.add(edge.id)
        if not self.starts:
            self.add("no_start", "The workflow has no start step. Add one where instances begin.")
        for extra in self.starts[1:]:
            self.add(
                "several_starts",
                f"The workflow has more than one start ({self.name(self.starts[0])} and {self.name(extra)}); "
                "keep exactly one.",
                node=extra,
            )
        self.playable = self.playable and len(self.starts) == 1

    def connections(self) -> None:
        for edge in self.d.edges:
            if edge.condition is not None:
                self.expression(
                    edge.condition,
                    f"The condition on connection {edge.id}",
                    edge=edge.id,
                    field="condition",
                )
            if edge.after is not None:
                self.duration(
                    edge.after, f"The timeout on connection {edge.id}", edge=edge.id, field="after"
                )
            missing = [
                (end, ref)
                for end, ref in (("from", edge.from_), ("to", edge.to))
                if ref not in self.nodes
            ]
            for end, ref in missing:
                where = "comes from" if end == "from" else "leads to"
                self.add(
                    "dangling_edge",
                    f"Connection {edge.id} {where} a step '{ref}' that does not exist.",
                    edge=edge.id,
                    field=end,
                )
            if missing:
                continue
            position = len(self.edges)
            self.edges.append(edge)
            source, target = self.nodes[edge.from_], self.nodes[edge.to]
            if edge.on is None:
                self.out[edge.from_].append(edge)
                self.incoming[edge.to].append(edge)
            else:
                self.boundary[edge.from_].append(edge)
            if isinstance(target, StartNode):
                self.add(
                    "start_has_incoming",
                    f"{self.conn(edge)} leads back into the start; nothing may lead into a start step.",
                    node=target.id,
                    edge=edge.id,
                )
            if isinstance(source, EndNode):
                self.dead.add(position)
                self.add(
                    "end_has_outgoing",
                    f"{self.conn(edge)} leaves an end step; an end finishes its path, so it is never followed.",
                    node=source.id,
                    edge=edge.id,
                )
                continue
            allowed = TIMEOUT_TYPES if edge.on == "timeout" else ERROR_TYPES
            if edge.on is not None and source.type not in allowed:
                self.dead.add(position)
                kinds = ", ".join(sorted(allowed))
                what = (
                    "does not wait, so it cannot time out"
                    if edge.on == "timeout"
                    else "cannot fail"
                )
                self.add(
                    "boundary_on_non_waiting",
                    f"{self.conn(edge)} is an '{edge.on}' connection, but {self.name(source.id)} {what}; "
                    f"such connections may leave: {kinds}.",
                    edge=edge.id,
                    field="on",
                )
            if edge.outcome is not None:
                self.outcome(edge, position, source)
            ignored = edge.condition is not None and (
                edge.default or edge.on is not None or isinstance(source, ParallelNode)
            )
            if ignored:
                why = (
                    "it is the default path"
                    if edge.default
                    else "it leaves on a timeout or error"
                    if edge.on is not None
                    else "a parallel split takes every path"
                )
                self.add(
                    "condition_ignored",
                    f"The condition on {self.conn(edge)} is never checked: {why}.",
                    edge=edge.id,
                    field="condition",
                    severity="warning",
                )

    def outcome(self, edge: Edge, position: int, source: Node) -> None:
        if isinstance(source, ApprovalNode):
            if edge.outcome not in source.outcomes:
                self.dead.add(position)
                self.add(
                    "outcome_unknown",
                    f"{self.conn(edge)} is for the outcome '{edge.outcome}', which {self.name(source.id)} "
                    f"does not have (its outcomes: {', '.join(source.outcomes)}).",
                    edge=edge.id,
                    field="outcome",
                )
            return
        if not isinstance(source, ExclusiveNode | InclusiveNode | ParallelNode):
            self.dead.add(position)  # leaving an activity, an outcome never matches
        self.add(
            "outcome_unknown",
            f"{self.conn(edge)} names an outcome, but only connections leaving an approval have outcomes.",
            edge=edge.id,
            field="outcome",
        )

    def routing(self) -> None:
        """The ways out of each step: defaults, conditions, outcomes, dead ends."""
        position = {id(e): i for i, e in enumerate(self.edges)}
        for node_id, node in self.nodes.items():
            if isinstance(node, EndNode):
                continue
            out = self.out[node_id]
            defaults = [e for e in out if e.default]
            if len(defaults) > 1 and not isinstance(node, ParallelNode):
                self.add(
                    "several_defaults",
                    f"{self.name(node_id)} has {len(defaults)} default paths "
                    f"({', '.join(e.id for e in defaults)}); keep one.",
                    node=node_id,
                    edge=defaults[1].id,
                    field="default",
                )
            if not out:
                gateway = isinstance(node, ExclusiveNode | InclusiveNode)
                self.add(
                    "missing_outgoing",
                    f"{self.name(node_id)} has no way out: an instance that gets here stops with an incident."
                    if gateway
                    else f"{self.name(node_id)} has no outgoing connection, so its path ends there. "
                    "Connect it to an end step to say so.",
                    node=node_id,
                    severity="error" if gateway else "warning",
                )
                continue
            conditional = [e.condition for e in out if not e.default and e.condition is not None]
            if isinstance(node, ExclusiveNode):
                plain = [e for e in out if e.default or e.condition is None]
                if not plain and not exhaustive(conditional):
                    self.add(
                        "exclusive_no_default",
                        f"{self.name(node_id)} has no default path: when none of its conditions holds, "
                        "the instance stops with an incident. Mark one connection as the default.",
                        node=node_id,
                    )
                for extra in plain[1:]:
                    self.dead.add(position[id(extra)])
                    if extra.default and plain[0].default:
                        continue  # several defaults: said above
                    self.add(
                        "exclusive_condition_missing",
                        f"{self.conn(extra)} is never taken: {self.conn(plain[0])} already is the path "
                        "taken when no condition holds. Give it a condition.",
                        edge=extra.id,
                        field="condition",
                    )
                if len(plain) == 1 and len(out) > 1 and not plain[0].default:
                    self.add(
                        "exclusive_condition_missing",
                        f"{self.conn(plain[0])} has no condition: it is taken when no other condition "
                        "holds. Mark it as the default path to say so.",
                        edge=plain[0].id,
                        field="condition",
                        severity="warning",
                    )
            elif isinstance(node, InclusiveNode):
                defaulted = any(e.default or e.condition is None for e in out)
                if conditional and not defaulted and not exhaustive(conditional):
                    self.add(
                        "inclusive_no_default",
                        f"{self.name(node_id)} has no default path: when none of its conditions "
                        "holds, the instance stops with an incident. Mark one connection as the default.",
                        node=node_id,
                    )
            elif not isinstance(node, ParallelNode):
                self.activity_routing(node, out)

    def activity_routing(self, node: Node, out: list[Edge]) -> None:
        plain = [e for e in out if not e.default and e.condition is None and e.outcome is None]
        has_default = any(e.default for e in out)
        by_outcome = {e.outcome for e in out if e.outcome is not None and not e.default}
        conditional = [
            e.condition for e in out if not e.default and e.outcome is None and e.condition
        ]
        if isinstance(node, ApprovalNode) and by_outcome:
            unrouted = [o for o in node.outcomes if o not in by_outcome]
            if unrouted and not plain and not has_default:
                self.add(
                    "approval_outcome_unrouted",
                    f"{self.name(node.id)} has no path for the outcome "
                    f"{', '.join(repr(o) for o in unrouted)}; add a connection for it or a default path.",
                    node=node.id,
                    field="outcomes",
                )
            for e in plain:
                self.add(
                    "approval_outcome_missing",
                    f"{self.conn(e)} has no outcome, so it is taken whatever the decision, next to the "
                    "outcome's own path. Set its outcome, or mark it as the default path.",
                    edge=e.id,
                    field="outcome",
                    severity="warning",
                )
            return
        if isinstance(node, ApprovalNode) and len(plain) > 1:
            self.add(
                "approval_outcome_missing",
                f"{self.name(node.id)} has several connections without an outcome: all of them are "
                "taken whatever the decision. Set the outcome each one is for.",
                node=node.id,
                severity="warning",
            )
        if conditional and not plain and not has_default and not exhaustive(conditional):
            self.add(
                "no_default",
                f"{self.name(node.id)} has only conditional ways out: when none holds, the instance "
                "stops with an incident. Mark one connection as the default.",
                node=node.id,
                severity="warning",
            )

    def build_graph(self) -> None:
        self.graph.add_nodes_from(self.nodes)
        self.graph.add_edges_from(
            (e.from_, e.to) for i, e in enumerate(self.edges) if i not in self.dead
        )
        for start in self.starts:
            self.reach |= {start, *nx.descendants(self.graph, start)}

    # --- the shape of the graph -----------------------------------------------------------

    def shape(self) -> None:
        if not self.starts:
            return
        order = list(self.nodes)
        rank = {n: i for i, n in enumerate(order)}.__getitem__
        for node_id in order:
            if node_id not in self.reach:
                self.add(
                    "unreachable",
                    f"No path from the start leads to {self.name(node_id)}, so it never runs.",
                    node=node_id,
                )
        terminals = {
            n for n, node in self.nodes.items() if isinstance(node, EndNode) or not self.out[n]
        }
        finishing = set(terminals)
        for terminal in terminals:
            finishing |= nx.ancestors(self.graph, terminal)
        endless: set[str] = set()
        cycles = [c for c in nx.strongly_connected_components(self.graph) if self.cyclic(c)]
        for comp in sorted(cycles, key=lambda c: min(map(rank, c))):
            if not comp & self.reach or comp & terminals:
                continue
            if any(succ not in comp for n in comp for succ in self.graph.successors(n)):
                continue
            endless |= comp
            first = min(comp, key=rank)
            steps = ", ".join(self.name(n) for n in sorted(comp, key=rank))
            self.add(
                "endless_loop",
                f"The loop through {steps} has no way out: instances that enter it never finish.",
                node=first,
            )
        for node_id in order:
            if node_id in self.reach and node_id not in finishing and node_id not in endless:
                self.add(
                    "no_way_to_end",
                    f"From {self.name(node_id)} no path leads to an end: instances that get here never finish.",
                    node=node_id,
                )
        busy = self.graph.subgraph(n for n in self.reach if self.nodes[n].type in _BUSY_TYPES)
        for comp in nx.strongly_connected_components(busy):
            if self.cyclic(comp) and not comp <= endless:
                first = min(comp, key=rank)
                steps = ", ".join(self.name(n) for n in sorted(comp, key=rank))
                self.add(
                    "busy_loop",
                    f"The loop through {steps} never waits for a person, a timer or a message, so it can "
                    "go round without end; add a step that waits, or make sure a condition lets it out.",
                    node=first,
                    severity="warning",
                )

    def cyclic(self, comp: set[str]) -> bool:
        return len(comp) > 1 or any(self.graph.has_edge(n, n) for n in comp)
