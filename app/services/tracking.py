"""The customer's tracking page: an order's stages, found by its unguessable token.

Every instance gets ``tracking_token`` at start (``runner.start_instance``,
``secrets.token_urlsafe(24)``) and its data gets ``tracking_url`` (``/track/<token>``), which
notification templates read as ``{{ tracking_url }}``. Whoever has the link sees the stage
names the instance reached, when, and which is current; of its data only the values its
workflow lists under ``tracking`` (a parcel's tracking number, say), never its ids, tasks or
people.

Branding comes from ``STEPWISE_SETTING_BRAND_NAME``, ``..._BRAND_COLOR`` (``#rgb`` or
``#rrggbb``) and ``..._BRAND_LOGO_URL`` (``https://``, ``http://`` or a path on this site);
a colour or logo that does not fit is left out rather than written into the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import AppSetting, Instance
from app.settings import Settings
from engine.model import TrackingField

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$")
DEFAULT_COLOR = "#4338ca"
STATUS_TEXT = {
    "in_progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
}


@dataclass(frozen=True)
class Stage:
    name: str
    reached_at: datetime
    current: bool


@dataclass(frozen=True)
class Detail:
    label: str
    value: str


@dataclass(frozen=True)
class Tracking:
    stages: list[Stage]
    status: str
    """``in_progress``, ``completed`` or ``cancelled`` (also for rejected or failed ones)."""
    details: list[Detail]
    """The values of the workflow's ``tracking`` fields the instance has, in its order."""


DETAIL_MAX_CHARS = 200


def _detail_value(data: Mapping[str, Any], path: str) -> str | None:
    """The text at a data path; None when it is missing, empty, or not a plain value."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text[:DETAIL_MAX_CHARS] or None


@dataclass(frozen=True)
class Brand:
    name: str
    color: str
    logo_url: str | None
    logo_origin: str | None
    """The logo's origin when it is on another site (for the page's CSP), else None."""


def find(session: Session, token: str) -> Instance | None:
    """The instance with this tracking token; None for anything that cannot be one."""
    if not TOKEN.match(token):
        return None
    return session.scalar(select(Instance).where(Instance.tracking_token == token))


def tracking(instance: Instance, fields: Sequence[TrackingField] = ()) -> Tracking:
    """The stages in the order reached (a stage reached twice appears twice); the last one
    is current. ``fields``: the workflow's ``tracking`` list, of which the values the
    instance has are shown."""
    reached = instance.state.get("stages") or []
    stages = [
        Stage(
            name=str(s.get("stage", "")),
            reached_at=datetime.fromisoformat(s["at"]).astimezone(UTC),
            current=n == len(reached) - 1,
        )
        for n, s in enumerate(reached)
    ]
    status = {"running": "in_progress", "completed": "completed"}.get(instance.status, "cancelled")
    data = instance.state.get("data") or {}
    details = [
        Detail(f.label, value)
        for f in fields
        if (value := _detail_value(data, f.field)) is not None
    ]
    return Tracking(stages, status, details)


BRAND_KEYS = ("brand_name", "brand_color", "brand_logo_url")


def stored_brand(session: Session) -> dict[str, str]:
    """What an admin set in the console (``PUT /api/admin/branding``), over the environment."""
    rows = session.scalars(select(AppSetting).where(AppSetting.key.in_(BRAND_KEYS)))
    return {row.key: row.value for row in rows}


def brand(settings: Settings, stored: Mapping[str, str] | None = None) -> Brand:
    extra = {**settings.extra, **(stored or {})}
    color = extra.get("brand_color", "").strip()
    logo = extra.get("brand_logo_url", "").strip() or None
    origin = None
    if logo is not None:
        parts = urlsplit(logo)
        if parts.scheme in ("http", "https") and HOST.match(parts.netloc) and " " not in logo:
            origin = f"{parts.scheme}://{parts.netloc}"
        elif not (logo.startswith("/") and not logo.startswith("//") and " " not in logo):
            logo = None
    return Brand(
        name=extra.get("brand_name", "").strip() or "Stepwise",
        color=color if COLOR.match(color) else DEFAULT_COLOR,
        logo_url=logo,
        logo_origin=origin,
    )


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{ brand.name }}: {{ heading }}</title>
<style>
:root { --brand: {{ brand.color }}; }
body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 2rem auto;
  padding: 0 1rem; color: #1f2937; }
header { display: flex; align-items: center; gap: .75rem; padding-bottom: .75rem;
  border-bottom: 3px solid var(--brand); }
header img { max-height: 3rem; max-width: 10rem; }
header p { font-size: 1.25rem; font-weight: 600; margin: 0; color: var(--brand); }
h1 { font-size: 1.5rem; }
ol { list-style: none; padding: 0; margin: 1.5rem 0; }
li { padding: .5rem .75rem; margin-left: .5rem; border-left: 3px solid #d1d5db; }
li.current { border-left-color: var(--brand); font-weight: 600; }
time { display: block; color: #6b7280; font-size: .875rem; font-weight: 400; }
.tag { color: var(--brand); font-size: .875rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 1rem 0; }
dt { color: #6b7280; }
dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
</style></head>
<body>
<header>{% if brand.logo_url %}<img src="{{ brand.logo_url }}" alt="">{% endif %}
<p>{{ brand.name }}</p></header>
<main>
<h1>{{ heading }}</h1>
{% if found %}
<p>Status: {{ status }}</p>
{% for d in details %}{% if loop.first %}<dl>{% endif %}<dt>{{ d.label }}</dt>
<dd>{{ d.value }}</dd>{% if loop.last %}</dl>{% endif %}
{% endfor %}
{% if stages %}<ol>
{% for s in stages %}<li{% if s.current %} class="current" aria-current="step"{% endif %}>{{ s.name }}
{% if s.current %}<span class="tag">(now)</span>{% endif %}
<time datetime="{{ s.iso }}">{{ s.when }}</time></li>
{% endfor %}</ol>{% else %}<p>Nothing to show yet.</p>{% endif %}
{% else %}
<p>This tracking link is not known. Please check that you copied all of it.</p>
{% endif %}
</main>
</body></html>
"""


@lru_cache(maxsize=1)
def _page() -> Template:
    return Environment(autoescape=True).from_string(PAGE)


def render_page(
    found: Tracking | None, settings: Settings, stored: Mapping[str, str] | None = None
) -> str:
    """The HTML page for a tracking link (``found`` None: the link is unknown)."""
    stages = [
        {
            "name": s.name,
            "current": s.current,
            "iso": s.reached_at.isoformat(timespec="seconds"),
            "when": s.reached_at.strftime("%d %b %Y, %H:%M UTC"),
        }
        for s in (found.stages if found else [])
    ]
    return _page().render(
        brand=brand(settings, stored),
        heading="Your order" if found else "Not found",
        found=found is not None,
        status=STATUS_TEXT[found.status] if found else "",
        stages=stages,
        details=found.details if found else [],
    )


def content_security_policy(brand: Brand) -> str:
    """The service's CSP, with the logo's site allowed for images."""
    images = "'self' data:" + (f" {brand.logo_origin}" if brand.logo_origin else "")
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src {images}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
