"""Signed webhooks: deliveries that start workflows (``/hooks/{key}``), deliveries of
messages that waiting instances are matched to (``/hooks/messages/{name}``), and the secrets
both are signed with.

A workflow's webhook takes its scheme and mapping from the start node's trigger; a message
hook's are kept by admins (``/api/admin/message-hooks/{name}``), since a message is not one
workflow's. Both check the signature first (nothing is read, kept or moved before that); a
start that fails after it is kept as a dead letter (``app/services/deadletters.py``), a
message is matched, held or refused by ``app/services/messages.py``.
"""

from __future__ import annotations

import json
import re
import secrets as random_secrets
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.db.models import (
    MessageHook,
    MessageHookSecret,
    WebhookSecret,
    Workflow,
)
from app.deps import AdminUser, SessionDep
from app.errors import ApiError, not_found
from app.routes.instances import cache
from app.routes.messages import MessageReceipt, answer
from app.routes.tables import NO_NUL, refuse_nul
from app.schemas import ERRORS
from app.services import deadletters, messages
from app.services.intake import Delivery, Intake, check_signature, parse_json
from app.services.records import audit
from app.services.runner import DefinitionCache
from app.services.signatures import delivery_id, sign
from designer import sample_for
from engine import ExpressionError, compile_expression

router = APIRouter(tags=["webhooks"], responses=ERRORS, dependencies=[Depends(refuse_nul)])

HookName = Annotated[str, Path(min_length=1, max_length=200)]


class HookAccepted(BaseModel):
    instance_id: str
    duplicate: bool = False


class SecretOut(BaseModel):
    id: str
    prefix: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    secret: str | None = None
    """Shown once, when it is created."""
    example: dict[str, str] | None = None
    """The headers of a signed example delivery of ``example_body``, made when it is created."""
    example_body: str | None = None


Expression = Annotated[str, Field(min_length=1, max_length=1000, pattern=NO_NUL)]
FieldName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]


class MessageHookIn(BaseModel):
    """How deliveries of one message are signed and read. Expressions see ``body`` (the JSON
    body), ``headers`` (lower-case names) and ``query``."""

    model_config = ConfigDict(extra="forbid")
    scheme: Literal["generic", "github", "shopify", "stripe"] = "generic"
    tolerance_s: int = Field(default=300, ge=1, le=86_400)
    correlation: Expression = Field(
        description="the value a waiting instance is matched by, e.g. body.tracking_number"
    )
    mapping: dict[FieldName, Expression] = Field(
        default_factory=dict,
        max_length=100,
        description="the message's data, field by field; empty: the body itself (an object)",
    )
    idempotency: Expression | None = Field(
        default=None,
        description="the delivery's id when the sender sends no Idempotency-Key, e.g. "
        "body.event_id; without one, the body's SHA-256",
    )


class MessageHookOut(BaseModel):
    name: str
    url: str
    scheme: str
    tolerance_s: int
    correlation: str
    mapping: dict[str, str]
    idempotency: str | None
    active_secrets: int
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None


# --- workflow webhooks ----------------------------------------------------------------------


@router.post("/hooks/{key}", response_model=HookAccepted, status_code=202)
async def receive(key: str, request: Request) -> JSONResponse:
    """Start ``key`` from a signed delivery. A retried delivery (same Idempotency-Key, or the
    sender's own delivery id) answers with the same instance; the same key with another body
    is refused. A signed delivery that cannot start an instance is answered with the error
    and kept as a dead letter (named in the ``X-Stepwise-Dead-Letter`` header) for replay.
    Deliveries arriving together are started in one transaction (``app/services/intake.py``)."""
    body = await request.body()
    delivery = Delivery(
        key=key,
        body=body,
        headers=dict(request.headers),
        query=dict(request.query_params),
        now=clock.now(),
    )
    intake: Intake = request.app.state.intake
    answer = await intake.receive(delivery)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def _secret_out(
    row: WebhookSecret | MessageHookSecret,
    *,
    shown: str | None = None,
    example: dict[str, str] | None = None,
    example_body: bytes | None = None,
) -> SecretOut:
    return SecretOut(
        id=row.id,
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        secret=shown,
        example=example,
        example_body=example_body.decode() if example_body is not None else None,
    )


_BODY_PATH = re.compile(r"^\s*body((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*$")


def example_body(data_schema: dict[str, Any] | None, mapping: dict[str, str]) -> bytes:
    """A delivery body the workflow would start from: sample values for its data schema, put
    where the mapping reads them (``body.customer.email``); without a mapping, the sample
    data itself. A field whose mapping is more than a path into the body is left out."""
    sample = sample_for(data_schema) if data_schema else {}
    data = sample if isinstance(sample, dict) else {}
    body: dict[str, Any] = {}
    if not mapping:
        body = data or {"order_id": "A-1"}
    for field, source in mapping.items():
        found = _BODY_PATH.match(source)
        if found is None:
            continue
        *parents, last = found.group(1).lstrip(".").split(".")
        cursor = body
        for part in parents:
            child = cursor.get(part)
            cursor[part] = child if isinstance(child, dict) else {}
            cursor = cursor[part]
        cursor[last] = data.get(field, "sample")
    return json.dumps(body, separators=(",", ":")).encode()


def _new_secret() -> str:
    return "whsec_" + random_secrets.token_urlsafe(32)


@router.get("/api/admin/webhooks/{key}/secrets", response_model=list[SecretOut], tags=["admin"])
def list_secrets(key: str, session: SessionDep, me: AdminUser) -> list[SecretOut]:
    rows = session.scalars(select(WebhookSecret).where(WebhookSecret.workflow_key == key))
    return [_secret_out(r) for r in rows]


@router.post(
    "/api/admin/webhooks/{key}/secrets", response_model=SecretOut, status_code=201, tags=["admin"]
)
def create_secret(key: str, request: Request, session: SessionDep, me: AdminUser) -> SecretOut:
    """A new secret (shown once). The older ones stay valid until revoked: rotate without a gap.
    A workflow not published yet may have one when its draft is started by webhook."""
    trigger = deadletters.webhook_trigger(session, cache(request), key)
    value = _new_secret()
    now = clock.now()
    row = WebhookSecret(
        workflow_key=key, secret=value, prefix=value[:12], created_at=now, created_by=me.username
    )
    session.add(row)
    audit(session, "webhook.secret_created", actor=me.username, now=now, workflow=key)
    session.commit()
    scheme = trigger.webhook.scheme if trigger.webhook else "generic"
    body = example_body(
        _data_schema(session, cache(request), key),
        trigger.webhook.mapping if trigger.webhook else {},
    )
    example = sign(scheme, value, body, now=now)
    return _secret_out(row, shown=value, example=example, example_body=body)


def _data_schema(session: Session, cache: DefinitionCache, key: str) -> dict[str, Any] | None:
    """The data schema of ``key``'s published version, or of its draft before the first."""
    workflow = session.get(Workflow, key)
    if workflow is None:
        return None
    if workflow.published_version is not None:
        return cache.get(session, key, workflow.published_version).definition.data
    data = workflow.draft.get("data") if isinstance(workflow.draft, dict) else None
    return data if isinstance(data, dict) else None


@router.delete(
    "/api/admin/webhooks/{key}/secrets/{secret_id}", response_model=SecretOut, tags=["admin"]
)
def revoke_secret(key: str, secret_id: str, session: SessionDep, me: AdminUser) -> SecretOut:
    row = session.get(WebhookSecret, secret_id)
    if row is None or row.workflow_key != key:
        raise not_found("webhook secret", secret_id)
    now = clock.now()
    row.revoked_at = row.revoked_at or now
    audit(session, "webhook.secret_revoked", actor=me.username, now=now, workflow=key)
    session.commit()
    return _secret_out(row)


# --- message hooks --------------------------------------------------------------------------


@router.post(
    "/hooks/messages/{name}",
    response_model=MessageReceipt,
    responses={202: {"model": MessageReceipt, "description": "Held until an instance waits"}},
)
async def receive_message(name: HookName, request: Request, session: SessionDep) -> JSONResponse:
    """Deliver message ``name`` from a signed delivery to the instance waiting for it with the
    correlation value the hook reads from the delivery. As ``POST /api/messages``: 404 when
    nothing waits (unless kept early: 202), 409 when several do; the same delivery again
    (``Idempotency-Key``, the hook's ``idempotency`` expression, the sender's delivery id, or
    else the same correlation value and data) moves nothing and answers ``duplicate``; the
    same id with another correlation value or data is 422 ``idempotency_conflict``."""
    body = await request.body()
    return await run_in_threadpool(_receive_message, request, session, name, body)


def _receive_message(request: Request, session: Session, name: str, body: bytes) -> JSONResponse:
    now = clock.now()
    hook = session.get(MessageHook, name)
    if hook is None:
        raise not_found("message hook", name)
    keys = list(
        session.scalars(
            select(MessageHookSecret.secret).where(
                MessageHookSecret.hook == name, MessageHookSecret.revoked_at.is_(None)
            )
        )
    )
    headers = dict(request.headers)
    check_signature(hook.scheme, headers, body, keys, now=now, tolerance=hook.tolerance_s)
    payload = parse_json(body)
    names = messages.delivery_names(payload, headers, request.query_params)
    correlation = messages.evaluate("correlation", hook.correlation, names)
    if correlation is None:
        raise ApiError(422, "invalid_payload", f"correlation: {hook.correlation!r} gives no value")
    data = messages.map_fields(hook.mapping, payload, names)
    given = headers.get("idempotency-key")
    if not given and hook.idempotency:
        derived = messages.evaluate("idempotency", hook.idempotency, names)
        given = None if derived is None else str(derived)
    # the message is what the mapping reads: retries that differ elsewhere are the same one
    content = messages.digest({"message": name, "correlation": correlation, "data": data})
    receipt = messages.receive(
        session,
        cache=cache(request),
        message=name,
        correlation=correlation,
        data=data,
        key=messages.idempotency_key(
            given or delivery_id(hook.scheme, headers, payload), f"sha256:{content}"
        ),
        body_sha256=content,
        actor=f"hook:{name}"[:100],
        source=f"hook:{name}",
        now=now,
    )
    return answer(receipt)


def _hook_out(session: Session, hook: MessageHook) -> MessageHookOut:
    active = session.scalar(
        select(func.count()).where(
            MessageHookSecret.hook == hook.name, MessageHookSecret.revoked_at.is_(None)
        )
    )
    return MessageHookOut(
        name=hook.name,
        url=f"/hooks/messages/{hook.name}",
        scheme=hook.scheme,
        tolerance_s=hook.tolerance_s,
        correlation=hook.correlation,
        mapping=dict(hook.mapping),
        idempotency=hook.idempotency,
        active_secrets=active or 0,
        created_at=hook.created_at,
        created_by=hook.created_by,
        updated_at=hook.updated_at,
        updated_by=hook.updated_by,
    )


def _hook(session: Session, name: str) -> MessageHook:
    hook = session.get(MessageHook, name)
    if hook is None:
        raise not_found("message hook", name)
    return hook


def _check_expressions(body: MessageHookIn) -> None:
    sources = {
        "correlation": body.correlation,
        **{f"mapping.{k}": v for k, v in body.mapping.items()},
    }
    if body.idempotency:
        sources["idempotency"] = body.idempotency
    problems = []
    for where, source in sources.items():
        try:
            compile_expression(source)
        except ExpressionError as exc:
            problems.append({"field": where, "message": exc.message})
    if problems:
        raise ApiError(422, "invalid_hook", "an expression does not parse", problems)


@router.get("/api/admin/message-hooks", response_model=list[MessageHookOut], tags=["admin"])
def list_message_hooks(session: SessionDep, me: AdminUser) -> list[MessageHookOut]:
    rows = session.scalars(select(MessageHook).order_by(MessageHook.name))
    return [_hook_out(session, h) for h in rows]


@router.put("/api/admin/message-hooks/{name}", response_model=MessageHookOut, tags=["admin"])
def put_message_hook(
    name: HookName, body: MessageHookIn, session: SessionDep, me: AdminUser
) -> MessageHookOut:
    """Create or replace how message ``name`` is received at ``/hooks/messages/{name}``; its
    secrets stay. 422 ``invalid_hook`` when an expression does not parse."""
    if "/" in name:
        raise ApiError(422, "invalid_request", "a message hook's name cannot hold '/'")
    _check_expressions(body)
    now = clock.now()
    hook = session.get(MessageHook, name)
    if hook is None:
        hook = MessageHook(name=name, created_at=now, created_by=me.username)
        session.add(hook)
    hook.scheme, hook.tolerance_s = body.scheme, body.tolerance_s
    hook.correlation, hook.mapping, hook.idempotency = (
        body.correlation,
        dict(body.mapping),
        body.idempotency,
    )
    hook.updated_at, hook.updated_by = now, me.username
    audit(session, "message_hook.saved", actor=me.username, now=now, hook=name)
    session.commit()
    return _hook_out(session, hook)


@router.get("/api/admin/message-hooks/{name}", response_model=MessageHookOut, tags=["admin"])
def get_message_hook(name: HookName, session: SessionDep, me: AdminUser) -> MessageHookOut:
    return _hook_out(session, _hook(session, name))


@router.delete("/api/admin/message-hooks/{name}", status_code=204, tags=["admin"])
def delete_message_hook(name: HookName, session: SessionDep, me: AdminUser) -> Response:
    """Delete the hook with its secrets: its deliveries are 404 from then on."""
    hook = _hook(session, name)
    session.delete(hook)
    audit(session, "message_hook.deleted", actor=me.username, now=clock.now(), hook=name)
    session.commit()
    return Response(status_code=204)


@router.get(
    "/api/admin/message-hooks/{name}/secrets", response_model=list[SecretOut], tags=["admin"]
)
def list_message_hook_secrets(
    name: HookName, session: SessionDep, me: AdminUser
) -> list[SecretOut]:
    _hook(session, name)
    rows = session.scalars(
        select(MessageHookSecret)
        .where(MessageHookSecret.hook == name)
        .order_by(MessageHookSecret.created_at)
    )
    return [_secret_out(r) for r in rows]


@router.post(
    "/api/admin/message-hooks/{name}/secrets",
    response_model=SecretOut,
    status_code=201,
    tags=["admin"],
)
def create_message_hook_secret(name: HookName, session: SessionDep, me: AdminUser) -> SecretOut:
    """A new secret (shown once, with the headers that would sign a sample body). The older
    ones stay valid until revoked: rotate without a gap."""
    hook = _hook(session, name)
    value = _new_secret()
    now = clock.now()
    row = MessageHookSecret(
        hook=name, secret=value, prefix=value[:12], created_at=now, created_by=me.username
    )
    session.add(row)
    audit(session, "message_hook.secret_created", actor=me.username, now=now, hook=name)
    session.commit()
    example = sign(hook.scheme, value, b'{"tracking_number": "TRK00001"}', now=now)
    return _secret_out(row, shown=value, example=example)


@router.delete(
    "/api/admin/message-hooks/{name}/secrets/{secret_id}",
    response_model=SecretOut,
    tags=["admin"],
)
def revoke_message_hook_secret(
    name: HookName, secret_id: str, session: SessionDep, me: AdminUser
) -> SecretOut:
    row = session.get(MessageHookSecret, secret_id)
    if row is None or row.hook != name:
        raise not_found("message hook secret", secret_id)
    now = clock.now()
    row.revoked_at = row.revoked_at or now
    audit(session, "message_hook.secret_revoked", actor=me.username, now=now, hook=name)
    session.commit()
    return _secret_out(row)
