"""API models: what goes over the wire (separate from the tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "Malformed request (e.g. a body that is not JSON)"),
        (401, "Not logged in"),
        (403, "Not allowed"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Body too large"),
        (422, "Invalid input"),
        (429, "Too many attempts"),
    )
}


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=500)


class MeOut(BaseModel):
    id: str
    username: str
    display_name: str
    roles: list[str]
    csrf_token: str | None = None
    via: str


class WorkflowSummary(BaseModel):
    key: str
    name: str
    description: str
    published_version: int | None
    draft_revision: int
    updated_at: datetime
    updated_by: str | None
    archived: bool = False


class WorkflowOut(WorkflowSummary):
    draft: dict[str, Any]
    versions: list[int]


class WorkflowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    draft: dict[str, Any] | None = None


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    draft: dict[str, Any]
    revision: int | None = Field(
        default=None, description="the draft_revision you edited; 409 if it moved on"
    )


class ProblemOut(BaseModel):
    code: str
    message: str
    node: str | None = None
    edge: str | None = None
    field: str | None = None
    severity: str


class ValidationOut(BaseModel):
    valid: bool
    problems: list[ProblemOut]


class VersionOut(BaseModel):
    key: str
    version: int
    definition: dict[str, Any]
    published_at: datetime
    published_by: str | None


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any] = Field(default_factory=dict)


class TaskOut(BaseModel):
    id: str
    instance_id: str
    workflow_key: str
    node: str
    name: str
    status: str
    assignee: str | None
    candidate_users: list[str]
    candidate_roles: list[str]
    delegated_from: str | None
    priority: int
    due_at: datetime | None
    overdue: bool
    at_risk: bool = False
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    outcome: str | None
    outcomes: list[str]


class TaskCan(BaseModel):
    """What the caller may do with the task now."""

    claim: bool
    unclaim: bool
    complete: bool
    delegate: bool
    reassign: bool


class InstanceBrief(BaseModel):
    """A task page's summary of its instance."""

    id: str
    workflow_key: str
    workflow_name: str
    status: str
    stage: str | None
    business_key: str | None
    started_by: str | None
    started_at: datetime
    key_fields: dict[str, Any] = Field(
        description="the data's top-level plain values (text, numbers, yes/no), at most 12"
    )


class TaskDetail(TaskOut):
    form: dict[str, Any] | None
    ui: dict[str, Any] | None = Field(default=None, description="the form's UI hints (uiSchema)")
    instructions: str | None
    instance_stage: str | None
    instance_data: dict[str, Any]
    instance: InstanceBrief | None = None
    can: TaskCan | None = None
    sla_state: str | None = None
    seconds_left: int | None = None


class InstanceSummary(BaseModel):
    id: str
    workflow_key: str
    workflow_version: int
    status: str
    suspended: bool
    stage: str | None
    business_key: str | None
    parent_id: str | None
    started_by: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    open_incidents: int
    version: int


class IncidentOut(BaseModel):
    id: str
    engine_id: str
    node: str
    code: str
    message: str
    details: dict[str, Any]
    status: str
    created_at: datetime


class IncidentRow(IncidentOut):
    """An incident in the list across instances, with the instance it stopped."""

    instance: InstanceSummary


class InstanceOut(InstanceSummary):
    data: dict[str, Any]
    tracking_token: str
    open_tasks: list[TaskOut]
    path: list[dict[str, Any]]
    stages: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    incidents: list[IncidentOut]


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str | None
    on_behalf_of: str | None
    action: str
    instance_id: str | None
    task_id: str | None
    details: dict[str, Any]


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any] = Field(default_factory=dict)
    outcome: str | None = None


class DelegateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str | None = Field(default=None, max_length=100)
    role: str | None = Field(default=None, max_length=100)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=10_000)


class CommentOut(BaseModel):
    id: str
    instance_id: str
    task_id: str | None
    task_name: str | None = Field(
        default=None, description="in an instance's list, the name of the task it was made on"
    )
    author: str
    body: str
    created_at: datetime


class DataCorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any]
    reason: str = Field(min_length=1, max_length=2000)
    version: int | None = Field(
        default=None, description="the instance version you looked at; 409 if stale"
    )


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000)


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=200)
    correlation: Any
    data: dict[str, Any] = Field(default_factory=dict)


class MessageOut(BaseModel):
    instance_id: str
    status: str
    stage: str | None
