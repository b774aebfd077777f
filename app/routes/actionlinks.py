"""The pages behind signed action links (``/act/{token}``, HTML, no login: the token is the key).

``GET`` shows what the link would do and a button; it never acts, since mail scanners and
link previews fetch links. ``POST`` (the button) completes the task with the link's outcome
as the person the link was made for, through the task API's own ``complete``. A link that
cannot be used answers a page that says why, with a 4xx status. See
``app/services/actionlinks.py``.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app import clock
from app.db.models import ActionLink, Instance, Task
from app.deps import SessionDep
from app.errors import COMMAND_STATUS, ApiError
from app.routes.tasks import complete
from app.schemas import CompleteIn
from app.services.actionlinks import LinkRefused, check, principal_for
from app.services.records import audit
from engine import CommandError

router = APIRouter(tags=["action links"], include_in_schema=False)

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
"""The link is a secret: not cached, not passed on as a referrer, not indexed."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Stepwise</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2937}}
h1{{font-size:1.4rem;color:#4338ca}}dl{{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}}
dt{{color:#6b7280}}button{{font:inherit;padding:.5rem 1.25rem;border:0;border-radius:.375rem;background:#4338ca;color:#fff;cursor:pointer}}</style>
</head><body><main>
<h1>{title}</h1>
{body}
</main></body></html>
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        PAGE.format(title=escape(title), body=body), status_code=status, headers=PRIVATE_HEADERS
    )


def _refused(refusal: LinkRefused) -> HTMLResponse:
    return _page(refusal.title, f"<p>{escape(refusal.reason)}</p>", refusal.status)


def _facts(link: ActionLink, task: Task, instance: Instance | None) -> str:
    rows = [("Task", task.name), ("Decision", link.outcome), ("As", link.username)]
    if instance is not None:
        rows.insert(1, ("For", instance.business_key or instance.workflow_key))
        if instance.stage:
            rows.insert(2, ("Stage", instance.stage))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


@router.get("/act/{token}", response_class=HTMLResponse)
def confirm(token: str, session: SessionDep) -> HTMLResponse:
    """What the link would do, and a button that does it. Reading it changes nothing."""
    try:
        link, task = check(session, token, clock.now())
    except LinkRefused as refusal:
        return _refused(refusal)
    instance = session.get(Instance, task.instance_id)
    verb = link.outcome.capitalize()
    body = (
        _facts(link, task, instance)
        + f'<form method="post" action="/act/{escape(token)}">'
        + f'<button type="submit">{escape(verb)}</button></form>'
    )
    return _page(f"{verb} “{task.name}”?", body)


@router.post("/act/{token}", response_class=HTMLResponse)
def act(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    """Complete the task with the link's outcome as the link's person, once."""
    now = clock.now()
    try:
        link, task = check(session, token, now, lock=True)
        me = principal_for(session, link.username)
    except LinkRefused as refusal:
        return _refused(refusal)
    link.used_at = now  # committed with the completion, or not at all
    audit(
        session,
        "task.action_link",
        actor=me.username,
        instance_id=task.instance_id,
        task_id=task.id,
        now=now,
        via="action link",
        outcome=link.outcome,
        link=link.id,
    )
    try:
        complete(task.id, CompleteIn(data={}, outcome=link.outcome), request, session, me)
    except ApiError as exc:  # not theirs any more, four eyes, a form that needs filling in
        session.rollback()
        return _page("Not done", f"<p>{escape(exc.message)}</p>", exc.status)
    except CommandError as exc:
        session.rollback()
        status = COMMAND_STATUS.get(exc.code, 409)
        return _page("Not done", f"<p>{escape(exc.message)}</p>", status)
    body = f"<p>{escape(link.outcome.capitalize())}: done. “{escape(task.name)}” is complete.</p>"
    return _page("Done", body)
