"""Stand-ins for the systems at the edge of the world, for a first start with nothing else:
a payment gateway that captures every payment and a carrier that labels every parcel.

Mounted only when the app points its workflows at itself (``stepwise run`` without
``STEPWISE_SETTING_PAYMENT_URL`` / ``STEPWISE_SETTING_CARRIER_URL``).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(prefix="/demo", tags=["demo systems"], include_in_schema=False)
_answers: dict[str, dict[str, Any]] = {}


def _once(request: Request, make: Any) -> dict[str, Any]:
    """The same answer for the same idempotency key, as real providers give."""
    key = request.headers.get("idempotency-key") or secrets.token_hex(8)
    if key not in _answers:
        _answers[key] = make()
    return _answers[key]


@router.post("/payment/captures")
def capture(request: Request) -> dict[str, Any]:
    return _once(request, lambda: {"id": f"cap_{secrets.token_hex(6)}", "status": "captured"})


@router.post("/carrier/labels")
def label(request: Request) -> dict[str, Any]:
    return _once(
        request,
        lambda: {
            "tracking_number": f"DEMO{secrets.randbelow(10**8):08d}",
            "label_url": "/demo/label.pdf",
        },
    )
