"""Request dependencies: the database session and who is asking."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.db.models import ApiToken, LoginSession, Membership, User
from app.errors import ApiError
from app.security import token_hash
from app.settings import Settings

SESSION_COOKIE = "stepwise_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A session for this request; reads (GET, HEAD) take no write lock on SQLite.

    Made and put away on the event loop, not in a worker thread: a session takes its
    connection at its first statement (in the endpoint's thread) and gives it back at commit,
    so after a commit closing it does no I/O. Only a session still in a transaction (a read,
    a failed request) is closed in a worker thread, since that ends the transaction on the
    database. Two thread hops a request fewer than a ``with`` in a plain generator.
    """
    state = request.app.state
    make = state.read_sessionmaker if request.method in ("GET", "HEAD") else state.sessionmaker
    session = make()
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):  # a client gone away still gets it closed
                await run_in_threadpool(session.close)
        else:
            session.close()


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


@dataclass(frozen=True)
class _Credential:
    """What a cookie or token stands for, cached briefly (see ``PrincipalCache``)."""

    principal: Principal | None
    csrf_token: str | None = None
    expires_at: datetime | None = None
    error: ApiError | None = None
    token_id: str | None = None
    last_used_at: datetime | None = None


class PrincipalCache:
    """Who a cookie or token is, for a few seconds: most requests then need no query for it.

    Logging out, revoking a token and changing a user clear it in this process at once;
    other processes see such a change within ``ttl``.
    """

    def __init__(self, ttl: timedelta = timedelta(seconds=5)) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[datetime, _Credential]] = {}

    def get(self, key: str, now: datetime) -> _Credential | None:
        found = self._items.get(key)
        if found is None or found[0] <= now:
            return None
        return found[1]

    def put(self, key: str, credential: _Credential, now: datetime) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[key] = (now + self.ttl, credential)

    def clear(self) -> None:
        self._items.clear()


def _lookup_token(session: Session, digest: str) -> _Credential:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or token.revoked_at is not None:
        return _Credential(
            None,
            error=ApiError(401, "unauthenticated", "the API token is not valid or was revoked"),
        )
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return _Credential(
            None, error=ApiError(401, "unauthenticated", "the API token's user is not active")
        )
    principal = Principal(
        user.id,
        user.username,
        roles_of(session, user.id),
        via="token",
        scopes=frozenset(token.scopes or ()),
    )
    return _Credential(principal, token_id=token.id, last_used_at=token.last_used_at)


def _lookup_session(session: Session, digest: str) -> _Credential:
    login = session.get(LoginSession, digest)
    if login is None:
        return _Credential(None)
    user = session.get(User, login.user_id)
    if user is None or not user.is_active:
        return _Credential(None)
    principal = Principal(user.id, user.username, roles_of(session, user.id))
    return _Credential(principal, csrf_token=login.csrf_token, expires_at=login.expires_at)


def _note_token_use(request: Request, token_id: str, now: datetime) -> None:
    """Record when a token was last used: its own short transaction, at most once a minute."""
    try:
        with request.app.state.sessionmaker() as session:
            token = session.get(ApiToken, token_id)
            if token is not None:
                token.last_used_at = now
                session.commit()
    except OperationalError:
        pass  # busy: the next use records it


async def optional_principal(request: Request) -> Principal | None:
    """Who is asking, from the Bearer token or the session cookie (cached for a few seconds)."""
    auth = request.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    cookie = None if bearer else request.cookies.get(SESSION_COOKIE)
    if not bearer and not cookie:
        return None
    digest = token_hash(bearer or cookie or "")
    cache: PrincipalCache = request.app.state.principals
    now = datetime.now(UTC)
    found = cache.get(digest, now)
    if found is None:
        lookup = _lookup_token if bearer else _lookup_session

        def read() -> _Credential:
            with request.app.state.read_sessionmaker() as session:
                return lookup(session, digest)

        found = await run_in_threadpool(read)
        cache.put(digest, found, now)
        if found.token_id is not None and (
            found.last_used_at is None or now - found.last_used_at > timedelta(minutes=1)
        ):
            await run_in_threadpool(_note_token_use, request, found.token_id, now)
    if found.error is not None:
        raise found.error
    principal = found.principal
    if principal is None:
        return None
    if bearer:
        needed = "write" if request.method in UNSAFE else "read"
        if needed not in principal.scopes and "*" not in principal.scopes:
            raise ApiError(403, "forbidden", f"this API token lacks the '{needed}' scope")
        return principal
    if found.expires_at is not None and found.expires_at <= now:
        return None
    if request.method in UNSAFE and request.headers.get(CSRF_HEADER) != found.csrf_token:
        raise ApiError(403, "csrf", f"this request needs the {CSRF_HEADER} header from GET /api/me")
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise ApiError(
            401, "unauthenticated", "log in first (POST /api/auth/login) or send a Bearer token"
        )
    return principal


async def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "only an admin may do this")
    return principal


async def designer_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if not principal.is_designer:
        raise ApiError(403, "forbidden", "only a designer or an admin may do this")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(admin_principal)]
DesignerUser = Annotated[Principal, Depends(designer_principal)]
MaybeUser = Annotated[Principal | None, Depends(optional_principal)]


MAX_JSON_DEPTH = 64


class _NotJsonNumber(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJsonNumber(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: Python reads it as infinity, stored as null
        raise _NotJsonNumber(f"{text[:40]} is too large a number to keep")
    return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


async def sane_json(request: Request) -> None:
    """Refuse JSON bodies with NaN or Infinity (not JSON), numbers too large to keep (1e400),
    or nested deeper than anyone needs."""
    if request.method not in UNSAFE or "json" not in request.headers.get("content-type", ""):
        return
    raw = await request.body()
    if not raw:
        return
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite)
    except _NotJsonNumber as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    except ValueError:
        return  # malformed JSON: FastAPI's own parsing reports it
    except RecursionError:
        raise ApiError(422, "invalid_request", "the JSON is nested too deeply") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ApiError(
            422, "invalid_request", f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels"
        )
