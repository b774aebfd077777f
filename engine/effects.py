"""Effects: what a step asks the app to carry out.

Synchronous effects (stage, tasks, timers, table operations) are applied by the
app in the step's own transaction; asynchronous ones (http, notifications,
subworkflows) leave through the outbox. ``to_dict`` gives their JSON form.

Dicts inside effects (``data``, ``request``) are shared with the new state and
must not be mutated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, TypeVar


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class _Effect:
    kind: ClassVar[str]
    _setters: ClassVar[tuple[Callable[[Any, Any], None], ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out


_E = TypeVar("_E", bound=type[_Effect])


def _fast_init(cls: _E) -> _E:
    """Give a frozen effect's hand-written ``__init__`` its fields' slot setters.

    The ``__init__`` a frozen dataclass generates sets each field through
    ``object.__setattr__``; calling the slot's own setter instead builds an effect in
    about half the time. The engine builds some 35 effects an instance, so the effects
    it emits most often have such an ``__init__``; assignment from outside still raises.
    """
    cls._setters = tuple(cls.__dict__[f.name].__set__ for f in fields(cls))  # type: ignore[arg-type]
    return cls


@_fast_init
@dataclass(frozen=True, slots=True)
class CreateTask(_Effect):
    """Put a task in someone's inbox.

    Attributes:
        assignee: the node's assignee spec as JSON, unresolved (the app resolves roles and policies).
        users: users already decided by the engine (an expression's result, or retain familiar).
        exclude: users who may not take it (four eyes).
        fallback: the assignee spec to use when ``users`` are inactive or away.
        notify: the node's notices (``TaskNotice`` as JSON), for each person it is given to.
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
        (
            set_task_id,
            set_node,
            set_name,
            set_assignee,
            set_users,
            set_exclude,
            set_fallback,
            set_form,
            set_instructions,
            set_due,
            set_priority,
            set_approval,
            set_outcomes,
            set_notify,
        ) = self._setters
        set_task_id(self, task_id)
        set_node(self, node)
        set_name(self, name)
        set_assignee(self, assignee)
        set_users(self, users)
        set_exclude(self, exclude)
        set_fallback(self, fallback)
        set_form(self, form)
        set_instructions(self, instructions)
        set_due(self, due)
        set_priority(self, priority)
        set_approval(self, approval)
        set_outcomes(self, outcomes)
        set_notify(self, notify)


@dataclass(frozen=True, slots=True)
class CancelTask(_Effect):
    kind: ClassVar[str] = "cancel_task"
    task_id: str
    reason: str


@_fast_init
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

    def __init__(
        self, timer_id: str, at: datetime, purpose: str, node: str, task_id: str | None = None
    ) -> None:
        set_timer_id, set_at, set_purpose, set_node, set_task_id = self._setters
        set_timer_id(self, timer_id)
        set_at(self, at)
        set_purpose(self, purpose)
        set_node(self, node)
        set_task_id(self, task_id)


@_fast_init
@dataclass(frozen=True, slots=True)
class CancelTimer(_Effect):
    kind: ClassVar[str] = "cancel_timer"
    timer_id: str

    def __init__(self, timer_id: str) -> None:
        (set_timer_id,) = self._setters
        set_timer_id(self, timer_id)


@_fast_init
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
        (
            set_notification_id,
            set_node,
            set_channel,
            set_to,
            set_subject,
            set_body,
            set_data,
        ) = self._setters
        set_notification_id(self, notification_id)
        set_node(self, node)
        set_channel(self, channel)
        set_to(self, to)
        set_subject(self, subject)
        set_body(self, body)
        set_data(self, data)


@_fast_init
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
        (
            set_request_id,
            set_node,
            set_request,
            set_data,
            set_attempts,
            set_backoff,
            set_secret,
        ) = self._setters
        set_request_id(self, request_id)
        set_node(self, node)
        set_request(self, request)
        set_data(self, data)
        set_attempts(self, attempts)
        set_backoff(self, backoff)
        set_secret(self, secret)


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


@_fast_init
@dataclass(frozen=True, slots=True)
class SetStage(_Effect):
    kind: ClassVar[str] = "set_stage"
    stage: str
    node: str

    def __init__(self, stage: str, node: str) -> None:
        set_stage, set_node = self._setters
        set_stage(self, stage)
        set_node(self, node)


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
