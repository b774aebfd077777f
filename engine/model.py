"""The workflow format: a pydantic model of the JSON a designer saves.

A definition is parsed once and is immutable afterwards (``frozen``); runtime
state refers to its nodes by id only. Unknown fields are refused, so that a
typo in a setting is reported rather than silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

FORMAT_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- assignment ---------------------------------------------------------------------------


class Assignee(_Strict):
    """Who a task is for. Exactly one of the ways must be set.

    Attributes:
        user: a user name.
        role: a role whose members form a pool (claim to take).
        expr: an expression over the instance data yielding a user name or a list of them.
        same_as: the id of an earlier step; the task goes to whoever completed it.
        not_same_as: the id of an earlier step; its completer may not take this task.
        policy: how a role pool is assigned: ``claim``, ``round_robin`` or ``least_loaded``.
    """

    user: str | None = None
    role: str | None = None
    expr: str | None = None
    same_as: str | None = None
    not_same_as: str | None = None
    policy: Literal["claim", "round_robin", "least_loaded"] = "claim"

    @model_validator(mode="after")
    def _one_way(self) -> Assignee:
        ways = [w for w in ("user", "role", "expr", "same_as") if getattr(self, w) is not None]
        if len(ways) > 1:
            raise ValueError(f"choose one way to assign, not {' and '.join(ways)}")
        if not ways and self.not_same_as is None:
            raise ValueError("say who the task is for: a user, a role, an expression or a step")
        return self


# --- SLA ------------------------------------------------------------------------------------


class Escalation(_Strict):
    """One escalation level: what happens ``after`` a duration past the task's creation."""

    after: str
    to: Assignee | None = None
    action: Literal["notify", "reassign", "priority"] = "notify"
    priority: int | None = None


class Sla(_Strict):
    """Service level of a task: when it is due, reminders before, escalations after."""

    due: str
    calendar: str | None = None
    remind: list[str] = Field(default_factory=list)
    escalate: list[Escalation] = Field(default_factory=list)


class TaskNotice(_Strict):
    """A message sent to each person a task is given to, when the task is created.

    Attributes:
        channel: ``email`` or ``sms``.
        subject: the email's subject (a template); unused for SMS.
        body: the text (a template over the instance data, ``task`` and ``person``).
        to: where to send it (a template); empty: the person's own email address or phone.
    """

    channel: Literal["email", "sms"] = "email"
    subject: str | None = None
    body: str = Field(min_length=1)
    to: str | None = None


# --- triggers -------------------------------------------------------------------------------


class WebhookTrigger(_Strict):
    scheme: Literal["generic", "github", "shopify", "stripe"] = "generic"
    mapping: dict[str, str] = Field(default_factory=dict)
    tolerance_s: int = 300


class Trigger(_Strict):
    """How a start node is triggered."""

    type: Literal["manual", "api", "webhook", "schedule"] = "manual"
    webhook: WebhookTrigger | None = None
    cron: str | None = None
    roles: list[str] = Field(default_factory=list)


# --- nodes ----------------------------------------------------------------------------------


class _NodeBase(_Strict):
    id: str = Field(min_length=1, max_length=100)
    name: str = ""
    stage: str | None = None
    description: str | None = None


class StartNode(_NodeBase):
    type: Literal["start"]
    trigger: Trigger = Field(default_factory=Trigger)
    form: dict[str, Any] | None = None


class EndNode(_NodeBase):
    type: Literal["end"]
    outcome: Literal["completed", "cancelled", "rejected"] = "completed"
    terminate: bool | None = None

    @property
    def terminates(self) -> bool:
        """Ends with outcome cancelled or rejected terminate unless told otherwise."""
        if self.terminate is not None:
            return self.terminate
        return self.outcome != "completed"


class UserTaskNode(_NodeBase):
    type: Literal["user_task"]
    assignee: Assignee
    form: dict[str, Any] | None = None
    ui: dict[str, Any] | None = None
    sla: Sla | None = None
    instructions: str | None = None
    result: str | None = None
    priority: int = 0
    notify: list[TaskNotice] = Field(default_factory=list)


class ApprovalNode(_NodeBase):
    type: Literal["approval"]
    approvers: list[Assignee] = Field(min_length=1)
    outcomes: list[str] = Field(default_factory=lambda: ["approve", "reject"])
    quorum: Literal["all", "any"] | int = "all"
    form: dict[str, Any] | None = None
    sla: Sla | None = None
    instructions: str | None = None
    result: str | None = None
    priority: int = 0
    notify: list[TaskNotice] = Field(default_factory=list)


MAX_HTTP_TIMEOUT_S = 50.0
"""The longest one call may take: a longer ``timeout_s`` is cut to this (and validation
warns), so that a call always ends before the worker's claim on it runs out and another
worker could make it again."""


class HttpRequest(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeout_s: float = 10.0


class Retry(_Strict):
    attempts: int = Field(default=3, ge=1, le=20)
    backoff: str = "PT10S"


class HttpNode(_NodeBase):
    type: Literal["http"]
    request: HttpRequest
    result: str | None = None
    retry: Retry = Field(default_factory=Retry)
    secret: str | None = None


class NotifyNode(_NodeBase):
    type: Literal["notify"]
    channel: Literal["email", "sms", "inbox", "webhook"]
    to: str
    subject: str | None = None
    body: str = ""


class SetNode(_NodeBase):
    type: Literal["set"]
    assign: dict[str, str] = Field(min_length=1)


class TableNode(_NodeBase):
    type: Literal["table"]
    table: str
    op: Literal["get", "insert", "update", "increment"]
    key: dict[str, str] = Field(default_factory=dict)
    values: dict[str, str] = Field(default_factory=dict)
    each: str | None = None
    result: str | None = None


class DecisionRule(_Strict):
    """One row of a decision table: a cell per input (an expression over ``value``,
    or a literal to compare with, or ``-`` for any) and the output values."""

    when: list[str]
    then: dict[str, Any]
    note: str | None = None


class DecisionNode(_NodeBase):
    type: Literal["decision"]
    inputs: list[str] = Field(min_length=1)
    rules: list[DecisionRule]
    hit: Literal["first", "unique", "collect"] = "first"
    output: str
    default: dict[str, Any] | None = None


class ExclusiveNode(_NodeBase):
    type: Literal["exclusive"]


class ParallelNode(_NodeBase):
    type: Literal["parallel"]


class InclusiveNode(_NodeBase):
    type: Literal["inclusive"]


class TimerNode(_NodeBase):
    type: Literal["timer"]
    duration: str | None = None
    until: str | None = None
    calendar: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> TimerNode:
        if (self.duration is None) == (self.until is None):
            raise ValueError("a timer needs either a duration or an until expression")
        return self


class ReceiveNode(_NodeBase):
    type: Literal["receive"]
    message: str
    correlate: str
    keep_early: str | None = None
    result: str | None = None


class SubworkflowNode(_NodeBase):
    type: Literal["subworkflow"]
    workflow: str
    input: dict[str, str] = Field(default_factory=dict)
    output: dict[str, str] = Field(default_factory=dict)


Node = Annotated[
    StartNode
    | EndNode
    | UserTaskNode
    | ApprovalNode
    | HttpNode
    | NotifyNode
    | SetNode
    | TableNode
    | DecisionNode
    | ExclusiveNode
    | ParallelNode
    | InclusiveNode
    | TimerNode
    | ReceiveNode
    | SubworkflowNode,
    Field(discriminator="type"),
]

NODE_TYPES: tuple[str, ...] = (
    "start",
    "end",
    "user_task",
    "approval",
    "http",
    "notify",
    "set",
    "table",
    "decision",
    "exclusive",
    "parallel",
    "inclusive",
    "timer",
    "receive",
    "subworkflow",
)
WAITING_TYPES = frozenset({"user_task", "approval", "timer", "receive", "http", "subworkflow"})
TASK_TYPES = frozenset({"user_task", "approval"})


# --- edges ----------------------------------------------------------------------------------


class Edge(_Strict):
    """A connection between two nodes.

    Attributes:
        condition: an expression; the edge is taken only when it holds.
        default: taken when no other edge's condition holds.
        outcome: for edges leaving an approval: the outcome that takes this edge.
        on: a boundary edge: ``timeout`` leaves a waiting node after ``after``;
            ``error`` leaves an ``http`` node that failed after its retries.
        interrupting: whether a timeout cancels the node's work (default) or
            starts a parallel path and leaves it open.
    """

    id: str = Field(min_length=1, max_length=100)
    from_: str = Field(alias="from")
    to: str
    label: str | None = None
    condition: str | None = None
    default: bool = False
    outcome: str | None = None
    on: Literal["timeout", "error"] | None = None
    after: str | None = None
    interrupting: bool = True

    @model_validator(mode="after")
    def _boundary(self) -> Edge:
        if self.on == "timeout" and self.after is None:
            raise ValueError("a timeout edge needs 'after', a duration such as P7D")
        if self.on is None and self.after is not None:
            raise ValueError("'after' belongs on a timeout edge (on: timeout)")
        return self


class Position(_Strict):
    x: float
    y: float


class TrackingField(_Strict):
    """A value of the instance's data shown on the customer's tracking page, such as the
    parcel's tracking number. ``field`` is a data path (``shipment.tracking_number``); the
    page leaves it out while the instance has no such value."""

    label: str = Field(min_length=1, max_length=60)
    field: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
    )


class Definition(_Strict):
    """A whole workflow: what the designer saves and the engine runs."""

    format: Literal[1] = 1
    key: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = ""
    description: str = ""
    category: str = Field(default="", max_length=60)
    data: dict[str, Any] | None = None
    nodes: list[Node]
    edges: list[Edge] = Field(default_factory=list)
    layout: dict[str, Position] = Field(default_factory=dict)
    tracking: list[TrackingField] = Field(default_factory=list, max_length=10)
    business_key: str | None = Field(default=None, max_length=500)
    """How each instance is named in lists and found by search: a message template over
    its start data (``{{ item }} from {{ supplier }}``), rendered by the app at start.
    Unset (or rendering to nothing): ``order_id``, ``business_key``, ``reference`` or ``id``
    from the data."""
    version: int | None = None

    _compiled: Any = PrivateAttr(default=None)

    def node(self, node_id: str) -> Any:
        """The node with this id (raises KeyError)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)
