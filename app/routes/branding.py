"""Branding: the company name, colour and logo on the customer's tracking page and in emails, set
by an admin (over ``STEPWISE_SETTING_BRAND_*``); and a test email, to see that email goes out
and how it looks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete

from app import clock
from app.db.models import AppSetting
from app.deps import AdminUser, SessionDep
from app.errors import ApiError
from app.schemas import ERRORS
from app.services import channels, mailhtml, tracking
from app.services.records import audit

router = APIRouter(prefix="/api/admin/branding", tags=["admin"], responses=ERRORS)


class BrandingIn(BaseModel):
    """Only the fields sent change; an empty text goes back to the environment's value."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=100, examples=["Acme Mugs"])
    color: str | None = Field(default=None, max_length=20, examples=["#0f766e"])
    logo_url: str | None = Field(default=None, max_length=500, examples=["/logo.png"])


class BrandingOut(BaseModel):
    name: str
    color: str
    logo_url: str | None
    set_here: list[str] = Field(
        description="the fields an admin set (the rest come from the environment)"
    )


def _out(request: Request, stored: dict[str, str]) -> BrandingOut:
    shown = tracking.brand(request.app.state.settings, stored)
    return BrandingOut(
        name=shown.name,
        color=shown.color,
        logo_url=shown.logo_url,
        set_here=sorted(k.removeprefix("brand_") for k in stored),
    )


@router.get("", response_model=BrandingOut)
def get_branding(request: Request, session: SessionDep, me: AdminUser) -> BrandingOut:
    return _out(request, tracking.stored_brand(session))


@router.put("", response_model=BrandingOut)
def set_branding(
    body: BrandingIn, request: Request, session: SessionDep, me: AdminUser
) -> BrandingOut:
    changes = {
        f"brand_{k}": v.strip()
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None
    }
    if (color := changes.get("brand_color")) and not tracking.COLOR.match(color):
        raise ApiError(422, "invalid_color", "the colour must be a hex colour such as #0f766e")
    if logo := changes.get("brand_logo_url"):
        checked = tracking.brand(request.app.state.settings, {"brand_logo_url": logo})
        if checked.logo_url is None:
            raise ApiError(
                422,
                "invalid_logo_url",
                "the logo must be an https:// address or a path on this site",
            )
    now = clock.now()
    for key, value in changes.items():
        session.execute(delete(AppSetting).where(AppSetting.key == key))
        if value:
            session.add(AppSetting(key=key, value=value, updated_at=now, updated_by=me.username))
    audit(session, "branding.changed", actor=me.username, now=now, fields=sorted(changes))
    session.commit()
    return _out(request, tracking.stored_brand(session))


class TestEmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(
        max_length=320,
        pattern=r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$",
        examples=["me@example.com"],
    )


class TestEmailOut(BaseModel):
    to: str
    subject: str


@router.post("/test-email", response_model=TestEmailOut)
def send_test_email(
    body: TestEmailIn, request: Request, session: SessionDep, me: AdminUser
) -> TestEmailOut:
    """Send a sample email now, with the brand, through the configured SMTP server: 409
    ``email_not_configured`` without ``smtp_host``, 422 ``email_refused`` when the server
    refuses it, 502 ``email_failed`` when it cannot be reached."""
    settings = request.app.state.settings
    now = clock.now()
    brand = tracking.brand(settings, tracking.stored_brand(session))
    public = settings.extra.get("public_url", "").rstrip("/")
    text = (
        f"Hello,\n\nthis is a test email from {brand.name}, sent by {me.username} from the "
        f"admin console. If you can read it, emails go out."
        + (f"\n\nStepwise: {public}/" if public else "")
    )
    subject = f"Test email from {brand.name}"
    message = channels.Message(
        channel="email",
        to=body.to,
        subject=subject,
        body=text,
        key=f"test-email-{now.strftime('%Y%m%d%H%M%S%f')}",
        html=mailhtml.render(text, brand, public_url=public),
    )
    try:
        channels.send_email(settings, message, now=now)
    except channels.NotConfigured as exc:
        raise ApiError(
            409, "email_not_configured", f"{exc}: set STEPWISE_SETTING_SMTP_HOST"
        ) from None
    except channels.Refused as exc:
        raise ApiError(422, "email_refused", str(exc)) from None
    except channels.Transient as exc:
        raise ApiError(
            502, "email_failed", f"the SMTP server could not be reached: {exc}"
        ) from None
    audit(session, "email.test_sent", actor=me.username, now=now, to=body.to)
    session.commit()
    return TestEmailOut(to=body.to, subject=subject)
