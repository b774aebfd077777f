"""Webhook signatures: HMAC-SHA256 in the four schemes senders use.

| scheme | headers | signed text |
|---|---|---|
| generic | ``X-Stepwise-Timestamp`` (unix seconds), ``X-Stepwise-Signature: sha256=<hex>`` | ``<timestamp>.<body>`` |
| github | ``X-Hub-Signature-256: sha256=<hex>`` | the body |
| shopify | ``X-Shopify-Hmac-Sha256: <base64>`` | the body |
| stripe | ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`` | ``<t>.<body>`` |

Schemes with a timestamp refuse deliveries older (or newer) than the tolerance, against
replays. Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any


class SignatureError(ValueError):
    """Why a delivery's signature is refused, in words for the sender's developer."""


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _b64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _fresh(timestamp: str, now: datetime, tolerance_s: int) -> None:
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError("the timestamp is not unix seconds") from None
    if abs(now.timestamp() - sent) > tolerance_s:
        raise SignatureError(
            f"the timestamp is more than {tolerance_s} s away from now (a replay?)"
        )


def verify(
    scheme: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[str],
    *,
    now: datetime,
    tolerance_s: int = 300,
) -> None:
    """Raise SignatureError unless one of ``secrets`` signed ``body`` as ``scheme`` says."""
    h = {k.lower(): v for k, v in headers.items()}
    keys = list(secrets)
    if not keys:
        raise SignatureError("this workflow has no webhook secret yet; an admin creates one")
    if scheme == "github":
        given = h.get("x-hub-signature-256", "")
        wanted = [f"sha256={_hex(k, body)}" for k in keys]
    elif scheme == "shopify":
        given = h.get("x-shopify-hmac-sha256", "")
        wanted = [_b64(k, body) for k in keys]
    elif scheme == "stripe":
        parts = [p.split("=", 1) for p in h.get("stripe-signature", "").split(",") if "=" in p]
        stamp = next((v for k, v in parts if k.strip() == "t"), "")
        signatures = [v for k, v in parts if k.strip() == "v1"]
        if not stamp or not signatures:
            raise SignatureError("the Stripe-Signature header needs t=... and v1=...")
        _fresh(stamp, now, tolerance_s)
        expected = [_hex(k, f"{stamp}.".encode() + body) for k in keys]
        if any(hmac.compare_digest(s, e) for s in signatures for e in expected):
            return
        raise SignatureError("the signature does not match")
    else:
        stamp = h.get("x-stepwise-timestamp", "")
        given = h.get("x-stepwise-signature", "")
        if not stamp:
            raise SignatureError("the X-Stepwise-Timestamp header is missing")
        _fresh(stamp, now, tolerance_s)
        wanted = [f"sha256={_hex(k, f'{stamp}.'.encode() + body)}" for k in keys]
    if not given:
        raise SignatureError(f"the {scheme} signature header is missing")
    if not any(hmac.compare_digest(given, w) for w in wanted):
        raise SignatureError("the signature does not match")


def sign(scheme: str, secret: str, body: bytes, *, now: datetime) -> dict[str, str]:
    """The headers a sender would send (for tests, the admin's example, and our own outbox)."""
    stamp = str(int(now.timestamp()))
    if scheme == "github":
        return {"X-Hub-Signature-256": f"sha256={_hex(secret, body)}"}
    if scheme == "shopify":
        return {"X-Shopify-Hmac-Sha256": _b64(secret, body)}
    if scheme == "stripe":
        return {"Stripe-Signature": f"t={stamp},v1={_hex(secret, f'{stamp}.'.encode() + body)}"}
    return {
        "X-Stepwise-Timestamp": stamp,
        "X-Stepwise-Signature": f"sha256={_hex(secret, f'{stamp}.'.encode() + body)}",
    }


def delivery_id(
    scheme: str, headers: Mapping[str, str], payload: Any = None, *, body_sha256: str | None = None
) -> str | None:
    """The sender's own id of a delivery, used when there is no Idempotency-Key: GitHub's
    and Shopify's delivery headers, Stripe's event id (``evt_…``, in the body: Stripe sends
    a retried event with the same id). A generic delivery has no id of its own; its signed
    timestamp and the body's SHA-256 (``body_sha256``) name it: a sender's retry of the same
    signed request, or a replay of it within the tolerance, is the same delivery."""
    h = {k.lower(): v for k, v in headers.items()}
    if h.get("idempotency-key"):
        return h["idempotency-key"]
    if scheme == "github":
        return h.get("x-github-delivery")
    if scheme == "shopify":
        return h.get("x-shopify-webhook-id")
    if scheme == "stripe" and isinstance(payload, dict):
        event = payload.get("id")
        if isinstance(event, str) and event.startswith("evt_") and len(event) <= 200:
            return event
    if scheme == "generic" and body_sha256:
        stamp = h.get("x-stepwise-timestamp", "").strip()
        if stamp.isdigit() and len(stamp) <= 20:
            return f"signed:{stamp}:{body_sha256}"
    return None
