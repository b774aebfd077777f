"""Request dependencies: the database session and who is asking."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import ApiToken, LoginSession, Membership, User
from app.errors import ApiError
from app.security import token_hash
from app.settings import Settings

SESSION_COOKIE = "stepwise_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_db(request: Request) -> Iterator[Session]:
    """A session for this request; reads (GET, HEAD) take no write lock on SQLite."""
    state = request.app.state
    make = state.read_sessionmaker if request.method in ("GET", "HEAD") else state.sessionmaker
    with make() as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Principal:
    """Who is asking: a person by session cookie, or a system by API token."""

    user_id: str
    username: str
    roles: frozenset[str]
    via: str = "session"
    scopes: frozenset[str] = frozenset({"read", "write"})

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_designer(self) -> bool:
        return self.is_admin or "designer" in self.roles


def roles_of(session: Session, user_id: str) -> frozenset[str]:
    return frozenset(session.scalars(select(Membership.role).where(Membership.user_id == user_id)))


def _from_token(session: Session, header: str, request: Request) -> Principal:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(header)))
    if token is None or token.revoked_at is not None:
        raise ApiError(401, "unauthenticated", "the API token is not valid or was revoked")
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise ApiError(401, "unauthenticated", "the API token's user is not active")
    now = datetime.now(UTC)
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = (
            now  # written with the request's own transaction, at most once a minute
        )
    scopes = frozenset(token.scopes or ())
    needed = "write" if request.method in UNSAFE else "read"
    if needed not in scopes and "*" not in scopes:
        raise ApiError(403, "forbidden", f"this API token lacks the '{needed}' scope")
    return Principal(user.id, user.username, roles_of(session, user.id), via="token", scopes=scopes)


def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return _from_token(session, auth[7:].strip(), request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    login = session.get(LoginSession, token_hash(cookie))
    if login is None or login.expires_at <= datetime.now(UTC):
        return None
    if request.method in UNSAFE and request.headers.get(CSRF_HEADER) != login.csrf_token:
        raise ApiError(403, "csrf", f"this request needs the {CSRF_HEADER} header from GET /api/me")
    user = session.get(User, login.user_id)
    if user is None or not user.is_active:
        return None
    return Principal(user.id, user.username, roles_of(session, user.id))


def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise ApiError(
            401, "unauthenticated", "log in first (POST /api/auth/login) or send a Bearer token"
        )
    return principal


def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "only an admin may do this")
    return principal


def designer_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_designer:
        raise ApiError(403, "forbidden", "only a designer or an admin may do this")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(admin_principal)]
DesignerUser = Annotated[Principal, Depends(designer_principal)]
MaybeUser = Annotated[Principal | None, Depends(optional_principal)]
