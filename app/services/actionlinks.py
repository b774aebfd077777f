"""Signed action links: approve or reject a task straight from a notification.

A link is ``<public_url>/act/<id>.<signature>``. Its row (``action_links``) ties it to one
task, one outcome and the person it was made for, with an expiry (``LINK_TTL``, 7 days) and,
once used, when. The signature is an HMAC-SHA256 with the server's link key over the id,
task, outcome, person and expiry, so a link that was altered — or a row changed behind it —
is refused. The key is ``Settings.action_link_secret`` or else one generated once into
``<data_dir>/action-link.key``; every process serving links must have the same one.

``GET /act/<token>`` only shows what the link would do (mail scanners fetch links);
``POST`` does it, as that person, through ``POST /api/tasks/{id}/complete``'s own code, so
permissions, four eyes and the audit log apply (``app/routes/actionlinks.py``).

Templates get links through ``action_links(session, task, now)``; the key reaches it in the
session's ``info`` (``install`` puts it there for every session the app makes), since the
workers that render notifications have a session but no request.

Rejected: links that carry everything in the token and keep no row (they could not be used
once only); the task's own id as the token (guessable by whoever sees the inbox).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import ActionLink, Task, User
from app.deps import Principal, roles_of
from app.settings import Settings

LINK_TTL = timedelta(days=7)
KEY_FILE = "action-link.key"
INFO_KEY = "stepwise.action_links"
"""``session.info`` key holding the ``LinkKeys`` of the app that made the session."""


@dataclass(frozen=True)
class LinkKeys:
    secret: bytes
    base_url: str
    """Put before ``/act/…``: ``STEPWISE_SETTING_PUBLIC_URL`` (empty: links are relative)."""


class LinkRefused(Exception):
    """Why a link cannot be used, for the page that says so."""

    def __init__(self, status: int, title: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.title, self.reason = status, title, reason


def load_secret(settings: Settings) -> bytes:
    """The link key: the setting, or the key file in the data dir (made on first use, readable
    by this user only; when two processes race to make it, both read the winner's)."""
    if settings.action_link_secret:
        return settings.action_link_secret.encode()
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
                out.flush()
                os.fsync(out.fileno())
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"{path} is empty; delete it to have a new key made")
    return value.encode()


def install(app: FastAPI) -> None:
    """Make the link key and put it in the info of every session the app's sessionmakers
    make (requests and workers)."""
    settings: Settings = app.state.settings
    keys = LinkKeys(load_secret(settings), settings.extra.get("public_url", "").rstrip("/"))
    app.state.link_keys = keys
    for maker in (app.state.sessionmaker, app.state.read_sessionmaker):
        maker.configure(info={**maker.kw.get("info", {}), INFO_KEY: keys})


def keys_of(session: Session) -> LinkKeys:
    keys = session.info.get(INFO_KEY)
    if not isinstance(keys, LinkKeys):
        raise RuntimeError("action links need a session made by the app (actionlinks.install)")
    return keys


def signature(secret: bytes, link: ActionLink) -> str:
    signed = "|".join(
        (
            link.id,
            link.task_id,
            link.outcome,
            link.username,
            str(int(link.expires_at.timestamp())),
        )
    )
    digest = hmac.new(secret, signed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token(secret: bytes, link: ActionLink) -> str:
    return f"{link.id}.{signature(secret, link)}"


def action_links(
    session: Session,
    task: Task,
    now: datetime,
    *,
    user: str | None = None,
    ttl: timedelta = LINK_TTL,
) -> dict[str, str]:
    """``{outcome: url}`` for an open task with outcomes (an approval), made for ``user`` —
    by default whoever holds the task. Empty when the task is not open, has no outcomes, has
    nobody to make them for, or ``user`` is excluded from it (four eyes). Links made for the
    same task, outcome and person that still have more than half their time are given again
    (a retried notification carries the same links). The caller commits."""
    who = user or task.assignee
    if task.status != "open" or not task.outcomes or not who or who in task.excluded_users:
        return {}
    keys = keys_of(session)
    existing = {
        link.outcome: link
        for link in session.scalars(
            select(ActionLink)
            .where(
                ActionLink.task_id == task.id,
                ActionLink.username == who,
                ActionLink.used_at.is_(None),
                ActionLink.expires_at > now + ttl / 2,
            )
            .order_by(ActionLink.expires_at)
        )
    }
    links: dict[str, str] = {}
    for outcome in task.outcomes:
        link = existing.get(outcome)
        if link is None:
            link = ActionLink(
                task_id=task.id,
                outcome=str(outcome),
                username=who,
                created_at=now,
                expires_at=now + ttl,
            )
            session.add(link)
            session.flush()  # the id is signed
        links[str(outcome)] = f"{keys.base_url}/act/{token(keys.secret, link)}"
    return links


def task_context(
    session: Session, task: Task, now: datetime, *, user: str | None = None
) -> dict[str, Any]:
    """A task as notification templates see it: ``task.name``, ``task.links.approve``."""
    return {
        "id": task.id,
        "name": task.name,
        "node": task.node,
        "outcomes": list(task.outcomes),
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "links": action_links(session, task, now, user=user),
    }


# --- using a link ---------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y, %H:%M UTC")


def check(
    session: Session, value: str, now: datetime, *, lock: bool = False
) -> tuple[ActionLink, Task]:
    """The link ``value`` stands for and its task, if it may be used now.

    Raises:
        LinkRefused: not a link (404), altered (403), used (410), expired (410), the task
            done or cancelled (409), or no longer with the person the link was made for (409).
    """
    link_id, _, given = value.partition(".")
    if len(link_id) != 32 or not given or len(value) > 200:
        raise LinkRefused(404, "Not a valid link", "This link is incomplete or not one of ours.")
    link = session.get(ActionLink, link_id, with_for_update=True if lock else None)
    if link is None:
        raise LinkRefused(
            404, "Not a valid link", "This link is not known here; it may have been cut short."
        )
    if not hmac.compare_digest(given, signature(keys_of(session).secret, link)):
        raise LinkRefused(403, "Link altered", "This link has been altered, so it cannot be used.")
    task = session.get(Task, link.task_id)
    if task is None:
        raise LinkRefused(404, "Task gone", "The task this link was for no longer exists.")
    if link.used_at is not None:
        raise LinkRefused(
            410,
            "Link already used",
            f"This link was already used on {_when(link.used_at)}; a link works once.",
        )
    if task.status != "open":
        done = f" by {task.completed_by}" if task.completed_by else ""
        outcome = f" ({task.outcome})" if task.outcome else ""
        raise LinkRefused(
            409,
            "Task already closed",
            f"“{task.name}” was already {task.status}{done}{outcome}; nothing more to do.",
        )
    if link.expires_at <= now:
        raise LinkRefused(
            410,
            "Link expired",
            f"This link expired on {_when(link.expires_at)}. Open the task in Stepwise instead.",
        )
    if task.assignee is not None and task.assignee != link.username:
        raise LinkRefused(
            409,
            "Task reassigned",
            f"“{task.name}” was reassigned since this link was sent to {link.username}; "
            "the link no longer applies.",
        )
    return link, task


def principal_for(session: Session, username: str) -> Principal:
    """Who acts through a link: its person, with their roles now. 403 page if inactive."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise LinkRefused(403, "Account not active", f"{username} may no longer act here.")
    return Principal(user.id, user.username, roles_of(session, user.id), via="action_link")
