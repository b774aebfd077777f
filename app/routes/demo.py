"""Stand-ins for the systems at the edge of the world, for a first start with nothing else:
a payment gateway that captures every payment and a carrier that labels every parcel.

Mounted only when the app points its workflows at itself (``stepwise run`` without
``STEPWISE_SETTING_PAYMENT_URL`` / ``STEPWISE_SETTING_CARRIER_URL``).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request, Response

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


def _label_pdf() -> bytes:
    """A one-page PDF saying what it is, its cross-reference table counted, not guessed."""
    text = b"BT /F1 24 Tf 72 720 Td (Stepwise demo carrier - shipping label) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


LABEL_PDF = _label_pdf()


@router.get("/label.pdf")
def label_pdf() -> Response:
    """The label every demo parcel's ``label_url`` points at."""
    return Response(LABEL_PDF, media_type="application/pdf")
