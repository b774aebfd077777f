"""Validation: the problems a designer marks on a workflow before it is published.

:func:`validate` reads a definition (or the raw JSON the designer saves) and returns every
problem it finds, errors first, each pointing at the step (node) or connection (edge) to
mark, in words a business user reads. Errors block publishing; warnings do not.

Joins are checked by playing the workflow's runs on an abstract model (a token game):
every step, gateway and boundary connection moves tokens as the interpreter does, and
every condition is a free choice. A definition of a few dozen steps has at most a few
thousand abstract states, so this is exact (up to conditions that depend on each other)
and takes milliseconds. Rejected: rules on dominators alone. They call "parallel split,
a choice inside one branch, an exclusive merge, then the parallel join" a deadlock or
miss one once a loop is involved; they remain the fallback when there are too many
states to play through.
"""

from __future__ import annotations

import ast
import itertools
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import networkx as nx

from engine.calendar import DEFAULT_CALENDARS, Duration, check_duration, parse_duration
from engine.compiled import decision_cell_source
from engine.expressions import RESERVED_NAMES, ExpressionError, check_expression
from engine.forms import check_form_schema
from engine.model import (
    ApprovalNode,
    Assignee,
    DecisionNode,
    Definition,
    Edge,
    EndNode,
    ExclusiveNode,
    HttpNode,
    InclusiveNode,
    Node,
    ParallelNode,
    ReceiveNode,
    SetNode,
    Sla,
    StartNode,
    SubworkflowNode,
    TableNode,
    TimerNode,
    UserTaskNode,
)
from engine.problems import DefinitionError, Problem, Severity, parse_definition

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
_CALENDAR_NAMES: Final = frozenset(DEFAULT_CALENDARS)

_MAX_STATES: Final = 3000  # abstract states played through before falling back to dominators
_MAX_MOVES: Final = 30_000  # and moves between them
_MAX_TOKENS: Final = 3  # tokens on one connection at once before a run counts as runaway
_MAX_FREE_CONDITIONS: Final = 6  # an inclusive gateway's subsets are enumerated up to this

_Option = tuple[int, ...] | None  # places a firing puts tokens on; None: the instance stops


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


# --- helpers ---------------------------------------------------------------------------------


def _names(values: Collection[str] | None, always: Iterable[str] = ()) -> frozenset[str] | None:
    return None if values is None else frozenset(values) | frozenset(always)


def _tree(source: str) -> ast.expr | None:
    try:
        return ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


_INVERSE: Final[dict[type[ast.cmpop], type[ast.cmpop]]] = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


def _exhaustive(conditions: Sequence[str]) -> bool:
    """Whether one of ``conditions`` always holds: ``True``, or ``x`` with ``not x``,
    or ``a > b`` with ``a <= b`` (syntactically; nothing cleverer)."""
    trees = [t for t in map(_tree, conditions) if t is not None]
    seen = {ast.dump(t) for t in trees}
    for tree in trees:
        if isinstance(tree, ast.Constant) and tree.value is True:
            return True
        negations = [ast.dump(ast.UnaryOp(op=ast.Not(), operand=tree))]
        if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.Not):
            negations.append(ast.dump(tree.operand))
        if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and type(tree.ops[0]) in _INVERSE:
            flipped = ast.Compare(
                left=tree.left, ops=[_INVERSE[type(tree.ops[0])]()], comparators=tree.comparators
            )
            negations.append(ast.dump(flipped))
        if any(n in seen for n in negations):
            return True
    return False


def _not_earlier(a: Duration, b: Duration) -> bool:
    """Whether ``a`` is surely no shorter than ``b``."""
    if a.months >= b.months and a.days >= b.days and a.seconds >= b.seconds:
        return True
    if a.months or b.months:
        return False
    return a.days * 86400 + a.seconds >= b.days * 86400 + b.seconds


def _subsets(items: Sequence[Edge]) -> list[tuple[Edge, ...]]:
    if len(items) <= _MAX_FREE_CONDITIONS:
        return [c for r in range(len(items) + 1) for c in itertools.combinations(items, r)]
    return [(), *((e,) for e in items), tuple(items)]


@dataclass(frozen=True, slots=True)
class _Step:
    """How one node moves tokens in the abstract model.

    Places are connections (one per edge), the start, and for a waiting step with
    non-interrupting timeouts a place for "still waiting, timeouts fired".
    """

    node: str
    join: str  # "", "parallel" or "inclusive"
    inputs: tuple[int, ...]  # places a firing takes a token from
    options: tuple[_Option, ...]  # the alternatives of one firing
    upstream: tuple[int, ...] = ()  # inclusive join: places whose tokens may still arrive
    post: int | None = None
    spawned: tuple[int, ...] = ()  # places the non-interrupting timeouts feed


@dataclass(frozen=True, slots=True)
class _Model:
    targets: list[str]  # the node each place leads to
    edges: list[Edge | None]  # the connection each place is, if any
    steps: list[_Step]
    initial: tuple[int, ...]


@dataclass(slots=True)
class _Space:
    markings: list[tuple[int, ...]]
    preds: list[list[int]]
    fired: dict[str, set[int]]
    frontier: set[int]

    def can_reach(self, targets: Iterable[int]) -> set[int]:
        seen = set(targets) | self.frontier
        stack = list(seen)
        while stack:
            for pred in self.preds[stack.pop()]:
                if pred not in seen:
                    seen.add(pred)
                    stack.append(pred)
        return seen


def _successors(
    steps: Sequence[_Step], marking: tuple[int, ...]
) -> Iterator[tuple[tuple[int, ...], str]]:
    def put(base: list[int], option: _Option) -> tuple[int, ...]:
        if option is None:
            return ()
        new = list(base)
        for place in option:
            new[place] += 1
        return tuple(new)

    for step in steps:
        if step.join == "parallel":
            if all(marking[p] for p in step.inputs):
                base = list(marking)
                for p in step.inputs:
                    base[p] -= 1
                for option in step.options:
                    yield put(base, option), step.node
        elif step.join == "inclusive":
            if any(marking[p] for p in step.inputs) and not any(marking[p] for p in step.upstream):
                base = list(marking)
                for p in step.inputs:
                    base[p] = 0
                for option in step.options:
                    yield put(base, option), step.node
        else:
            for p in step.inputs:
                if not marking[p]:
                    continue
                base = list(marking)
                base[p] -= 1
                for option in step.options:
                    yield put(base, option), ""
                if step.post is not None and p != step.post:
                    yield put(base, (step.post, *step.spawned)), ""


def _explore(steps: Sequence[_Step], initial: tuple[int, ...]) -> _Space:
    space = _Space([initial], [[]], {}, set())
    index = {initial: 0}
    queue = deque([0])
    moves = 0
    while queue:
        state = queue.popleft()
        marking = space.markings[state]
        if not marking:
            continue  # the instance stopped
        if moves > _MAX_MOVES:
            space.frontier.add(state)
            continue
        for new, fired in _successors(steps, marking):
            moves += 1
            if new and max(new) > _MAX_TOKENS:
                space.frontier.add(state)
                continue
            target = index.get(new)
            if target is None:
                if len(space.markings) >= _MAX_STATES:
                    space.frontier.add(state)
                    continue
                target = index[new] = len(space.markings)
                space.markings.append(new)
                space.preds.append([])
                queue.append(target)
            space.preds[target].append(state)
            if fired:
                space.fired.setdefault(fired, set()).add(state)
    return space


# --- the checker -------------------------------------------------------------------------------


class _Checker:
    def __init__(
        self,
        definition: Definition,
        *,
        users: Collection[str] | None,
        roles: Collection[str] | None,
        workflows: Collection[str] | None,
        calendars: Collection[str] | None,
    ) -> None:
        self.d = definition
        self.users = _names(users)
        self.roles = _names(roles)
        self.workflows = _names(workflows, [definition.key])
        self.calendars = _names(calendars, _CALENDAR_NAMES)
        self.problems: list[Problem] = []
        self.nodes: dict[str, Node] = {}
        self.starts: list[str] = []
        self.playable = True  # unique ids and one start: the runs can be played through
        self.edges: list[Edge] = []  # connections whose two ends exist
        self.dead: set[int] = set()  # positions in self.edges of connections never followed
        self.out: dict[str, list[Edge]] = {}
        self.incoming: dict[str, list[Edge]] = {}
        self.boundary: dict[str, list[Edge]] = {}
        self.graph: Any = nx.DiGraph()  # what runs can follow
        self.reach: set[str] = set()

    def add(
        self,
        code: str,
        message: str,
        *,
        node: str | None = None,
        edge: str | None = None,
        field: str | None = None,
        severity: Severity = "error",
    ) -> None:
        self.problems.append(
            Problem(code, message, node=node, edge=edge, field=field, severity=severity)
        )

    def name(self, node_id: str) -> str:
        node = self.nodes.get(node_id)
        return f"'{node.name}'" if node is not None and node.name else f"'{node_id}'"

    def conn(self, edge: Edge) -> str:
        label = f" '{edge.label}'" if edge.label else ""
        return f"the connection{label} from {self.name(edge.from_)} to {self.name(edge.to)}"

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
                if not plain and not _exhaustive(conditional):
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
                if conditional and not defaulted and not _exhaustive(conditional):
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
        if conditional and not plain and not has_default and not _exhaustive(conditional):
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

    # --- settings of each step ------------------------------------------------------------

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
            if not isinstance(target, UserTaskNode | ApprovalNode):
                what = "does not exist" if target is None else "is not a task or an approval"
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

    # --- runs: joins and merges -------------------------------------------------------------

    def runs(self) -> None:
        model = self.model()
        space = _explore(model.steps, model.initial)
        stopped = [i for i, m in enumerate(space.markings) if not m]
        final = space.can_reach(stopped)
        joins = {s.node: s for s in model.steps if s.join}
        moving = {pred for preds in space.preds for pred in preds}

        def example(found: list[int]) -> tuple[int, ...]:
            """A stuck state to describe: one where nothing can move any more, if there is one."""
            return space.markings[next((s for s in found if s not in moving), found[0])]

        flagged: set[str] = set()
        stuck: set[int] = set()
        for step in (s for s in model.steps if s.join == "parallel"):
            relief = space.can_reach([*stopped, *space.fired.get(step.node, ())])
            others = [
                p for p, t in enumerate(model.targets) if t == step.node and p not in step.inputs
            ]
            found = [
                state
                for state, m in enumerate(space.markings)
                if m
                and (
                    (state not in relief and any(m[p] for p in step.inputs))
                    or (state not in final and any(m[p] for p in others))
                )
            ]
            if found:
                stuck.update(found)
                flagged.add(step.node)
                self.parallel_deadlock(step, example(found), model, others)
        for step in (s for s in model.steps if s.join == "inclusive"):
            relief = space.can_reach([*stopped, *space.fired.get(step.node, ())])
            found = [
                state
                for state, m in enumerate(space.markings)
                if m
                and state not in stuck
                and state not in relief
                and any(m[p] for p in step.inputs)
            ]
            if found:
                flagged.add(step.node)
                marking = example(found)
                blocker = next((model.targets[p] for p in step.upstream if marking[p]), step.node)
                self.add(
                    "inclusive_join_deadlock",
                    f"{self.name(step.node)} waits until no other path can still reach it, but in some "
                    f"runs the path waiting at {self.name(blocker)} never moves on, so the instance "
                    "would get stuck here.",
                    node=step.node,
                )
        if space.frontier:
            self.dominator_fallback(joins, flagged)
        else:
            self.never_fired(space, joins, flagged)
        self.merges(space, model, joins)

    def parallel_deadlock(
        self, step: _Step, marking: tuple[int, ...], model: _Model, others: list[int]
    ) -> None:
        lost = [e for p in others if marking[p] and (e := model.edges[p]) is not None]
        if lost and not any(marking[p] for p in step.inputs):
            self.add(
                "parallel_join_deadlock",
                f"{self.name(step.node)} waits for its regular incoming paths only; {self.conn(lost[0])} "
                "leads into it on a timeout or error and is never passed on.",
                node=step.node,
                edge=lost[0].id,
            )
            return
        missing = [e for p in step.inputs if not marking[p] and (e := model.edges[p]) is not None]
        paths = " and ".join(f"from {self.name(e.from_)}" for e in missing)
        self.add(
            "parallel_join_deadlock",
            f"{self.name(step.node)} waits for all its incoming paths, but in some runs the path {paths} "
            "never arrives, so the instance would get stuck here. Use an exclusive merge where only "
            "one of the paths is taken.",
            node=step.node,
            edge=missing[0].id if missing else None,
        )

    def never_fired(self, space: _Space, joins: Mapping[str, _Step], flagged: set[str]) -> None:
        behind = set(flagged)
        for join in flagged:
            behind |= nx.descendants(self.graph, join)
        for node_id in joins:
            if node_id in self.reach and node_id not in behind and not space.fired.get(node_id):
                self.add(
                    "join_never_fires",
                    f"{self.name(node_id)} waits for several paths, but in no run do they all arrive, "
                    "so it never lets an instance through.",
                    node=node_id,
                )

    def merges(self, space: _Space, model: _Model, joins: Mapping[str, _Step]) -> None:
        watched = [
            n for n, node in self.nodes.items() if n not in joins and not isinstance(node, EndNode)
        ]
        into = {n: [p for p, t in enumerate(model.targets) if t == n] for n in watched}
        warned = {
            n for n in watched if any(m and sum(m[p] for p in into[n]) > 1 for m in space.markings)
        }
        for node_id in (n for n in self.nodes if n in warned):
            node = self.nodes[node_id]
            what = (
                "does not wait for them: it passes once per path, so what follows runs more than once"
                if isinstance(node, ExclusiveNode | InclusiveNode | ParallelNode)
                else "runs once for each of them"
            )
            self.add(
                "merge_of_parallel",
                f"Parallel paths meet at {self.name(node_id)}, which {what}. Use a parallel join to "
                "wait for all of them.",
                node=node_id,
                severity="warning",
            )

    def dominator_fallback(self, joins: Mapping[str, _Step], flagged: set[str]) -> None:
        idom = nx.immediate_dominators(self.graph, self.starts[0])
        for node_id, step in joins.items():
            dom = idom.get(node_id)
            if step.join != "parallel" or node_id in flagged or dom is None or dom == node_id:
                continue
            if isinstance(self.nodes[dom], ExclusiveNode) and len(self.out[dom]) > 1:
                self.add(
                    "parallel_join_deadlock",
                    f"{self.name(node_id)} waits for all its incoming paths, but they come from the "
                    f"choice at {self.name(dom)}, which takes only one of them, so the instance would "
                    "get stuck here.",
                    node=node_id,
                )

    def model(self) -> _Model:
        """The abstract model: a place per connection, one for the start, and one per
        waiting step with non-interrupting timeouts; a :class:`_Step` per node."""
        edges: list[Edge | None] = [*self.edges, None]
        targets = [e.to for e in self.edges] + [self.starts[0]]
        place = {e.id: i for i, e in enumerate(self.edges)}
        live = {e.id for i, e in enumerate(self.edges) if i not in self.dead}
        full = nx.DiGraph()
        full.add_nodes_from(self.nodes)
        full.add_edges_from((e.from_, e.to) for e in self.edges)
        posts: dict[str, int] = {}
        for node_id in self.nodes:
            if any(
                e.on == "timeout" and not e.interrupting and e.id in live
                for e in self.boundary[node_id]
            ):
                posts[node_id] = len(targets)
                targets.append(node_id)
                edges.append(None)
        steps = []
        for node_id, node in self.nodes.items():
            into = tuple(p for p, t in enumerate(targets) if t == node_id)
            join = ""
            if isinstance(node, ParallelNode | InclusiveNode) and len(self.incoming[node_id]) > 1:
                join = "parallel" if isinstance(node, ParallelNode) else "inclusive"
            if join == "parallel":
                into = tuple(place[e.id] for e in self.incoming[node_id])
            upstream: tuple[int, ...] = ()
            if join == "inclusive":
                before = nx.ancestors(full, node_id)
                upstream = tuple(p for p, t in enumerate(targets) if t in before)
            boundary = [e for e in self.boundary[node_id] if e.id in live]
            alternatives = tuple(
                (place[e.id],) for e in boundary if e.on == "error" or e.interrupting
            )
            spawned = tuple(
                place[e.id] for e in boundary if e.on == "timeout" and not e.interrupting
            )
            options = tuple(dict.fromkeys(self.options(node, place))) + alternatives
            steps.append(_Step(node_id, join, into, options, upstream, posts.get(node_id), spawned))
        initial = [0] * len(targets)
        initial[len(self.edges)] = 1
        return _Model(targets, edges, steps, tuple(initial))

    def options(self, node: Node, place: Mapping[str, int]) -> Iterator[_Option]:
        """What one pass through ``node`` may put on its ways out, as the interpreter chooses."""
        out = self.out[node.id]
        if isinstance(node, EndNode):
            yield None if node.terminates else ()
        elif isinstance(node, ParallelNode):
            yield tuple(place[e.id] for e in out)
        elif isinstance(node, ExclusiveNode):
            if len(out) == 1 and out[0].condition is None:
                yield (place[out[0].id],)
                return
            plain = [e for e in out if e.default or e.condition is None]
            conditional = [e for e in out if not (e.default or e.condition is None)]
            yield from ((place[e.id],) for e in conditional)
            if plain:
                yield (place[plain[0].id],)
            elif not conditional or not _exhaustive([e.condition or "" for e in conditional]):
                yield None  # an incident: nothing holds
        elif isinstance(node, InclusiveNode):
            plain = [e for e in out if not e.default and e.condition is None]
            conditional = [e for e in out if not e.default and e.condition is not None]
            default = [e for e in out if e.default][-1:]
            always = (
                not plain and conditional and _exhaustive([e.condition or "" for e in conditional])
            )
            for subset in _subsets(conditional):
                chosen = [*plain, *subset] or default
                if chosen:
                    yield tuple(place[e.id] for e in chosen)
                elif not always:
                    yield None
        else:
            yield from self.leave_options(node, out, place)

    def leave_options(
        self, node: Node, out: list[Edge], place: Mapping[str, int]
    ) -> Iterator[_Option]:
        if not out:
            yield ()
            return
        first = out[0]
        if (
            len(out) == 1
            and first.condition is None
            and first.outcome is None
            and not first.default
        ):
            yield (place[first.id],)
            return
        default = [e for e in out if e.default][-1:]
        rest = [e for e in out if not e.default]
        plain = [e for e in rest if e.outcome is None and e.condition is None]
        conditional = [e for e in rest if e.outcome is None and e.condition is not None]
        # Conditions leaving an activity are taken as alternatives: designers write them
        # as "amount > 1000" / "amount <= 1000", and both holding would be a false alarm.
        choices: list[list[Edge]] = [[e] for e in conditional]
        if not conditional or not _exhaustive([e.condition or "" for e in conditional]):
            choices.append([])
        outcomes: Sequence[str | None] = node.outcomes if isinstance(node, ApprovalNode) else [None]
        for outcome in outcomes:
            matching = [e for e in rest if e.outcome is not None and e.outcome == outcome]
            for choice in choices:
                chosen = [*plain, *matching, *choice] or default
                yield tuple(place[e.id] for e in chosen) if chosen else None
