"""SQLAlchemy models. Every change here comes with an alembic revision in migrations/.

Ids are strings (uuid4 hex) except for append-only logs, which count up. JSON
columns are JSONB on PostgreSQL. Times are stored timezone-aware (UTC).

The rows of an instance (and of a task) name their owner by its id, and code sets that id,
never an object. Each also has a relationship to its owner (``_instance``, ``_task``) that
is never read (``lazy="raise"``): SQLAlchemy's unit of work orders its inserts by
relationships, not by foreign keys, and with it a new instance and its first task, outbox
row or incident go in one flush in the right order, whatever flushes them (the commit, or a
query's autoflush). That lets many starts share one insert a table
(``app/services/intake.py``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as UTC (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return (
            value.astimezone(UTC)
            if dialect.name != "sqlite"
            else value.astimezone(UTC).replace(tzinfo=None)
        )

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: Json,
        list[Any]: Json,
        datetime: UtcDateTime,
    }


# --- people ---------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(Base):
    """A role: a permission level (admin, designer, employee) or a team (warehouse)."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(
        ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True, index=True
    )


class LoginSession(Base):
    """A person's login. The cookie carries the token; only its hash is stored."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class ApiToken(Base):
    """A system's credential, acting as ``user_id`` within ``scopes``; stored hashed."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """Failed logins per (username, client address), for throttling."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    client: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)


# --- workflows ------------------------------------------------------------------------------


class Workflow(Base):
    """A workflow's editable draft; its published versions are ``WorkflowVersion`` rows."""

    __tablename__ = "workflows"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # the designer's whole draft (layout and all): read only where it is used, not with
    # every start of an instance or webhook delivery that reads the row
    draft: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    draft_revision: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer)
    start_roles: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Finished instances older than this many days are archived or purged (None: kept).
    retention_days: Mapped[int | None] = mapped_column(Integer)
    retention_action: Mapped[str] = mapped_column(
        String(10), default="archive", server_default="archive"
    )


class WorkflowVersion(Base):
    """A published version: immutable once written."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_key", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workflow_key: Mapped[str] = mapped_column(ForeignKey("workflows.key", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(100))


# --- instances and their work ---------------------------------------------------------------


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_workflow_status", "workflow_key", "status"),
        Index("ix_instances_started_at", "started_at"),
        # reports: covering indexes, so that a report reads no instance row (states are large)
        Index(
            "ix_instances_report_started",
            "workflow_key",
            "started_at",
            "workflow_version",
            "stage",
            "id",
        ),
        Index(
            "ix_instances_report_finished",
            "workflow_key",
            "finished_at",
            "started_at",
            "status",
            "workflow_version",
            "id",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workflow_key: Mapped[str] = mapped_column(ForeignKey("workflows.key"))
    workflow_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="running")
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str | None] = mapped_column(String(200), index=True)
    state: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("instances.id"), index=True)
    parent_request: Mapped[str | None] = mapped_column(String(100))
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True)
    started_by: Mapped[str | None] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    open_incidents: Mapped[int] = mapped_column(Integer, default=0)

    # Optimistic locking: every UPDATE says "WHERE version = <the version read>".
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class InstanceField(Base):
    """A top-level data field of an instance as text, kept in step with its state by the
    runner, so that reports group on it without reading states (``app.services.fields``)."""

    __tablename__ = "instance_fields"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - the key is the row

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    _instance: Mapped[Instance] = relationship(lazy="raise")
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


def _risk_at(context: Any) -> datetime | None:
    """A new task's ``risk_at``: its due time less a quarter of its SLA window."""
    row = context.get_current_parameters()
    due, created = row.get("due_at"), row.get("created_at") or utcnow()
    if due is None:
        return None
    return due - max(due - created, timedelta(0)) / 4  # type: ignore[no-any-return]


class Task(Base):
    """A task in an inbox, mirrored from the engine's state with who may do it."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("instance_id", "engine_id"),
        Index("ix_tasks_status_assignee", "status", "assignee"),
        # the inbox sorts open tasks by these without reading the rows (forms can be large)
        Index(
            "ix_tasks_inbox",
            "status",
            "assignee",
            "due_at",
            "risk_at",
            "overdue",
            "at_risk",
            "priority",
            "created_at",
            "id",
        ),
        # reports on completed tasks (time per step, SLA), covering: no task row is read
        Index(
            "ix_tasks_report_completed",
            "workflow_key",
            "status",
            "node",
            "completed_at",
            "created_at",
            "due_at",
            "completed_by",
            "role",
        ),
        # the same tasks in instance order, for reports grouped by a data field: the lookups
        # into instance_fields then go in key order (SQLite: 2.5 times faster than at random)
        Index(
            "ix_tasks_report_instance",
            "workflow_key",
            "status",
            "instance_id",
            "completed_at",
            "created_at",
            "due_at",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    _instance: Mapped[Instance] = relationship(lazy="raise")
    engine_id: Mapped[str] = mapped_column(String(50))
    workflow_key: Mapped[str] = mapped_column(String(100), index=True)
    node: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    assignee: Mapped[str | None] = mapped_column(String(100))
    candidate_users: Mapped[list[Any]] = mapped_column(default=list)
    candidate_roles: Mapped[list[Any]] = mapped_column(default=list)
    excluded_users: Mapped[list[Any]] = mapped_column(default=list)
    delegated_from: Mapped[str | None] = mapped_column(String(100))
    form: Mapped[dict[str, Any] | None]
    outcomes: Mapped[list[Any]] = mapped_column(default=list)
    instructions: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None]
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    away_owner: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(100))
    """The role the task belongs to (its pool, or the role a policy picked someone from)."""
    """Whose task this is while it sits with their delegate during an out-of-office window."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(100))
    result: Mapped[dict[str, Any] | None]
    risk_at: Mapped[datetime | None] = mapped_column(default=_risk_at)
    """When the task becomes at risk: a quarter of its SLA window (created to due) before it is
    due. Set when the row is inserted; the inbox sorts and filters by it."""
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    """When the row last changed, on the system clock (not the app's): the inbox's live
    updates read the tasks changed since their last look."""


class TaskCandidate(Base):
    """Who may claim an unassigned task: a user or a role; or who may not (``exclude``, four
    eyes). A row each, for querying inboxes."""

    __tablename__ = "task_candidates"
    __table_args__ = (Index("ix_task_candidates_lookup", "kind", "name"),)

    task_id: Mapped[str] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    _task: Mapped[Task] = relationship(lazy="raise")
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)


class SavedView(Base):
    """A person's named inbox filter: ``query`` holds ``GET /api/inbox`` parameters."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("username", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Timer(Base):
    __tablename__ = "timers"
    __table_args__ = (
        UniqueConstraint("instance_id", "engine_id"),
        Index("ix_timers_status_due", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    _instance: Mapped[Instance] = relationship(lazy="raise")
    engine_id: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(30))
    node: Mapped[str] = mapped_column(String(100))
    task_engine_id: Mapped[str | None] = mapped_column(String(50))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    fired_at: Mapped[datetime | None]


class MessageWait(Base):
    """An instance waiting for a message, found by (message, correlation)."""

    __tablename__ = "message_waits"
    __table_args__ = (Index("ix_message_waits_lookup", "message", "correlation"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    _instance: Mapped[Instance] = relationship(lazy="raise")
    wait_id: Mapped[str] = mapped_column(String(50))
    node: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(String(200))
    correlation: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Outbox(Base):
    """Side effects that leave through workers, at least once, with an idempotency key."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[str | None] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    _instance: Mapped[Instance | None] = relationship(lazy="raise")
    kind: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("instance_id", "engine_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    _instance: Mapped[Instance] = relationship(lazy="raise")
    engine_id: Mapped[str] = mapped_column(String(50))
    node: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who did what, when, on behalf of whom. Append-only."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # stage changes only, for the reports' funnel; covering (action too: SQLite wants it)
        Index(
            "ix_audit_events_stage",
            "instance_id",
            "action",
            "details",
            sqlite_where=text("action = 'instance.stage'"),
            postgresql_where=text("action = 'instance.stage'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(100))
    on_behalf_of: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    instance_id: Mapped[str | None] = mapped_column(String(32), index=True)
    task_id: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    _instance: Mapped[Instance] = relationship(lazy="raise")
    task_id: Mapped[str | None] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    _instance: Mapped[Instance] = relationship(lazy="raise")
    task_id: Mapped[str | None] = mapped_column(String(32), index=True)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """An in-app notification: a reminder, an escalation, a delegation, a task done for you."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "username", "read_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    instance_id: Mapped[str | None] = mapped_column(String(32))
    task_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class OutOfOffice(Base):
    """A person's absence: during it their tasks go to ``delegate``."""

    __tablename__ = "out_of_office"
    __table_args__ = (Index("ix_out_of_office_window", "starts_at", "ends_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(100), index=True)
    delegate: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    return_tasks: Mapped[bool] = mapped_column(Boolean, default=True)
    started: Mapped[bool] = mapped_column(Boolean, default=False)
    ended: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Calendar(Base):
    """An admin-defined business calendar (its JSON form, as ``engine.calendar_from_dict`` reads it)."""

    __tablename__ = "calendars"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    settings: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class ScheduleRun(Base):
    """One firing of a scheduled start. The primary key is the lease: whichever process
    inserts it starts the instance; the others find it taken."""

    __tablename__ = "schedule_runs"

    workflow_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    fire_at: Mapped[datetime] = mapped_column(primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSecret(Base):
    """A secret a sender signs a workflow's webhooks with. Two may be valid at once while a
    secret is rotated. Kept as given: checking an HMAC needs the secret itself."""

    __tablename__ = "webhook_secrets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workflow_key: Mapped[str] = mapped_column(
        ForeignKey("workflows.key", ondelete="CASCADE"), index=True
    )
    secret: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """A delivery that started an instance, by its idempotency key: a retry gets the same one."""

    __tablename__ = "webhook_deliveries"

    workflow_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventEndpoint(Base):
    """Where outgoing events go (Standard Webhooks): a URL and the event types it wants.

    Attributes:
        secret: ``whsec_<base64>``, signing every delivery; kept as made (an HMAC needs it).
        previous_secret: the secret before the last rotation, signing too until
            ``previous_expires_at``, so the receiver can switch without a gap.
        enabled: off when an admin turns it off or the endpoint answers 410 Gone.
    """

    __tablename__ = "event_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(String(200))
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_expires_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageHook(Base):
    """How signed deliveries of one message arrive at ``POST /hooks/messages/{name}``: the
    signature scheme, and expressions over the delivery for its correlation value, its data
    and (optionally) its id."""

    __tablename__ = "message_hooks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    scheme: Mapped[str] = mapped_column(String(20), default="generic")
    tolerance_s: Mapped[int] = mapped_column(Integer, default=300)
    correlation: Mapped[str] = mapped_column(String(1000))
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class MessageHookSecret(Base):
    """A secret a sender signs one message's deliveries with; two may be valid at once."""

    __tablename__ = "message_hook_secrets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    hook: Mapped[str] = mapped_column(
        ForeignKey("message_hooks.name", ondelete="CASCADE"), index=True
    )
    secret: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]


class MessageDelivery(Base):
    """A message from outside, by its idempotency key (the sender's, or derived from the
    body): ``delivered`` to an instance, or ``held`` until one waits for it (``keep_early``).
    The same message again finds this row and moves nothing."""

    __tablename__ = "message_deliveries"
    __table_args__ = (
        UniqueConstraint("message", "idempotency_key"),
        Index("ix_message_deliveries_held", "message", "correlation", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    message: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    body_sha256: Mapped[str] = mapped_column(String(64))
    correlation: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20))
    instance_id: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    hold_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class DeadLetter(Base):
    """A signed webhook delivery that was accepted but could not start an instance, kept
    with its error until an admin replays it."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("workflow_key", "idempotency_key"),
        Index("ix_dead_letters_status_received", "status", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workflow_key: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    body_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[Any] = mapped_column(Json)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_code: Mapped[str] = mapped_column(String(50))
    error_message: Mapped[str] = mapped_column(Text)
    error_details: Mapped[Any | None] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(20), default="failed")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    instance_id: Mapped[str | None] = mapped_column(String(32))
    replayed_at: Mapped[datetime | None]
    replayed_by: Mapped[str | None] = mapped_column(String(100))


class ActionLink(Base):
    """A signed, single-use link that completes ``task_id`` with ``outcome`` as ``username``
    (an approval's approve / reject in a notification). The token is ``<id>.<signature>``."""

    __tablename__ = "action_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    _task: Mapped[Task] = relationship(lazy="raise")
    outcome: Mapped[str] = mapped_column(String(100))
    username: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


# --- data tables ----------------------------------------------------------------------------


class DataTable(Base):
    """An admin-kept table (inventory, price list): columns with types, and key columns."""

    __tablename__ = "data_tables"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    columns: Mapped[list[Any]]
    key_columns: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataRow(Base):
    __tablename__ = "data_rows"
    __table_args__ = (UniqueConstraint("table_name", "row_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    table_name: Mapped[str] = mapped_column(ForeignKey("data_tables.name", ondelete="CASCADE"))
    row_key: Mapped[str] = mapped_column(String(500))
    values: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- reports --------------------------------------------------------------------------------


class SavedReport(Base):
    """A report builder query someone saved, with how to chart it.

    Attributes:
        owner: the username who saved it; only they (and admins) change or delete it.
        query: ``{"workflow", "measure", "group_by", "filters"}`` as ``POST /api/reports/query``
            takes it.
        chart: how the frontend draws it (``bar``, ``line``, ``pie``, ``table``, ...).
    """

    __tablename__ = "saved_reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[dict[str, Any]]
    chart: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedReportShare(Base):
    """A role a saved report is shared with: its members see it too."""

    __tablename__ = "saved_report_shares"

    report_id: Mapped[str] = mapped_column(
        ForeignKey("saved_reports.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(
        ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True, index=True
    )


class SavedReportPin(Base):
    """A saved report pinned to one person's dashboard (each pins for themself)."""

    __tablename__ = "saved_report_pins"

    report_id: Mapped[str] = mapped_column(
        ForeignKey("saved_reports.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


# --- the company's own settings and gallery -------------------------------------------------


class AppSetting(Base):
    """A setting an admin changes in the console (branding), over its environment default."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class GalleryTemplate(Base):
    """A workflow an admin published as a template, beside the shipped ones in templates/."""

    __tablename__ = "gallery_templates"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict[str, Any]]
    source_workflow: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
