"""Administration: people, roles, API tokens and the audit log.

Secrets are shown once: a generated password or a new API token is in the answer to the
request that made it, and nowhere after (only a token's hash and first characters are kept).
An admin cannot lock themself out: they may not deactivate themself or drop their own admin
role, so there is always an active admin left.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock
from app.db.models import (
    ApiToken,
    AuditEvent,
    LoginSession,
    Membership,
    Role,
    Task,
    TaskCandidate,
    User,
    Workflow,
    WorkflowVersion,
)
from app.deps import SESSION_COOKIE, AdminUser, CurrentUser, SessionDep
from app.errors import ApiError, not_found
from app.routes.instances import audit_out, cache
from app.routes.tables import NO_NUL, refuse_nul
from app.schemas import ERRORS, AuditOut, Page
from app.security import generate_password, hash_password, new_token, token_hash
from app.services import runner
from app.services.channels import secret_name
from app.services.records import audit, notify
from engine import AssignTask

router = APIRouter(
    prefix="/api/admin", tags=["admin"], responses=ERRORS, dependencies=[Depends(refuse_nul)]
)

PROTECTED_ROLES = frozenset({"admin", "designer", "employee"})
"""Permission levels the app itself checks; they cannot be deleted."""
TOKEN_PREFIX = "sw_"  # noqa: S105 - a marker that says "Stepwise token", not a secret
PREFIX_LENGTH = 8
"""How much of a token is kept in the clear, to tell tokens apart in lists and logs."""

Username = Annotated[str, Field(pattern=r"^[a-z0-9_.-]{2,50}$")]
Email = Annotated[str, Field(pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$", max_length=320)]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()./-]{3,40}$", max_length=40)]
Password = Annotated[str, Field(min_length=8, max_length=500)]
RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]*$", max_length=100)]


# --- API models -----------------------------------------------------------------------------


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    email: str | None
    phone: str | None
    roles: list[str]
    is_active: bool
    created_at: datetime


class UserCreated(UserOut):
    password: str | None = Field(
        description="the generated password, shown this once; none when you chose one"
    )


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username
    display_name: str = Field(default="", max_length=200, pattern=NO_NUL)
    email: Email | None = None
    phone: Phone | None = None
    roles: list[RoleName] = Field(default_factory=lambda: ["employee"], max_length=50)
    password: Password | None = Field(default=None, description="generated when left out")


class UserUpdate(BaseModel):
    """Only the fields sent change; ``roles`` replaces the user's roles."""

    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, max_length=200, pattern=NO_NUL)
    email: Email | None = None
    phone: Phone | None = None
    roles: list[RoleName] | None = Field(default=None, max_length=50)
    is_active: bool | None = None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Password | None = Field(default=None, description="generated when left out")


class PasswordOut(BaseModel):
    username: str
    password: str | None = Field(
        description="the generated password, shown this once; none when you chose one"
    )


class RoleOut(BaseModel):
    name: str
    description: str
    members: int
    builtin: bool = Field(description="a permission level the app checks; cannot be deleted")


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: RoleName
    description: str = Field(default="", max_length=500, pattern=NO_NUL)


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="the token's first characters, to recognise it")
    user: str
    scopes: list[str]
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret, shown this once: send it as `Bearer <token>`")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    user: str = Field(
        min_length=1, max_length=100, pattern=NO_NUL, description="the username the token acts as"
    )
    scopes: list[Literal["read", "write", "*"]] = Field(min_length=1, max_length=3)


# --- helpers --------------------------------------------------------------------------------


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise not_found("user", username)
    return user


def _roles_by_user(session: Session, user_ids: list[str] | None = None) -> dict[str, list[str]]:
    query = select(Membership.user_id, Membership.role).order_by(Membership.role)
    if user_ids is not None:
        query = query.where(Membership.user_id.in_(user_ids))
    found: dict[str, list[str]] = {}
    for user_id, role in session.execute(query):
        found.setdefault(user_id, []).append(role)
    return found


def _user_out(user: User, roles: list[str]) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        phone=user.phone,
        roles=sorted(roles),
        is_active=user.is_active,
        created_at=user.created_at,
    )


def _known_roles(session: Session, roles: list[str]) -> list[str]:
    wanted = sorted(set(roles))
    known = set(session.scalars(select(Role.name).where(Role.name.in_(wanted))))
    unknown = [r for r in wanted if r not in known]
    if unknown:
        raise ApiError(
            422, "unknown_role", f"there is no role {', '.join(map(repr, unknown))}", unknown
        )
    return wanted


def _set_roles(session: Session, user: User, roles: list[str]) -> None:
    session.execute(delete(Membership).where(Membership.user_id == user.id))
    session.add_all(Membership(user_id=user.id, role=r) for r in roles)


def _new_password(chosen: str | None) -> tuple[str, str | None]:
    """The password to set, and the one to show (only a generated one is shown)."""
    if chosen is not None:
        return chosen, None
    generated = generate_password()
    return generated, generated


def _token_out(token: ApiToken, username: str) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        user=username,
        scopes=[str(s) for s in token.scopes],
        created_at=token.created_at,
        created_by=token.created_by,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


def _mentions_role(value: Any, role: str) -> bool:
    """Whether a definition names ``role`` (an assignee ``{"role": …}`` or ``trigger.roles``)."""
    if isinstance(value, dict):
        if value.get("role") == role:
            return True
        roles = value.get("roles")
        if isinstance(roles, list) and role in roles:
            return True
        return any(_mentions_role(v, role) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_role(v, role) for v in value)
    return False


# --- users ----------------------------------------------------------------------------------


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, me: AdminUser) -> list[UserOut]:
    roles = _roles_by_user(session)
    users = session.scalars(select(User).order_by(User.username))
    return [_user_out(u, roles.get(u.id, [])) for u in users]


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(body: UserCreate, session: SessionDep, me: AdminUser) -> UserCreated:
    now = clock.now()
    if session.scalar(select(User.id).where(User.username == body.username)) is not None:
        raise ApiError(409, "exists", f"a user {body.username!r} exists already")
    roles = _known_roles(session, body.roles)
    password, shown = _new_password(body.password)
    user = User(
        username=body.username,
        display_name=body.display_name or body.username,
        email=body.email,
        phone=body.phone,
        password_hash=hash_password(password),
        is_active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    _set_roles(session, user, roles)
    audit(
        session,
        "user.created",
        actor=me.username,
        now=now,
        username=user.username,
        roles=roles,
        password_generated=shown is not None,
    )
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ApiError(409, "exists", f"a user {body.username!r} exists already") from exc
    return UserCreated(**_user_out(user, roles).model_dump(), password=shown)


@router.patch("/users/{username}", response_model=UserOut)
def update_user(
    username: str, body: UserUpdate, request: Request, session: SessionDep, me: AdminUser
) -> UserOut:
    """Change a user. Deactivating logs them out everywhere and gives the open tasks they
    hold back to their pools (admins are told of those that have none); an admin cannot
    deactivate themself nor take away their own admin role."""
    now = clock.now()
    user = _user(session, username)
    sent = body.model_fields_set
    changes: dict[str, Any] = {}
    if body.is_active is False and user.id == me.user_id:
        raise ApiError(409, "self_deactivation", "you cannot deactivate yourself")
    if "roles" in sent and body.roles is None:
        raise ApiError(422, "invalid_request", "roles must be a list (empty for none)")
    if "display_name" in sent and body.display_name is not None:
        changes["display_name"] = user.display_name = body.display_name
    if "email" in sent:
        changes["email"] = user.email = body.email
    if "phone" in sent:
        changes["phone"] = user.phone = body.phone
    if body.roles is not None:
        roles = _known_roles(session, body.roles)
        if user.id == me.user_id and "admin" not in roles:
            raise ApiError(409, "self_demotion", "you cannot take away your own admin role")
        _set_roles(session, user, roles)
        changes["roles"] = roles
    if body.is_active is not None and body.is_active != user.is_active:
        user.is_active = body.is_active
        changes["is_active"] = body.is_active
        if not body.is_active:
            session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
            changes["tasks_returned"], changes["tasks_left"] = _release_tasks(
                session, request, username, actor=me.username, now=now
            )
    if changes:
        audit(session, "user.updated", actor=me.username, now=now, username=username, **changes)
    session.commit()
    return _user_out(user, _roles_by_user(session, [user.id]).get(user.id, []))


def _release_tasks(
    session: Session, request: Request, username: str, *, actor: str, now: datetime
) -> tuple[int, int]:
    """A deactivated person's open tasks: each one that came from a pool goes back to it,
    as if they had given it back; the others (given to them by name, or on a suspended
    instance) stay, and the admins are told. Returns (returned, left)."""
    held = session.scalars(
        select(Task).where(Task.status == "open", Task.assignee == username).order_by(Task.id)
    ).all()
    returned = left = 0
    for task in held:
        pool = task.candidate_roles or [u for u in task.candidate_users if u != username]
        instance = runner.lock_instance(session, task.instance_id)
        if not pool or instance.suspended or instance.status != "running":
            left += 1
            continue
        task.assignee, task.claimed_at = None, None
        runner.run_command(
            session,
            cache=cache(request),
            instance=instance,
            command=AssignTask(task.engine_id, None),
            actor=actor,
            now=now,
        )
        audit(
            session,
            "task.unclaimed",
            actor=actor,
            instance_id=instance.id,
            task_id=task.id,
            now=now,
            from_user=username,
            reason="deactivated",
        )
        returned += 1
    if left:
        notify(
            session,
            "role:admin",
            f"{username} is deactivated: {left} of their open tasks need someone",
            "They were given to them by name (or wait on a suspended instance): reassign them "
            "from their task pages.",
            now=now,
            key=f"deactivated:{username}:{now.isoformat()}",
        )
    return returned, left


@router.post("/users/{username}/password", response_model=PasswordOut)
def set_password(
    username: str,
    request: Request,
    session: SessionDep,
    me: AdminUser,
    body: Annotated[PasswordIn | None, Body()] = None,
) -> PasswordOut:
    """Set (or generate) a user's password. Their other logins end: a reset password is often
    a leaked one."""
    now = clock.now()
    user = _user(session, username)
    password, shown = _new_password(body.password if body else None)
    user.password_hash = hash_password(password)
    logout = delete(LoginSession).where(LoginSession.user_id == user.id)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        logout = logout.where(LoginSession.id != token_hash(cookie))
    session.execute(logout)
    audit(
        session,
        "user.password_set",
        actor=me.username,
        now=now,
        username=username,
        password_generated=shown is not None,
    )
    session.commit()
    return PasswordOut(username=username, password=shown)


# --- roles ----------------------------------------------------------------------------------


@router.get("/roles", response_model=list[RoleOut])
def list_roles(session: SessionDep, me: CurrentUser) -> list[RoleOut]:
    """Every role with its count of active members; anyone logged in may list them (the
    designer does)."""
    counts: dict[str, int] = dict(
        session.execute(
            select(Membership.role, func.count())
            .join(User, User.id == Membership.user_id)
            .where(User.is_active)
            .group_by(Membership.role)
        ).all()
    )
    return [
        RoleOut(
            name=r.name,
            description=r.description,
            members=counts.get(r.name, 0),
            builtin=r.name in PROTECTED_ROLES,
        )
        for r in session.scalars(select(Role).order_by(Role.name))
    ]


@router.post("/roles", response_model=RoleOut, status_code=201)
def create_role(body: RoleCreate, session: SessionDep, me: AdminUser) -> RoleOut:
    now = clock.now()
    if session.get(Role, body.name) is not None:
        raise ApiError(409, "exists", f"a role {body.name!r} exists already")
    session.add(Role(name=body.name, description=body.description, created_at=now))
    audit(session, "role.created", actor=me.username, now=now, role=body.name)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ApiError(409, "exists", f"a role {body.name!r} exists already") from exc
    return RoleOut(
        name=body.name,
        description=body.description,
        members=0,
        builtin=body.name in PROTECTED_ROLES,
    )


@router.delete("/roles/{name}", status_code=204)
def delete_role(name: str, session: SessionDep, me: AdminUser) -> Response:
    """Delete a role and its memberships. Refused (409) for the built-in permission levels, and
    while open tasks wait for the role or a workflow (not archived) names it."""
    now = clock.now()
    role = session.get(Role, name)
    if role is None:
        raise not_found("role", name)
    if name in PROTECTED_ROLES:
        raise ApiError(409, "builtin_role", f"the role {name!r} is built in and cannot be deleted")
    open_tasks = (
        session.scalar(
            select(func.count())
            .select_from(TaskCandidate)
            .join(Task, Task.id == TaskCandidate.task_id)
            .where(TaskCandidate.kind == "role", TaskCandidate.name == name, Task.status == "open")
        )
        or 0
    )
    workflows = sorted(
        {
            key
            for key, definition in session.execute(
                select(WorkflowVersion.workflow_key, WorkflowVersion.definition)
                .join(Workflow, Workflow.key == WorkflowVersion.workflow_key)
                .where(Workflow.archived.is_(False))
            )
            if _mentions_role(definition, name)
        }
    )
    if open_tasks or workflows:
        raise ApiError(
            409,
            "in_use",
            f"the role {name!r} is in use: {open_tasks} open task(s), workflows: "
            f"{', '.join(workflows) or 'none'}",
            {"open_tasks": open_tasks, "workflows": workflows},
        )
    members = list(session.scalars(select(Membership.user_id).where(Membership.role == name)))
    session.execute(delete(Membership).where(Membership.role == name))
    session.delete(role)
    audit(session, "role.deleted", actor=me.username, now=now, role=name, members=len(members))
    session.commit()
    return Response(status_code=204)


# --- outbound secrets -----------------------------------------------------------------------

CHANNEL_SECRETS = {
    "smtp_password": "the SMTP login's password (email)",
    "sms_auth_token": "the SMS provider's auth token",
}


class SecretUse(BaseModel):
    workflow: str
    version: int
    node: str
    how: str = Field(
        description="'http' (sent as a Bearer token or {{ secret }}), 'slack', 'teams'"
    )


class OutboundSecretOut(BaseModel):
    name: str
    is_set: bool = Field(description="whether STEPWISE_SECRET_<NAME> is set on this server")
    purpose: str | None = None
    used_by: list[SecretUse]


@router.get("/secrets", response_model=list[OutboundSecretOut])
def list_secrets(request: Request, session: SessionDep, me: AdminUser) -> list[OutboundSecretOut]:
    """The secrets outbound calls and channels name, and whether each is set — never a value.
    Values live in the server's environment (``STEPWISE_SECRET_<NAME>``), not in the database,
    so they are not set from the browser."""
    configured = set(request.app.state.settings.secrets)
    uses: dict[str, list[SecretUse]] = {}
    live = session.execute(
        select(WorkflowVersion.workflow_key, WorkflowVersion.version, WorkflowVersion.definition)
        .join(Workflow, Workflow.key == WorkflowVersion.workflow_key)
        .where(WorkflowVersion.version == Workflow.published_version)
    )
    for key, version, definition in live:
        for node in definition.get("nodes", []) if isinstance(definition, dict) else []:
            for name, how in _named_secrets(node):
                uses.setdefault(name, []).append(
                    SecretUse(workflow=key, version=version, node=str(node.get("id")), how=how)
                )
    names = sorted(configured | set(uses) | set(CHANNEL_SECRETS))
    return [
        OutboundSecretOut(
            name=name,
            is_set=name in configured,
            purpose=CHANNEL_SECRETS.get(name),
            used_by=uses.get(name, []),
        )
        for name in names
    ]


def _named_secrets(node: Any) -> list[tuple[str, str]]:
    """The secrets a published step names: an http step's ``secret``, a webhook notification
    to ``slack:<name>`` or ``teams:<name>``."""
    if not isinstance(node, dict):
        return []
    if node.get("type") == "http" and isinstance(node.get("secret"), str):
        return [(secret_name(node["secret"]), "http")]
    to = node.get("to")
    if node.get("type") == "notify" and isinstance(to, str):
        target, _, name = to.partition(":")
        if target.strip() in ("slack", "teams") and name.strip():
            return [(secret_name(name), target.strip())]
    return []


# --- API tokens -----------------------------------------------------------------------------


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(session: SessionDep, me: AdminUser) -> list[TokenOut]:
    rows = session.execute(
        select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    )
    return [_token_out(token, username) for token, username in rows]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, session: SessionDep, me: AdminUser) -> TokenCreated:
    """Make a token acting as ``user`` within ``scopes``: ``read`` for GET, ``write`` for the
    rest, ``*`` for both. The secret is in this answer only."""
    now = clock.now()
    user = session.scalar(select(User).where(User.username == body.user))
    if user is None or not user.is_active:
        raise ApiError(422, "unknown_user", f"there is no active user {body.user!r}")
    secret = new_token(TOKEN_PREFIX)
    token = ApiToken(
        name=body.name,
        token_hash=token_hash(secret),
        prefix=secret[:PREFIX_LENGTH],
        user_id=user.id,
        scopes=sorted(set(body.scopes)),
        created_at=now,
        created_by=me.username,
    )
    session.add(token)
    session.flush()
    audit(
        session,
        "token.created",
        actor=me.username,
        now=now,
        token_id=token.id,
        name=token.name,
        prefix=token.prefix,
        user=user.username,
        scopes=token.scopes,
    )
    session.commit()
    return TokenCreated(**_token_out(token, user.username).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: str, session: SessionDep, me: AdminUser) -> TokenOut:
    """Revoke a token (it is kept, marked revoked, for the record). Revoking twice is fine."""
    now = clock.now()
    token = session.get(ApiToken, token_id)
    if token is None:
        raise not_found("API token", token_id)
    username = session.scalar(select(User.username).where(User.id == token.user_id)) or ""
    if token.revoked_at is None:
        token.revoked_at = now
        audit(
            session,
            "token.revoked",
            actor=me.username,
            now=now,
            token_id=token.id,
            name=token.name,
            prefix=token.prefix,
            user=username,
        )
        session.commit()
    return _token_out(token, username)


# --- audit log ------------------------------------------------------------------------------


@router.get("/audit", response_model=Page[AuditOut])
def audit_log(
    session: SessionDep,
    me: AdminUser,
    instance: Annotated[str | None, Query(max_length=32)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[
        str | None,
        Query(max_length=60, description="an action, or its first part: 'table' for 'table.*'"),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[AuditOut]:
    """The audit log, newest first."""
    query = select(AuditEvent)
    if instance:
        query = query.where(AuditEvent.instance_id == instance)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(
            or_(
                AuditEvent.action == action,
                AuditEvent.action.startswith(action + ".", autoescape=True),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEvent.id.desc()).offset(offset).limit(limit))
    items = [audit_out(r) for r in rows]
    return Page(items=items, total=total, offset=offset, limit=limit)
