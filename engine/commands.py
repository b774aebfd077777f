"""Commands: what the app asks the engine to do with one instance.

Each command is a dataclass; ``now`` travels beside it into ``step``, which never
changes it. Data carried by a command is plain JSON (dicts, lists, strings, numbers).
They are not frozen so that the ones sent at every step can have a hand-written
``__init__`` of plain assignments, which the compiled engine (``engine._native``) turns
into direct slot writes; see ``engine.effects``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(slots=True)
class Start:
    """Start a new instance with its initial data."""

    data: dict[str, Any] = field(default_factory=dict)
    by: str | None = None

    def __init__(self, data: dict[str, Any] | None = None, by: str | None = None) -> None:
        self.data = {} if data is None else data
        self.by = by


@dataclass(slots=True)
class CompleteTask:
    """Someone completed an open task with a form's data (and, for an approval, an outcome)."""

    task_id: str
    data: dict[str, Any] = field(default_factory=dict)
    by: str | None = None
    outcome: str | None = None

    def __init__(
        self,
        task_id: str,
        data: dict[str, Any] | None = None,
        by: str | None = None,
        outcome: str | None = None,
    ) -> None:
        self.task_id = task_id
        self.data = {} if data is None else data
        self.by = by
        self.outcome = outcome


@dataclass(slots=True)
class AssignTask:
    """The app resolved, claimed, delegated or reassigned a task: ``user`` now holds it."""

    task_id: str
    user: str | None


@dataclass(slots=True)
class FireTimer:
    """A timer the engine scheduled has come due."""

    timer_id: str

    def __init__(self, timer_id: str) -> None:
        self.timer_id = timer_id


@dataclass(slots=True)
class ReceiveMessage:
    """A message for a ``receive`` node; ``correlation`` must match when given."""

    message: str
    data: dict[str, Any] = field(default_factory=dict)
    correlation: Any = None

    def __init__(
        self, message: str, data: dict[str, Any] | None = None, correlation: Any = None
    ) -> None:
        self.message = message
        self.data = {} if data is None else data
        self.correlation = correlation


@dataclass(slots=True)
class HttpResult:
    """The answer to a ``CallHttp`` effect."""

    request_id: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def __init__(
        self,
        request_id: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.request_id = request_id
        self.status = status
        self.body = body
        self.headers = {} if headers is None else headers


@dataclass(slots=True)
class HttpFailed:
    """A ``CallHttp`` that failed after all its retries."""

    request_id: str
    error: str
    status: int | None = None


@dataclass(slots=True)
class TableResult:
    """The outcome of a ``TableOperation`` effect."""

    request_id: str
    result: Any = None
    error: str | None = None

    def __init__(self, request_id: str, result: Any = None, error: str | None = None) -> None:
        self.request_id = request_id
        self.result = result
        self.error = error


@dataclass(slots=True)
class SubworkflowFinished:
    """A child instance started by ``StartSubworkflow`` has ended (``failed``: it could not
    be started, or the app gave up on it)."""

    request_id: str
    outcome: Literal["completed", "cancelled", "rejected", "failed"] = "completed"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Cancel:
    """Cancel the whole instance."""

    reason: str = ""
    by: str | None = None


@dataclass(slots=True)
class UpdateData:
    """An admin's correction of the instance data (merged at the top level)."""

    data: dict[str, Any]
    by: str | None = None


@dataclass(slots=True)
class RetryIncident:
    """Run the node that raised an incident again (after its cause was fixed)."""

    incident_id: str
    by: str | None = None


@dataclass(slots=True)
class SkipIncident:
    """Go on past the node that raised an incident, as if it had done its work (its result
    stays unset): for a call whose effect was made by hand."""

    incident_id: str
    by: str | None = None


Command = (
    Start
    | CompleteTask
    | AssignTask
    | FireTimer
    | ReceiveMessage
    | HttpResult
    | HttpFailed
    | TableResult
    | SubworkflowFinished
    | Cancel
    | UpdateData
    | RetryIncident
    | SkipIncident
)
