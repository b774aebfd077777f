"""Signed webhooks that start workflows, and the secrets they are signed with."""

from __future__ import annotations

import hashlib
import json
import secrets as random_secrets
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.db.models import WebhookDelivery, WebhookSecret, Workflow
from app.deps import AdminUser, SessionDep
from app.errors import ApiError, not_found
from app.schemas import ERRORS
from app.services import runner
from app.services.records import audit
from app.services.signatures import SignatureError, delivery_id, sign, verify
from engine import ExpressionError, compile_expression

router = APIRouter(tags=["webhooks"], responses=ERRORS)


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


def _trigger(session: SessionDep, request: Request, key: str) -> tuple[Workflow, Any]:
    workflow = session.get(Workflow, key)
    if workflow is None or workflow.archived or workflow.published_version is None:
        raise not_found("published workflow", key)
    compiled = request.app.state.definitions.get(session, key, workflow.published_version)
    trigger = compiled.nodes[compiled.start].trigger
    if trigger.type != "webhook":
        raise ApiError(404, "not_found", f"workflow {key!r} is not started by webhook")
    return workflow, trigger


def _map(mapping: dict[str, str], payload: Any, request: Request) -> dict[str, Any]:
    if not mapping:
        if not isinstance(payload, dict):
            raise ApiError(
                422, "invalid_payload", "the body must be a JSON object (or the trigger maps it)"
            )
        return payload
    names = {
        "body": payload,
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "query": dict(request.query_params),
    }
    data: dict[str, Any] = {}
    for field, source in mapping.items():
        try:
            data[field] = compile_expression(source).evaluate(names)
        except ExpressionError as exc:
            raise ApiError(
                422, "invalid_payload", f"{field}: {exc.message} (mapping {source!r})"
            ) from None
    return data


@router.post("/hooks/{key}", response_model=HookAccepted, status_code=202)
async def receive(key: str, request: Request, session: SessionDep) -> JSONResponse:
    """Start ``key`` from a signed delivery. A retried delivery (same Idempotency-Key, or the
    sender's own delivery id) answers with the same instance; the same key with another body
    is refused."""
    body = await request.body()
    return await _in_thread(request, session, key, body)


async def _in_thread(request: Request, session: SessionDep, key: str, body: bytes) -> JSONResponse:
    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(_receive, request, session, key, body)


def _receive(request: Request, session: SessionDep, key: str, body: bytes) -> JSONResponse:
    now = clock.now()
    _workflow, trigger = _trigger(session, request, key)
    scheme = trigger.webhook.scheme if trigger.webhook else "generic"
    tolerance = trigger.webhook.tolerance_s if trigger.webhook else 300
    mapping = trigger.webhook.mapping if trigger.webhook else {}
    keys = session.scalars(
        select(WebhookSecret.secret).where(
            WebhookSecret.workflow_key == key, WebhookSecret.revoked_at.is_(None)
        )
    ).all()
    try:
        verify(scheme, dict(request.headers), body, keys, now=now, tolerance_s=tolerance)
    except SignatureError as exc:
        raise ApiError(401, "bad_signature", str(exc)) from None
    try:
        payload = json.loads(body)
    except ValueError:
        raise ApiError(422, "invalid_payload", "the body is not JSON") from None
    digest = hashlib.sha256(body).hexdigest()
    idem = delivery_id(scheme, dict(request.headers))
    if idem:
        found = session.get(WebhookDelivery, (key, idem))
        if found is not None:
            return _again(found, digest)
    data = _map(mapping, payload, request)
    instance = runner.start_instance(
        session,
        cache=request.app.state.definitions,
        workflow_key=key,
        data=data,
        actor=f"webhook:{key}",
        now=now,
    )
    if idem:
        session.add(
            WebhookDelivery(
                workflow_key=key,
                idempotency_key=idem,
                body_sha256=digest,
                instance_id=instance.id,
                received_at=now,
            )
        )
    audit(
        session,
        "webhook.received",
        actor=f"webhook:{key}",
        instance_id=instance.id,
        now=now,
        scheme=scheme,
        delivery=idem,
    )
    try:
        session.commit()
    except IntegrityError:  # the same delivery, arriving at the same moment: the first one won
        session.rollback()
        found = session.get(WebhookDelivery, (key, idem)) if idem else None
        if found is None:
            raise
        return _again(found, digest)
    return JSONResponse({"instance_id": instance.id, "duplicate": False}, status_code=202)


def _again(found: WebhookDelivery, digest: str) -> JSONResponse:
    if found.body_sha256 != digest:
        raise ApiError(
            422, "idempotency_conflict", "this delivery id was used before with another body"
        )
    return JSONResponse({"instance_id": found.instance_id, "duplicate": True}, status_code=202)


def _secret_out(
    row: WebhookSecret, *, shown: str | None = None, example: dict[str, str] | None = None
) -> SecretOut:
    return SecretOut(
        id=row.id,
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        secret=shown,
        example=example,
    )


@router.get("/api/admin/webhooks/{key}/secrets", response_model=list[SecretOut], tags=["admin"])
def list_secrets(key: str, session: SessionDep, me: AdminUser) -> list[SecretOut]:
    rows = session.scalars(select(WebhookSecret).where(WebhookSecret.workflow_key == key))
    return [_secret_out(r) for r in rows]


@router.post(
    "/api/admin/webhooks/{key}/secrets", response_model=SecretOut, status_code=201, tags=["admin"]
)
def create_secret(key: str, request: Request, session: SessionDep, me: AdminUser) -> SecretOut:
    """A new secret (shown once). The older ones stay valid until revoked: rotate without a gap."""
    _workflow, trigger = _trigger(session, request, key)
    value = "whsec_" + random_secrets.token_urlsafe(32)
    now = clock.now()
    row = WebhookSecret(
        workflow_key=key, secret=value, prefix=value[:12], created_at=now, created_by=me.username
    )
    session.add(row)
    audit(session, "webhook.secret_created", actor=me.username, now=now, workflow=key)
    session.commit()
    scheme = trigger.webhook.scheme if trigger.webhook else "generic"
    example = sign(scheme, value, b'{"order_id": "A-1"}', now=now)
    return _secret_out(row, shown=value, example=example)


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
