"""Bulk history for reports and benchmarks: finished order-management instances with their
tasks and audit events, written with Core ``insert()`` executemany in chunks.

The rows look like the service's own. Each instance follows one of a handful of paths through
the published order template (card, large order reviewed, invoice captured by hand, out of
stock then restocked, payment failed, ...). The engine runs each path once as a skeleton test
run (``designer.simulate``); every generated instance is that skeleton's state re-timed:
tasks take a sampled amount of *working* time on the business calendar (who did it and the
warehouse change the pace), parcels a few days to arrive, and SLA due times are computed as
the engine computes them, so some tasks come in late. Stage changes, task creations and
completions, starts and ends are written to the audit log as the runner writes them.

The rows are written by ``app.services.history.insert_history``.

Rejected: starting every instance through ``runner.start_instance`` and completing its tasks
(about 30 instances a second, an hour for 100,000), and a simulation per instance (the state
would be right, but the tasks' times and people would all be the simulator's).
"""

from __future__ import annotations

import json
import random
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import exp
from typing import Any

from sqlalchemy import Connection, Engine, select

from app.db.models import Membership, User
from app.services.history import CHUNK, HistoryInstance, HistoryTask, analyze, insert_history
from designer import Scenario, load_template, sample_for, simulate
from engine import Definition
from engine.calendar import DEFAULT_CALENDARS, BusinessCalendar, Duration, parse_duration
from engine.model import ApprovalNode, UserTaskNode

ORDER_KEY = "order-management"


@dataclass(frozen=True)
class _Path:
    """A way through the order template, and how often orders take it (per mille)."""

    name: str
    weight: int
    large: bool = False
    method: str = "card"
    scenario: Scenario = field(default_factory=Scenario)


class _RestockedLater(dict[str, Any]):
    """The stock table's answers: short the first time, reserved once the restock came."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.asked += 1
        return {"ok": self.asked > 1}


MINUTE = timedelta(minutes=1)


def _paths() -> list[_Path]:
    def scenario(**kwargs: Any) -> Scenario:
        return Scenario(think=MINUTE, **kwargs)

    return [
        _Path("card", 700, scenario=scenario()),
        _Path("large_reviewed", 80, large=True, scenario=scenario()),
        _Path("invoice", 90, method="invoice", scenario=scenario()),
        _Path("manual_label", 30, scenario=scenario(http_fail={"label"})),
        _Path("restocked", 40, scenario=scenario(tables=_RestockedLater())),
        _Path("payment_failed", 25, scenario=scenario(http_fail={"capture"})),
        _Path(
            "transfer_not_received",
            10,
            method="bank_transfer",
            scenario=scenario(tasks={"capture_manually": {"captured": False}}),
        ),
        _Path("review_rejected", 15, large=True, scenario=scenario(outcomes={"review": "reject"})),
        _Path(
            "out_of_stock_cancelled",
            10,
            scenario=scenario(tables={"reserve_stock": {"ok": False}}, messages=False),
        ),
    ]


HELD = {
    "review": (True, "card"),
    "capture_manually": (False, "invoice"),
    "pick": (False, "card"),
    "pack": (False, "card"),
    "hand_over": (False, "card"),
}
"""Where running instances wait (node -> large order?, payment method), for open work."""

_TOKEN = re.compile(r'"@([A-Z]+)([^"@]*)@"')
SKELETON_START = datetime(2026, 3, 2, 9, tzinfo=UTC)
"""A Monday morning: skeleton tasks are created and done within working hours."""


@dataclass
class _SkeletonTask:
    engine_id: str
    node: str
    created: int
    """Index of the event that created it (0: the start)."""
    completed: int | None
    outcome: str | None


@dataclass
class _Skeleton:
    path: _Path
    template: str
    """The state as JSON, its times, people and data replaced by ``@…@`` tokens."""
    events: list[tuple[str, str]]
    """Per event after the start: ("task", node), ("message", receive node) or ("timer", s)."""
    tasks: list[_SkeletonTask]
    stages: list[tuple[str, str, int]]
    status: str
    held: str | None = None


def _skeleton(definition: Definition, path: _Path, hold: str | None = None) -> _Skeleton:
    data = {
        "order_id": "SKELETON",
        "customer": {"name": "S", "email": "s@example.com", "phone": "+49"},
        "items": [{"sku": "MUG-01", "quantity": 1, "price": 10}],
        "total": 5000 if path.large else 10,
        "payment": {"method": path.method},
    }
    scenario = path.scenario
    if isinstance(scenario.tables, _RestockedLater):
        scenario = Scenario(**{**scenario.__dict__, "tables": _RestockedLater()})
    if hold is not None:
        scenario = Scenario(**{**scenario.__dict__, "hold": {hold}})
        whole = simulate(definition, data, start=SKELETON_START, scenario=scenario)
        created = next(
            n for n, (_, _, effects) in enumerate(whole.steps) if _creates(effects, hold)
        )
        if isinstance(scenario.tables, _RestockedLater):
            scenario = Scenario(**{**scenario.__dict__, "tables": _RestockedLater()})
        run = simulate(
            definition, data, start=SKELETON_START, scenario=scenario, max_steps=created + 1
        )
    else:
        run = simulate(definition, data, start=SKELETON_START, scenario=scenario)
    state = run.state
    times = sorted({at for at, _, _ in run.steps})
    index = {t.isoformat(): k for k, t in enumerate(times)}
    receives = {n.id for n in definition.nodes if n.type == "receive"}
    edges = {e.id: e.from_ for e in definition.edges}
    events: list[tuple[str, str]] = []
    for k, moment in enumerate(times[1:], 1):
        iso = moment.isoformat()
        done = [t["node"] for t in state["tasks"].values() if t.get("completed_at") == iso]
        entered = [p for p in state["path"] if p["at"] == iso and p["edge"]]
        came_from = [edges[p["edge"]] for p in entered if edges.get(p["edge"]) in receives]
        if done:
            events.append(("task", done[0]))
        elif came_from:
            events.append(("message", came_from[0]))
        else:
            events.append(("timer", str((moment - times[k - 1]).total_seconds())))
    tasks = [
        _SkeletonTask(
            engine_id=tid,
            node=t["node"],
            created=index[t["created_at"]],
            completed=index[t["completed_at"]] if t.get("completed_at") else None,
            outcome=t.get("outcome"),
        )
        for tid, t in state["tasks"].items()
        if t["status"] != "cancelled"
    ]
    stages = [(s["stage"], s["node"], index[s["at"]]) for s in state["stages"]]
    return _Skeleton(
        path=path,
        template=json.dumps(_tokens(state, times)),
        events=events,
        tasks=tasks,
        stages=stages,
        status=state["status"],
        held=hold,
    )


def _creates(effects: Iterable[Any], node: str) -> bool:
    return any(getattr(e, "kind", "") == "create_task" and e.node == node for e in effects)


def _tokens(state: dict[str, Any], times: list[datetime]) -> Any:
    """The state with ``@T<event>+<seconds>@`` for times, ``@D<task>@`` for due times,
    ``@U<task>@`` for whoever did a task, ``@S@`` for the starter, and ``ORDER_SLOT`` where
    the order's own data goes."""
    moments = [(t, t.isoformat()) for t in times]

    def walk(value: Any, key: str = "", task: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k, task) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key, task) for v in value]
        if not isinstance(value, str):
            return value
        if value.startswith("sim-task"):
            return f"@U{value[4:]}@"
        if value == "simulator":
            return "@S@"
        if key == "due" and task:
            return f"@D{task}@"
        if len(value) == 25 and value[10:11] == "T" and value.endswith("+00:00"):
            at = datetime.fromisoformat(value)
            k = max(n for n, (t, _) in enumerate(moments) if t <= at or n == 0)
            return f"@T{k}+{int((at - moments[k][0]).total_seconds())}@"
        return value

    out = {k: walk(v, k) for k, v in state.items() if k not in ("data", "tasks")}
    out["tasks"] = {tid: walk(t, "", tid) for tid, t in state["tasks"].items()}
    extra = {k: v for k, v in state["data"].items() if k not in _ORDER_FIELDS}
    out["data"] = {ORDER_SLOT: 0, **walk(extra, "data")}
    return out


ORDER_SLOT = "@ORDER@"
"""The first key of the skeleton's data: replaced by the generated order's fields."""


_ORDER_FIELDS = frozenset({"order_id", "customer", "items", "total", "payment", "currency"})

# Working minutes a task takes (median) and the spread (sigma of the log).
PACE: dict[str, tuple[float, float]] = {
    "review": (60, 0.7),
    "capture_manually": (480, 0.8),
    "pick": (120, 0.6),
    "pack": (50, 0.6),
    "label_manually": (60, 0.5),
    "hand_over": (200, 0.7),
    "chase_carrier": (120, 0.5),
}
WAREHOUSES = (("Berlin", 55, 1.0), ("Leipzig", 30, 1.35), ("Hamburg", 15, 0.9))
"""Name, share of orders (percent), and how long picking and packing take there."""
CUSTOMERS = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov")
SKUS = (("MUG-01", 12.5), ("TEE-M", 19.0), ("TEE-L", 19.0), ("CAP-01", 15.0), ("BAG-01", 9.5))


class _Generator:
    def __init__(
        self,
        definition: Definition,
        version: int,
        people: Mapping[str, list[str]],
        rng: random.Random,
        calendar: BusinessCalendar,
    ) -> None:
        self.definition = definition
        self.version = version
        self.people = people
        self.rng = rng
        self.calendar = calendar
        self.nodes: dict[str, UserTaskNode | ApprovalNode] = {
            n.id: n for n in definition.nodes if isinstance(n, UserTaskNode | ApprovalNode)
        }
        self.paths = _paths()
        self.skeletons = [_skeleton(definition, p) for p in self.paths]
        self.weights = [p.weight for p in self.paths]
        self.held = [
            _skeleton(definition, _Path(f"held_{node}", 1, large, method), hold=node)
            for node, (large, method) in HELD.items()
        ]
        self.pace = {
            user: 0.7 + (sum(map(ord, user)) % 9) / 10
            for names in people.values()
            for user in names
        }
        self.samples: dict[str, dict[str, Any]] = {}
        self.due: dict[str, Duration] = {}
        for node in self.nodes.values():
            if node.sla is not None:
                self.due[node.id] = parse_duration(node.sla.due)

    def instance(self, n: int, start: datetime, skeleton: _Skeleton) -> HistoryInstance:
        rng = self.rng
        warehouse, _, slow = rng.choices(WAREHOUSES, weights=[w[1] for w in WAREHOUSES])[0]
        people: dict[int, str] = {}
        when = [start]
        for k, (kind, what) in enumerate(skeleton.events, 1):
            if kind == "task":
                who = self._person(what, people, skeleton)
                people[k] = who
                factor = self.pace.get(who, 1.0) * (slow if what in ("pick", "pack") else 1.0)
                median, sigma = PACE.get(what, (60, 0.5))
                minutes = max(1.0, median * factor * exp(rng.gauss(0, sigma)))
                when.append(self.calendar.add(when[k - 1], Duration(seconds=minutes * 60)))
            elif kind == "message":
                days = (
                    2 * exp(rng.gauss(0, 0.4))
                    if what == "await_delivery"
                    else 3 * exp(rng.gauss(0, 0.5))
                )
                when.append(when[k - 1] + timedelta(days=min(days, 6.5)))
            else:
                when.append(when[k - 1] + timedelta(seconds=float(what)))
        data = self._order(n, skeleton.path, warehouse)
        token = secrets.token_urlsafe(24)
        data["tracking_url"] = f"/track/{token}"
        tasks: list[HistoryTask] = []
        picker: str | None = None
        for t in skeleton.tasks:
            node = self.nodes[t.node]
            created = when[t.created]
            done = when[t.completed] if t.completed is not None else None
            done_by = people.get(t.completed) if t.completed is not None else None
            role = _role(node)
            assignee = done_by
            if done is None and t.node == "pick":
                assignee = self._person("pick", people, skeleton)  # least loaded: assigned at once
            due = self.calendar.add(created, self.due[t.node]) if t.node in self.due else None
            tasks.append(
                HistoryTask(
                    node=t.node,
                    name=node.name,
                    created_at=created,
                    completed_at=done,
                    completed_by=done_by,
                    assignee=assignee,
                    role=role,
                    due_at=due,
                    outcome=t.outcome,
                    result=self._sample(t.node) if node.form and done else None,
                    form=node.form,
                    outcomes=list(node.outcomes) if isinstance(node, ApprovalNode) else [],
                    instructions=node.instructions,
                    excluded=[picker] if t.node == "pack" and picker else [],
                    engine_id=t.engine_id,
                )
            )
            if t.node == "pick":
                picker = assignee
        finished = when[-1] if skeleton.held is None else None
        state = self._state(skeleton, when, tasks, data)
        return HistoryInstance(
            workflow_key=ORDER_KEY,
            version=self.version,
            started_at=start,
            status=skeleton.status,
            finished_at=finished,
            data=data,
            stages=[(s, node, when[k]) for s, node, k in skeleton.stages],
            tasks=tasks,
            started_by=f"webhook:{ORDER_KEY}",
            state=state,
            tracking_token=token,
        )

    def _sample(self, node: str) -> dict[str, Any]:
        """What the task's form was filled with (one object per step: serialised once)."""
        found = self.samples.get(node)
        if found is None:
            found = self.samples[node] = sample_for(self.nodes[node].form)
        return found

    def _person(self, node: str, done: Mapping[int, str], skeleton: _Skeleton) -> str:
        members = self.people.get(_role(self.nodes[node]) or "") or ["admin"]
        if node == "pack":  # four eyes: not whoever picked
            picked = {who for k, who in done.items() if skeleton.events[k - 1] == ("task", "pick")}
            members = [m for m in members if m not in picked] or members
        return self.rng.choice(members)

    def _order(self, n: int, path: _Path, warehouse: str) -> dict[str, Any]:
        rng = self.rng
        lines = [rng.choice(SKUS) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
        quantities = [rng.randint(1, 4) for _ in lines]
        items = [
            {"sku": sku, "quantity": q, "price": price}
            for (sku, price), q in zip(lines, quantities, strict=True)
        ]
        total = round(sum(q * price for (_, price), q in zip(lines, quantities, strict=True)), 2)
        if path.large:
            total = round(1000 + rng.random() * 4000, 2)
        name = rng.choice(CUSTOMERS)
        return {
            "order_id": f"H-{n:07d}",
            "customer": {
                "name": name,
                "email": f"{name.split()[0].lower()}@example.com",
                "phone": "+4915100000",
            },
            "items": items,
            "total": total,
            "currency": "EUR",
            "payment": {"method": path.method, "reference": f"pi_{n}"},
            "warehouse": warehouse,
        }

    def _state(
        self,
        skeleton: _Skeleton,
        when: list[datetime],
        tasks: list[HistoryTask],
        data: dict[str, Any],
    ) -> str:
        """The skeleton's state as JSON, re-timed and with this order's people and data."""
        by_engine = {t.engine_id: t for t in tasks}
        filled: dict[str, str] = {}

        def fill(match: re.Match[str]) -> str:
            token = match.group(0)
            found = filled.get(token)
            if found is None:
                found = filled[token] = _fill(match.group(1), match.group(2))
            return found

        def _fill(kind: str, arg: str) -> str:
            if kind == "T":
                k, _, seconds = arg.partition("+")
                return json.dumps((when[int(k)] + timedelta(seconds=int(seconds))).isoformat())
            if kind == "D":
                due = by_engine[arg].due_at if arg in by_engine else None
                return json.dumps(due.isoformat() if due else None)
            if kind == "U":
                task = by_engine.get(arg)
                return json.dumps(task.completed_by if task else None)
            if kind == "S":
                return json.dumps(f"webhook:{ORDER_KEY}")
            return f'"@{kind}{arg}@"'  # the order slot, filled below

        text = _TOKEN.sub(fill, skeleton.template)
        return text.replace(f'"{ORDER_SLOT}": 0', json.dumps(data)[1:-1], 1)


def _role(node: UserTaskNode | ApprovalNode) -> str | None:
    """The role a task step offers its tasks to (an approval: its first approvers')."""
    spec = node.assignee if isinstance(node, UserTaskNode) else node.approvers[0]
    return spec.role


def people_by_role(connection: Connection) -> dict[str, list[str]]:
    """Active users per role, from the database (the demo people after a first start)."""
    found: dict[str, list[str]] = {}
    rows = connection.execute(
        select(Membership.role, User.username)
        .join(User, User.id == Membership.user_id)
        .where(User.is_active.is_(True))
        .order_by(User.username)
    )
    for role, username in rows:
        found.setdefault(role, []).append(username)
    return found


@dataclass
class SeedSummary:
    finished: int
    running: int
    first: datetime | None
    last: datetime | None


def order_history(
    *,
    finished: int,
    running: int = 0,
    days: int = 365,
    now: datetime,
    people: Mapping[str, list[str]],
    version: int = 1,
    seed: int = 1,
    definition: Definition | None = None,
) -> Iterator[HistoryInstance]:
    """Generated order instances: ``finished`` ones started over the ``days`` before ``now``
    (each moved back, if need be, to have finished by ``now``), then ``running`` ones started
    in the last three days and waiting at a task."""
    rng = random.Random(seed)  # noqa: S311 -- demo data, reproducible by seed
    generator = _Generator(
        definition or load_template(ORDER_KEY),
        version,
        people,
        rng,
        DEFAULT_CALENDARS["business"] or BusinessCalendar(),
    )
    span = timedelta(days=days).total_seconds()
    for n in range(finished):
        skeleton = rng.choices(generator.skeletons, weights=generator.weights)[0]
        start = now - timedelta(seconds=span * rng.random())
        yield _by(now, generator, n + 1, start, skeleton)
    for n in range(running):
        skeleton = generator.held[n % len(generator.held)]
        start = now - timedelta(hours=72 * rng.random())
        yield _by(now, generator, finished + n + 1, start, skeleton)


def _by(
    now: datetime, generator: _Generator, n: int, start: datetime, skeleton: _Skeleton
) -> HistoryInstance:
    """An instance started at ``start``, or earlier if it would otherwise end after ``now``."""
    made = generator.instance(n, start, skeleton)
    while made.last_moment > now:
        start -= made.last_moment - now + MINUTE
        made = generator.instance(n, start, skeleton)
    return made


def seed_history(
    engine: Engine,
    *,
    finished: int,
    running: int = 0,
    days: int = 365,
    now: datetime,
    seed: int = 1,
    chunk: int = CHUNK,
) -> SeedSummary:
    """Bulk-insert generated order history into a migrated database where the order template
    is published (the first start's seed does that)."""
    from app.db.models import Workflow

    with engine.connect() as connection:
        version = connection.scalar(
            select(Workflow.published_version).where(Workflow.key == ORDER_KEY)
        )
        people = people_by_role(connection)
    if version is None:
        raise LookupError(f"the workflow {ORDER_KEY!r} is not published in this database")
    first: datetime | None = None
    last: datetime | None = None

    def tracked() -> Iterator[HistoryInstance]:
        nonlocal first, last
        for made in order_history(
            finished=finished,
            running=running,
            days=days,
            now=now,
            people=people,
            version=version,
            seed=seed,
        ):
            first = made.started_at if first is None else min(first, made.started_at)
            last = made.started_at if last is None else max(last, made.started_at)
            yield made

    insert_history(engine, tracked(), chunk=chunk)
    analyze(engine)
    return SeedSummary(finished=finished, running=running, first=first, last=last)
