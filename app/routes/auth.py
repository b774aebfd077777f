"""Logging in and out, and who am I."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from sqlalchemy import delete, func, select

from app import clock
from app.db.models import LoginAttempt, LoginSession, User
from app.deps import SESSION_COOKIE, CurrentUser, SessionDep, SettingsDep, roles_of
from app.errors import ApiError
from app.schemas import ERRORS, LoginIn, MeOut
from app.security import new_token, token_hash, verify_password

router = APIRouter(prefix="/api", tags=["auth"], responses=ERRORS)

THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_LIMIT = 10
"""Failed logins per (username, client) in the window before that pair must wait. Keyed by the
client too, so that someone guessing from elsewhere cannot lock the real user out."""


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/login", response_model=MeOut)
def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> MeOut:
    now = clock.now()
    client = _client(request)
    recent = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.username == body.username,
            LoginAttempt.client == client,
            LoginAttempt.at > now - THROTTLE_WINDOW,
        )
    )
    if (recent or 0) >= THROTTLE_LIMIT:
        raise ApiError(
            429, "too_many_attempts", "too many failed logins; wait 15 minutes and try again"
        )
    user = session.scalar(select(User).where(User.username == body.username))
    ok = verify_password(user.password_hash if user else None, body.password)
    if user is None or not ok or not user.is_active:
        session.add(LoginAttempt(username=body.username, client=client, at=now))
        failed = True
    else:
        failed = False
        session.execute(
            delete(LoginAttempt).where(
                LoginAttempt.username == body.username, LoginAttempt.client == client
            )
        )
        token = new_token()
        csrf = secrets.token_urlsafe(24)
        session.add(
            LoginSession(
                id=token_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                # on the system clock, as it is checked: a moved demo clock neither ends
                # nor lengthens logins
                expires_at=datetime.now(UTC) + timedelta(hours=settings.session_hours),
            )
        )
        roles = sorted(roles_of(session, user.id))
        out = MeOut(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            roles=roles,
            csrf_token=csrf,
            via="session",
        )
    session.commit()
    if failed:
        raise ApiError(401, "bad_credentials", "wrong username or password")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
        path="/",
    )
    return out


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, session: SessionDep, me: CurrentUser) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session.execute(delete(LoginSession).where(LoginSession.id == token_hash(cookie)))
        session.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeOut)
def me(request: Request, session: SessionDep, principal: CurrentUser) -> MeOut:
    user = session.get(User, principal.user_id)
    if user is None:
        raise ApiError(401, "unauthenticated", "your user no longer exists")
    csrf = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal.via == "session" and cookie:
        login_row = session.get(LoginSession, token_hash(cookie))
        csrf = login_row.csrf_token if login_row else None
    return MeOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=sorted(principal.roles),
        csrf_token=csrf,
        via=principal.via,
    )
