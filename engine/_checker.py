"""The state every validation check shares, and whether a set of conditions covers every case.

The checks are split by feature into classes over one shared state, each in its own module:
the structure (ids, connections, routing, the shape of the graph) in ``engine.validation``,
the settings of each step in ``engine._setting_checks``, and the runs through joins in
``engine._join_analysis``; ``engine.validation`` combines them into one checker. The
structural checks fill in the state (the steps by id, the connections whose two ends exist,
the ones never followed, the graph runs can follow) that the others read, and every check
reports through :meth:`Checker.add`, naming steps and connections as a designer sees them.

Rejected: free functions per feature taking the state as an argument. Every check reads much
of the state and all of them report, so each line would carry it along for no real isolation.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Final

import networkx as nx

from engine.calendar import DEFAULT_CALENDARS
from engine.model import Definition, Edge, Node
from engine.problems import Problem, Severity

_CALENDAR_NAMES: Final = frozenset(DEFAULT_CALENDARS)


def _names(values: Collection[str] | None, always: Iterable[str] = ()) -> frozenset[str] | None:
    return None if values is None else frozenset(values) | frozenset(always)


class Checker:
    """The state the checks share, and where they report problems."""

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


def exhaustive(conditions: Sequence[str]) -> bool:
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
