"""Moving tokens through the graph: activities, gateways, joins, decision tables.

See ``engine.interpreter`` for the design.
"""

from __future__ import annotations

from typing import Any, Final

from engine.compiled import Arc
from engine.effects import (
    CallHttp,
    SendNotification,
    SetStage,
    StartSubworkflow,
    TableOperation,
    WaitForMessage,
)
from engine.model import (
    ApprovalNode,
    DecisionNode,
    EndNode,
    ExclusiveNode,
    HttpNode,
    InclusiveNode,
    NotifyNode,
    ParallelNode,
    ReceiveNode,
    SetNode,
    SubworkflowNode,
    TableNode,
    TimerNode,
    UserTaskNode,
)
from engine.runtime import Incident, Run, as_datetime, json_safe

MAX_MOVES_PER_STEP: Final = 10_000
"""A step that moves tokens this often without reaching a wait is looping; it raises an incident."""


class Flow(Run):
    """Token movement on top of the step plumbing."""

    __slots__ = ()

    def settle(self) -> None:
        """Run every ready token until it waits or ends; then finish the instance if done."""
        moves = 0
        state, queue, enter = self.s, self.queue, self.enter  # the same objects all step long
        while True:
            while queue:
                token, node_id, edge_id = queue.popleft()
                if state["status"] != "running":
                    break
                moves += 1
                if moves > self.max_moves:
                    stopped = [[t, n, e] for t, n, e in queue]
                    queue.clear()
                    self.incident(
                        token,
                        node_id,
                        "endless_loop",
                        f"the path looped {self.max_moves} times without waiting for anything",
                        {},
                        also=stopped,
                        edge=edge_id,
                    )
                    break
                try:
                    enter(token, node_id, edge_id)
                except Incident as inc:
                    self.incident(token, node_id, inc.code, inc.message, inc.details, edge=edge_id)
            if state["status"] != "running" or not self.fire_ready_inclusive_joins():
                break
        if state["status"] == "running":
            tokens = state["tokens"]
            if not tokens:
                self.finish("completed", implicit=True)
            elif all(t["wait"] == "join" for t in tokens.values()):
                self._stuck_joins()

    def enter(self, token: str, node_id: str, edge_id: str | None) -> None:
        c = self.c
        state = self.s
        state["path"].append({"node": node_id, "token": token, "edge": edge_id, "at": self.now_iso})
        stage = c.stages[node_id]
        if stage is not None and stage != state["stage"]:
            state["stage"] = stage
            self.m("stages").append({"stage": stage, "node": node_id, "at": self.now_iso})
            self.emit(SetStage(stage=stage, node=node_id))
        # a chain, commonest first, rather than a table of methods: compiled, these are
        # direct calls, where calling a method taken from a table goes through Python
        kind, node = c.kinds[node_id], c.nodes[node_id]
        if kind == "exclusive":
            self.choose_exclusive(token, node)
        elif kind == "user_task":
            self._user_task(token, node, edge_id)
        elif kind == "notify":
            self._notify(token, node, edge_id)
        elif kind == "http":
            self._http(token, node, edge_id)
        elif kind == "end":
            self._end(token, node, edge_id)
        elif kind == "start":
            self.leave(token, node_id)
        elif kind == "approval":
            self._approval(token, node, edge_id)
        elif kind == "parallel":
            self._parallel(token, node, edge_id)
        elif kind == "set":
            self._set(token, node, edge_id)
        elif kind == "receive":
            self._receive(token, node, edge_id)
        elif kind == "timer":
            self._timer(token, node, edge_id)
        elif kind == "decision":
            self.decide(node)
            self.leave(token, node_id)
        elif kind == "table":
            self.table_request(token, node)
        elif kind == "inclusive":
            self._inclusive(token, node, edge_id)
        elif kind == "subworkflow":
            self._subworkflow(token, node, edge_id)
        else:
            raise TypeError(f"no way to enter a node of type {kind!r}")

    def _notify(self, token: str, node: NotifyNode, edge_id: str | None) -> None:
        self.emit(
            SendNotification(
                notification_id=self.new_id("msg"),
                node=node.id,
                channel=node.channel,
                to=node.to,
                subject=node.subject,
                body=node.body,
                data=self.data,
            )
        )
        self.leave(token, node.id)

    def _end(self, token: str, node: EndNode, edge_id: str | None) -> None:
        del self.s["tokens"][token]
        if node.terminates:
            self.finish(node.outcome, reason=f"reached {node.name or node.id}")
        else:
            self.s["outcome_hint"] = node.outcome

    def _user_task(self, token: str, node: UserTaskNode, edge_id: str | None) -> None:
        wait_id = self.new_id("w")
        task_id = self.create_task(node, node.assignee, wait_id)
        try:
            self.wait(token, node.id, wait_id, {"kind": "task", "tasks": [task_id]})
        except Incident:
            self.undo_tasks([task_id])
            raise

    def _approval(self, token: str, node: ApprovalNode, edge_id: str | None) -> None:
        wait_id = self.new_id("w")
        tasks: list[str] = []
        try:
            for spec in self.c.approvers[node.id]:  # duplicate approvers count once
                tasks.append(self.create_task(node, spec, wait_id))
            self.wait(token, node.id, wait_id, {"kind": "approval", "tasks": tasks, "votes": []})
        except Incident:
            self.undo_tasks(tasks)
            raise

    def _parallel(self, token: str, node: ParallelNode, edge_id: str | None) -> None:
        if node.id in self.c.joins and not self.arrive(token, node.id, edge_id, parallel=True):
            return
        self.split(token, node.id, self.c.out[node.id])

    def _inclusive(self, token: str, node: InclusiveNode, edge_id: str | None) -> None:
        if node.id in self.c.joins:
            self.arrive(token, node.id, edge_id, parallel=False)
            return  # fired by fire_ready_inclusive_joins once nothing else can arrive
        self.split(token, node.id, self.choose_inclusive(node.id))

    def _set(self, token: str, node: SetNode, edge_id: str | None) -> None:
        for name, source in node.assign.items():
            self.assign(name, json_safe(self.evaluate(source)))
        self.leave(token, node.id)

    def _timer(self, token: str, node: TimerNode, edge_id: str | None) -> None:
        if node.duration is not None:
            due = self.at(node.duration, node.calendar)
        else:
            due = as_datetime(self.evaluate(node.until or ""), node.until or "")
        wait_id = self.new_id("w")
        self.wait(token, node.id, wait_id, {"kind": "timer"})
        self.schedule(wait_id, due, "timer", node.id, wait=wait_id)

    def _receive(self, token: str, node: ReceiveNode, edge_id: str | None) -> None:
        correlation = self.evaluate(node.correlate)
        wait_id = self.new_id("w")
        record = {"kind": "message", "message": node.message, "correlation": correlation}
        self.wait(token, node.id, wait_id, record)
        self.emit(
            WaitForMessage(
                wait_id=wait_id,
                node=node.id,
                message=node.message,
                correlation=correlation,
                keep_early=node.keep_early,
            )
        )

    def _http(self, token: str, node: HttpNode, edge_id: str | None) -> None:
        wait_id = self.new_id("w")
        self.wait(token, node.id, wait_id, {"kind": "http"})
        self.emit(
            CallHttp(
                request_id=wait_id,
                node=node.id,
                request=self.c.requests[node.id],
                data=self.data,
                attempts=node.retry.attempts,
                backoff=node.retry.backoff,
                secret=node.secret,
            )
        )

    def _subworkflow(self, token: str, node: SubworkflowNode, edge_id: str | None) -> None:
        child_input = {name: self.evaluate(src) for name, src in node.input.items()}
        wait_id = self.new_id("w")
        self.wait(token, node.id, wait_id, {"kind": "subworkflow"})
        self.emit(
            StartSubworkflow(
                request_id=wait_id, node=node.id, workflow=node.workflow, input=child_input
            )
        )

    def leave_safely(self, token: str, node_id: str, outcome: str | None = None) -> None:
        """``leave`` for a token woken by a command: a failing condition becomes an incident
        (retried by leaving again), never an exception out of ``step``."""
        try:
            self.leave(token, node_id, outcome)
        except Incident as inc:
            self.incident(
                token, node_id, inc.code, inc.message, inc.details, leaving=True, outcome=outcome
            )

    def leave(self, token: str, node_id: str, outcome: str | None = None) -> None:
        """Move a token out of an activity along its outgoing connections.

        Unconditional connections are all taken; conditional ones when they hold;
        the default one when nothing else is taken; a connection naming an approval
        outcome only on that outcome. No connection at all ends the path.
        """
        only = self.c.exit[node_id]
        if only is not None:
            self.move(token, only)
            return
        edges = self.c.out[node_id]
        if not edges:
            del self.s["tokens"][token]
            return
        chosen: list[Arc] = []
        evaluated: list[dict[str, Any]] = []
        default: Arc | None = None
        for edge in edges:
            if edge.default:
                default = edge
            elif edge.outcome is not None:
                if edge.outcome == outcome:
                    chosen.append(edge)
            elif edge.condition is not None:
                result = bool(self.evaluate(edge.condition))
                evaluated.append({"edge": edge.id, "condition": edge.condition, "result": result})
                if result:
                    chosen.append(edge)
            else:
                chosen.append(edge)
        if not chosen and default is not None:
            chosen.append(default)
        if evaluated or outcome is not None:
            self.explain(
                {
                    "node": node_id,
                    "kind": "leave",
                    "outcome": outcome,
                    "inputs": self.inputs(*(e["condition"] for e in evaluated)),
                    "evaluated": evaluated,
                    "chosen": [e.id for e in chosen],
                }
            )
        if not chosen:
            raise Incident(
                "no_way_out", "no outgoing connection applies here", {"outcome": outcome}
            )
        self.split(token, node_id, chosen)

    def split(self, token: str, node_id: str, edges: tuple[Arc, ...] | list[Arc]) -> None:
        if not edges:
            del self.s["tokens"][token]
            return
        self.move(token, edges[0])
        for edge in edges[1:]:
            branch = self.new_id("tok")
            self.s["tokens"][branch] = {"node": node_id, "wait": None}
            self.move(branch, edge)

    def move(self, token: str, edge: Arc) -> None:
        to = edge.to
        self.s["tokens"][token] = {"node": to, "wait": None}
        self.queue.append((token, to, edge.id))

    def choose_exclusive(self, token: str, node: ExclusiveNode) -> None:
        edges = self.c.out[node.id]
        if len(edges) == 1 and edges[0].condition is None:
            self.move(token, edges[0])  # a merge, or a pass-through
            return
        evaluated: list[dict[str, Any]] = []
        chosen: Arc | None = None
        default: Arc | None = None
        record: dict[str, Any] = {"node": node.id, "kind": "exclusive", "evaluated": evaluated}
        try:
            for edge in edges:
                if edge.default or edge.condition is None:
                    default = default or edge
                    continue
                result = bool(self.evaluate(edge.condition))
                evaluated.append({"edge": edge.id, "condition": edge.condition, "result": result})
                if result:
                    chosen = edge
                    break
        except Incident as inc:
            record["inputs"] = self.inputs(*(e["condition"] for e in evaluated))
            record["error"] = inc.message
            self.explain(record)
            raise
        record["inputs"] = self.inputs(*(e["condition"] for e in evaluated))
        chosen = chosen or default
        record["chosen"] = [chosen.id] if chosen else []
        record["default"] = chosen is not None and chosen is default
        self.explain(record)
        if chosen is None:
            raise Incident(
                "no_way_out",
                "no condition holds and there is no default path",
                {"evaluated": evaluated},
            )
        self.move(token, chosen)

    def choose_inclusive(self, node_id: str) -> list[Arc]:
        chosen: list[Arc] = []
        evaluated: list[dict[str, Any]] = []
        default: Arc | None = None
        for edge in self.c.out[node_id]:
            if edge.default:
                default = edge
            elif edge.condition is None:
                chosen.append(edge)
            else:
                result = bool(self.evaluate(edge.condition))
                evaluated.append({"edge": edge.id, "condition": edge.condition, "result": result})
                if result:
                    chosen.append(edge)
        if not chosen and default is not None:
            chosen.append(default)
        self.explain(
            {
                "node": node_id,
                "kind": "inclusive",
                "inputs": self.inputs(*(e["condition"] for e in evaluated)),
                "evaluated": evaluated,
                "chosen": [e.id for e in chosen],
            }
        )
        if not chosen:
            raise Incident(
                "no_way_out",
                "no condition holds and there is no default path",
                {"evaluated": evaluated},
            )
        return chosen

    def arrive(self, token: str, node_id: str, edge_id: str | None, *, parallel: bool) -> bool:
        """Record a token at a join; for a parallel join, fire when every branch is in."""
        joins = self.m("joins")
        arrived: dict[str, list[str]] = {k: list(v) for k, v in joins.get(node_id, {}).items()}
        arrived.setdefault(edge_id or "", []).append(token)
        self.s["tokens"][token] = {"node": node_id, "wait": "join"}
        if parallel:
            incoming = self.c.incoming[node_id]
            if all(arrived.get(e.id) for e in incoming):
                consumed = [arrived[e.id].pop(0) for e in incoming]
                joins[node_id] = {k: v for k, v in arrived.items() if v}
                self._merge_tokens(consumed, token)
                return True
        joins[node_id] = arrived
        return False

    def _merge_tokens(self, consumed: list[str], survivor: str) -> None:
        tokens = self.s["tokens"]
        for t in consumed:
            if t != survivor:
                del tokens[t]
        tokens[survivor] = {"node": tokens[survivor]["node"], "wait": None}

    def fire_ready_inclusive_joins(self) -> bool:
        """Fire inclusive joins that no live token can still reach. True if any fired."""
        if not self.s["joins"]:
            return False
        fired = False
        for join_id, arrived in list(self.s["joins"].items()):
            if not arrived or join_id not in self.c.can_reach:
                continue
            upstream = self.c.can_reach[join_id]
            blocked = any(
                t["node"] in upstream and not (t["wait"] == "join" and t["node"] == join_id)
                for t in self.s["tokens"].values()
            )
            if blocked:
                continue
            consumed = [t for tokens in arrived.values() for t in tokens]
            survivor = consumed[0]
            del self.m("joins")[join_id]
            self._merge_tokens(consumed, survivor)
            self.explain({"node": join_id, "kind": "join", "arrived": sorted(arrived)})
            try:
                self.split(survivor, join_id, self.choose_inclusive(join_id))
            except Incident as inc:
                self.incident(survivor, join_id, inc.code, inc.message, inc.details)
            fired = True
        return fired

    def force_join(self, token: str, join_id: str) -> None:
        """Fire a stuck join with the branches that did arrive (an admin's retry)."""
        arrived = self.m("joins").pop(join_id, {})
        self._merge_tokens(
            [t for ts in arrived.values() for t in ts if t in self.s["tokens"]], token
        )
        self.s["tokens"][token] = {"node": join_id, "wait": None}
        edges = self.c.out[join_id]
        if isinstance(self.c.nodes[join_id], InclusiveNode):
            edges = tuple(self.choose_inclusive(join_id))
        self.split(token, join_id, edges)

    def _stuck_joins(self) -> None:
        for join_id, arrived in self.s["joins"].items():
            if arrived:
                token = next(t for ts in arrived.values() for t in ts)
                self.incident(
                    token,
                    join_id,
                    "join_cannot_fire",
                    "this join waits for paths that can no longer arrive",
                    {"arrived": sorted(arrived)},
                    join=True,
                )
                return

    def decide(self, node: DecisionNode) -> None:
        values = [self.evaluate(src) for src in node.inputs]
        hits: list[int] = []
        for index, rule in enumerate(node.rules):
            if self._rule_matches(rule.when, values):
                hits.append(index)
                if node.hit == "first":
                    break
        record: dict[str, Any] = {
            "node": node.id,
            "kind": "decision",
            "hit": node.hit,
            "inputs": dict(zip(node.inputs, values, strict=True)),
            "matched": hits,
        }
        if node.hit == "unique" and len(hits) > 1:
            self.explain(record)
            raise Incident(
                "decision_not_unique", f"rules {[h + 1 for h in hits]} all match", {"matched": hits}
            )
        output: Any
        if node.hit == "collect":
            output = [node.rules[h].then for h in hits]
        elif hits:
            output = node.rules[hits[0]].then
        elif node.default is not None:
            output = node.default
        else:
            self.explain(record)
            raise Incident(
                "no_rule_matched",
                "no rule of the decision table matches",
                {"inputs": record["inputs"]},
            )
        record["output"] = output
        self.explain(record)
        self.s["data"] = {**self.data, node.output: output}

    def _rule_matches(self, cells: list[str], values: list[Any]) -> bool:
        for cell, value in zip(cells, values, strict=False):
            source = self.c.cell_source(cell)
            if source is not None and not self.evaluate(source, {"value": value}):
                return False
        return True

    def table_request(self, token: str, node: TableNode) -> None:
        if node.each:
            items = self.evaluate(node.each)
            if not isinstance(items, list):
                raise Incident("not_a_list", f"{node.each!r} is not a list", {"each": node.each})
            keys = tuple(
                {k: self.evaluate(v, {"item": it}) for k, v in node.key.items()} for it in items
            )
            values = tuple(
                {k: self.evaluate(v, {"item": it}) for k, v in node.values.items()} for it in items
            )
        else:
            keys = ({k: self.evaluate(v) for k, v in node.key.items()},)
            values = ({k: self.evaluate(v) for k, v in node.values.items()},)
        wait_id = self.new_id("w")
        self.wait(token, node.id, wait_id, {"kind": "table"})
        self.emit(
            TableOperation(
                request_id=wait_id,
                node=node.id,
                table=node.table,
                op=node.op,
                keys=keys,
                values=values,
                each=node.each is not None,
            )
        )
