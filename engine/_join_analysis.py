"""The join analysis: joins that get stuck or never fire, and parallel paths that merge.

Joins are checked by playing the workflow's runs on an abstract model (a token game):
every step, gateway and boundary connection moves tokens as the interpreter does, and
every condition is a free choice. A definition of a few dozen steps has at most a few
thousand abstract states, so this is exact (up to conditions that depend on each other)
and takes milliseconds. Rejected: rules on dominators alone. They call "parallel split,
a choice inside one branch, an exclusive merge, then the parallel join" a deadlock or
miss one once a loop is involved; they remain the fallback when there are too many
states to play through.

The model (:meth:`JoinAnalysis.model`) has a place per connection, one for the start, and one
per waiting step with non-interrupting timeouts; :func:`_explore` plays it breadth first, up to
``_MAX_STATES`` states, ``_MAX_MOVES`` moves and ``_MAX_TOKENS`` tokens on one connection. A
join is reported stuck where a token can wait at it in a state from which no run lets it fire
or lets the instance stop. When the limits cut the play short, the dominator rule is added for
the parallel joins not found stuck, and no join is said never to fire.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import networkx as nx

from engine._checker import Checker, exhaustive
from engine.model import (
    ApprovalNode,
    Edge,
    EndNode,
    ExclusiveNode,
    InclusiveNode,
    Node,
    ParallelNode,
)

_MAX_STATES: Final = 3000  # abstract states played through before falling back to dominators
_MAX_MOVES: Final = 30_000  # and moves between them
_MAX_TOKENS: Final = 3  # tokens on one connection at once before a run counts as runaway
_MAX_FREE_CONDITIONS: Final = 6  # an inclusive gateway's subsets are enumerated up to this

_Option = tuple[int, ...] | None  # places a firing puts tokens on; None: the instance stops


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


class JoinAnalysis(Checker):
    """The checks of joins and merges, over the runs of the abstract model."""

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
            elif not conditional or not exhaustive([e.condition or "" for e in conditional]):
                yield None  # an incident: nothing holds
        elif isinstance(node, InclusiveNode):
            plain = [e for e in out if not e.default and e.condition is None]
            conditional = [e for e in out if not e.default and e.condition is not None]
            default = [e for e in out if e.default][-1:]
            always = (
                not plain and conditional and exhaustive([e.condition or "" for e in conditional])
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
        if not conditional or not exhaustive([e.condition or "" for e in conditional]):
            choices.append([])
        outcomes: Sequence[str | None] = node.outcomes if isinstance(node, ApprovalNode) else [None]
        for outcome in outcomes:
            matching = [e for e in rest if e.outcome is not None and e.outcome == outcome]
            for choice in choices:
                chosen = [*plain, *matching, *choice] or default
                yield tuple(place[e.id] for e in chosen) if chosen else None
