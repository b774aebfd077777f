"""The customer's tracking page (``/track/{token}``, HTML) and its JSON (``/api/track/{token}``).

No login: the token is the key. See ``app/services/tracking.py`` for what is shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.db.models import Instance
from app.deps import MaybeUser, SessionDep
from app.errors import ApiError
from app.routes.instances import cache
from app.schemas import ERRORS
from app.services import tracking
from app.settings import Settings

router = APIRouter(tags=["tracking"])

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
"""The link is a secret: not cached, not passed on as a referrer, not indexed."""


class StageOut(BaseModel):
    name: str
    reached_at: datetime
    current: bool


class DetailOut(BaseModel):
    label: str
    value: str


class TrackingOut(BaseModel):
    stages: list[StageOut]
    status: Literal["in_progress", "completed", "cancelled"]
    details: list[DetailOut] = Field(
        description="the values of the workflow's tracking fields the instance has"
    )


def _found(request: Request, session: Session, instance: Instance) -> tracking.Tracking:
    compiled = cache(request).get(session, instance.workflow_key, instance.workflow_version)
    return tracking.tracking(instance, compiled.definition.tracking)


@router.get("/track/{token}", response_class=HTMLResponse, include_in_schema=False)
def track_page(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    instance = tracking.find(session, token)
    found = _found(request, session, instance) if instance is not None else None
    stored = tracking.stored_brand(session)
    headers = {
        **PRIVATE_HEADERS,
        "Content-Security-Policy": tracking.content_security_policy(
            tracking.brand(settings, stored)
        ),
    }
    return HTMLResponse(
        tracking.render_page(found, settings, stored),
        status_code=200 if found is not None else 404,
        headers=headers,
    )


@router.get("/api/track/{token}", response_model=TrackingOut, responses=ERRORS)
def track_json(
    token: str, request: Request, response: Response, session: SessionDep, _: MaybeUser
) -> TrackingOut:
    """An order's stages, status and tracking values (its workflow's `tracking` fields) for its
    customer, by the token in their tracking link. No login
    needed (a credential sent along must still be valid)."""
    response.headers.update(PRIVATE_HEADERS)
    instance = tracking.find(session, token)
    if instance is None:
        raise ApiError(404, "not_found", "this tracking link is not known")
    found = _found(request, session, instance)
    return TrackingOut(
        stages=[
            StageOut(name=s.name, reached_at=s.reached_at, current=s.current) for s in found.stages
        ],
        status=found.status,
        details=[DetailOut(label=d.label, value=d.value) for d in found.details],
    )
