"""Effects: what a step asks the app to carry out.

Synchronous effects (stage, tasks, timers, table operations) are applied by the
app in the step's own transaction; asynchronous ones (http, notifications,
subworkflows) leave through the outbox. ``to_dict`` gives their JSON form.

Effects are read-only by contract, not enforced: the app reads them and never changes
them, and the dicts inside (``data``, ``request``) are shared with the new state. They
are plain (not frozen) dataclasses so that the effects a step emits most often can have
a hand-written ``__init__`` of plain assignments, which the compiled engine
(``engine._native``) turns into direct slot writes: some 30 effects are built per order
instance, and a frozen dataclass sets each field through ``object.__setattr__``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, get_args


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class _Effect:
    __slots__ = ()

    @property
    def kind(self) -> str:
        """The effect's name in its JSON form and in the outbox (``create_task``)."""
        return _KINDS[type(self)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out


@dataclass(slots=True)
class CreateTask(_Effect):
    """Put a task in someone's inbox.

    Attributes:
        assignee: the node's assignee spec as JSON, unresolved (the app resolves roles and policies).
        users: users already decided by the engine (an expression's result, or retain familiar).
        exclude: users who may not take it (four eyes).
        fallback: the assignee spec to use when ``users`` are inactive or away.
        notify: the node's notices (``TaskNotice`` as JSON), for each person it is given to.
    """

    task_id: str
    node: str
    name: str
    assignee: dict[str, Any]
    users: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    fallback: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    instructions: str | None = None
    due: datetime | None = None
    priority: int = 0
    approval: str | None = None
    outcomes: tuple[str, ...] = ()
    notify: tuple[dict[str, Any], ...] = ()

    def __init__(
        self,
        task_id: str,
        node: str,
        name: str,
        assignee: dict[str, Any],
        users: tuple[str, ...] = (),
        exclude: tuple[str, ...] = (),
        fallback: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        instructions: str | None = None,
        due: datetime | None = None,
        priority: int = 0,
        approval: str | None = None,
        outcomes: tuple[str, ...] = (),
        notify: tuple[dict[str, Any], ...] = (),
    ) -> None:
        self.task_id = task_id
        self.node = node
        self.name = name
        self.assignee = assignee
        self.users = users
        self.exclude = exclude
        self.fallback = fallback
        self.form = form
        self.instructions = instructions
        self.due = due
        self.priority = priority
        self.approval = approval
        self.outcomes = outcomes
        self.notify = notify


@dataclass(slots=True)
class CancelTask(_Effect):
    task_id: str
    reason: str


@dataclass(slots=True)
class ScheduleTimer(_Effect):
    """Fire ``FireTimer(timer_id)`` at ``at``.

    ``purpose``: ``timer`` (a timer node), ``boundary`` (a timeout edge),
    ``sla_due``, ``sla_remind``, ``sla_escalate`` or ``retry``.
    """

    timer_id: str
    at: datetime
    purpose: str
    node: str
    task_id: str | None = None

    def __init__(
        self, timer_id: str, at: datetime, purpose: str, node: str, task_id: str | None = None
    ) -> None:
        self.timer_id = timer_id
        self.at = at
        self.purpose = purpose
        self.node = node
        self.task_id = task_id


@dataclass(slots=True)
class CancelTimer(_Effect):
    timer_id: str

    def __init__(self, timer_id: str) -> None:
        self.timer_id = timer_id


@dataclass(slots=True)
class SendNotification(_Effect):
    """Send an email, SMS, inbox message or outgoing webhook; the app renders the templates
    (``to``, ``subject``, ``body``) against ``data``."""

    notification_id: str
    node: str
    channel: str
    to: str
    subject: str | None
    body: str
    data: dict[str, Any]

    def __init__(
        self,
        notification_id: str,
        node: str,
        channel: str,
        to: str,
        subject: str | None,
        body: str,
        data: dict[str, Any],
    ) -> None:
        self.notification_id = notification_id
        self.node = node
        self.channel = channel
        self.to = to
        self.subject = subject
        self.body = body
        self.data = data


@dataclass(slots=True)
class CallHttp(_Effect):
    """Call another system; the answer comes back as ``HttpResult`` or ``HttpFailed``."""

    request_id: str
    node: str
    request: dict[str, Any]
    data: dict[str, Any]
    attempts: int
    backoff: str
    secret: str | None = None

    def __init__(
        self,
        request_id: str,
        node: str,
        request: dict[str, Any],
        data: dict[str, Any],
        attempts: int,
        backoff: str,
        secret: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.node = node
        self.request = request
        self.data = data
        self.attempts = attempts
        self.backoff = backoff
        self.secret = secret


@dataclass(slots=True)
class TableOperation(_Effect):
    """Read or change data-table rows in the step's transaction; answered by ``TableResult``.

    With ``each`` set on the node, ``keys`` and ``values`` hold one entry per item.
    """

    request_id: str
    node: str
    table: str
    op: str
    keys: tuple[dict[str, Any], ...]
    values: tuple[dict[str, Any], ...]
    each: bool = False


@dataclass(slots=True)
class StartSubworkflow(_Effect):
    request_id: str
    node: str
    workflow: str
    input: dict[str, Any]


@dataclass(slots=True)
class WaitForMessage(_Effect):
    """The instance now waits for ``message`` with this correlation value."""

    wait_id: str
    node: str
    message: str
    correlation: Any
    keep_early: str | None = None


@dataclass(slots=True)
class CancelWait(_Effect):
    """A wait for a message, http answer, table result or child instance is over unanswered."""

    wait_id: str


@dataclass(slots=True)
class SetStage(_Effect):
    stage: str
    node: str

    def __init__(self, stage: str, node: str) -> None:
        self.stage = stage
        self.node = node


@dataclass(slots=True)
class SlaEvent(_Effect):
    """A task's SLA moment: ``remind`` (before due), ``due`` (now overdue) or ``escalate``.

    For ``escalate``: ``action`` is notify, reassign or priority; ``to`` the assignee spec.
    """

    task_id: str
    event: str
    level: int = 0
    action: str | None = None
    to: dict[str, Any] | None = None
    priority: int | None = None


@dataclass(slots=True)
class RaiseIncident(_Effect):
    """Something needs a person: a bad expression, a failed call with no error path."""

    incident_id: str
    node: str
    code: str
    message: str
    details: dict[str, Any]


@dataclass(slots=True)
class ResolveIncident(_Effect):
    incident_id: str


@dataclass(slots=True)
class InstanceFinished(_Effect):
    outcome: str


Effect = (
    CreateTask
    | CancelTask
    | ScheduleTimer
    | CancelTimer
    | SendNotification
    | CallHttp
    | TableOperation
    | StartSubworkflow
    | WaitForMessage
    | CancelWait
    | SetStage
    | SlaEvent
    | RaiseIncident
    | ResolveIncident
    | InstanceFinished
)


_KINDS: dict[type, str] = {
    cls: "".join("_" + c.lower() if c.isupper() else c for c in cls.__name__).lstrip("_")
    for cls in get_args(Effect)
}
"""Each effect's ``kind``: its class name in snake case (``CreateTask``: ``create_task``)."""
