"""Effects: what a step asks the app to carry out.

Synchronous effects (stage, tasks, timers, table operations) are applied by the
app in the step's own transaction; asynchronous ones (http, notifications,
subworkflows) leave through the outbox. ``to_dict`` gives their JSON form.

Dicts inside effects (``data``, ``request``) are shared with the new state and
must not be mutated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class _Effect:
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out


@dataclass(frozen=True, slots=True)
class CreateTask(_Effect):
    """Put a task in someone's inbox.

    Attributes:
        assignee: the node's assignee spec as JSON, unresolved (the app resolves roles and policies).
        users: users already decided by the engine (an expression's result, or retain familiar).
        exclude: users who may not take it (four eyes).
        fallback: the assignee spec to use when ``users`` are inactive or away.
    """

    kind: ClassVar[str] = "create_task"
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


@dataclass(frozen=True, slots=True)
class CancelTask(_Effect):
    kind: ClassVar[str] = "cancel_task"
    task_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ScheduleTimer(_Effect):
    """Fire ``FireTimer(timer_id)`` at ``at``.

    ``purpose``: ``timer`` (a timer node), ``boundary`` (a timeout edge),
    ``sla_due``, ``sla_remind``, ``sla_escalate`` or ``retry``.
    """

    kind: ClassVar[str] = "schedule_timer"
    timer_id: str
    at: datetime
    purpose: str
    node: str
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class CancelTimer(_Effect):
    kind: ClassVar[str] = "cancel_timer"
    timer_id: str


@dataclass(frozen=True, slots=True)
class SendNotification(_Effect):
    """Send an email, SMS, inbox message or outgoing webhook; the app renders the templates
    (``to``, ``subject``, ``body``) against ``data``."""

    kind: ClassVar[str] = "send_notification"
    notification_id: str
    node: str
    channel: str
    to: str
    subject: str | None
    body: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallHttp(_Effect):
    """Call another system; the answer comes back as ``HttpResult`` or ``HttpFailed``."""

    kind: ClassVar[str] = "call_http"
    request_id: str
    node: str
    request: dict[str, Any]
    data: dict[str, Any]
    attempts: int
    backoff: str
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class TableOperation(_Effect):
    """Read or change data-table rows in the step's transaction; answered by ``TableResult``.

    With ``each`` set on the node, ``keys`` and ``values`` hold one entry per item.
    """

    kind: ClassVar[str] = "table_operation"
    request_id: str
    node: str
    table: str
    op: str
    keys: tuple[dict[str, Any], ...]
    values: tuple[dict[str, Any], ...]
    each: bool = False


@dataclass(frozen=True, slots=True)
class StartSubworkflow(_Effect):
    kind: ClassVar[str] = "start_subworkflow"
    request_id: str
    node: str
    workflow: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WaitForMessage(_Effect):
    """The instance now waits for ``message`` with this correlation value."""

    kind: ClassVar[str] = "wait_for_message"
    wait_id: str
    node: str
    message: str
    correlation: Any
    keep_early: str | None = None


@dataclass(frozen=True, slots=True)
class CancelWait(_Effect):
    """A wait for a message, http answer, table result or child instance is over unanswered."""

    kind: ClassVar[str] = "cancel_wait"
    wait_id: str


@dataclass(frozen=True, slots=True)
class SetStage(_Effect):
    kind: ClassVar[str] = "set_stage"
    stage: str
    node: str


@dataclass(frozen=True, slots=True)
class SlaEvent(_Effect):
    """A task's SLA moment: ``remind`` (before due), ``due`` (now overdue) or ``escalate``.

    For ``escalate``: ``action`` is notify, reassign or priority; ``to`` the assignee spec.
    """

    kind: ClassVar[str] = "sla_event"
    task_id: str
    event: str
    level: int = 0
    action: str | None = None
    to: dict[str, Any] | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class RaiseIncident(_Effect):
    """Something needs a person: a bad expression, a failed call with no error path."""

    kind: ClassVar[str] = "raise_incident"
    incident_id: str
    node: str
    code: str
    message: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResolveIncident(_Effect):
    kind: ClassVar[str] = "resolve_incident"
    incident_id: str


@dataclass(frozen=True, slots=True)
class InstanceFinished(_Effect):
    kind: ClassVar[str] = "instance_finished"
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
