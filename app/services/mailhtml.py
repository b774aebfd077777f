"""The HTML part of an email: the plain text, escaped, in the company's colours.

Every email the service sends is ``multipart/alternative``: the rendered text as written,
and this HTML version of it for mail programs that show HTML. The HTML is made from the text
(templates stay text, so nothing a template prints can become markup): paragraphs at blank
lines, line breaks kept, web addresses made links, and a line ``Label: <action link>`` (the
signed one-click links of ``app/services/actionlinks.py``) made a button. The brand — name,
colour, logo — is the tracking page's (``app/services/tracking.py``); a logo given as a path
needs ``public_url`` to be shown, since a mail program cannot resolve it.
"""

from __future__ import annotations

import html
import re

from app.services.tracking import Brand

URL = re.compile(r"https?://[^\s<>\"']+")
BUTTON = re.compile(r"^\s*([^:\n]{1,40}):\s*(https?://\S+/act/\S+)\s*$")
TRAILING = ".,;:!?)"


def _linked(text: str) -> str:
    """``text`` escaped, with its web addresses made links (trailing punctuation left out)."""
    out: list[str] = []
    last = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(TRAILING)
        end = match.start() + len(url)
        out.append(html.escape(text[last : match.start()]))
        out.append(f'<a href="{html.escape(url)}" style="color:inherit">{html.escape(url)}</a>')
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def _button(label: str, url: str, color: str) -> str:
    return (
        f'<a href="{html.escape(url)}" style="display:inline-block;margin:4px 8px 4px 0;'
        f"padding:10px 18px;border-radius:6px;background:{color};color:#ffffff;"
        f'text-decoration:none;font-weight:600">{html.escape(label.strip())}</a>'
    )


def _paragraph(block: str, color: str) -> str:
    lines = block.split("\n")
    found = [BUTTON.match(line) for line in lines]
    if all(found):  # a block of action links: a row of buttons
        buttons = "".join(_button(m.group(1), m.group(2), color) for m in found if m)
        return f'<p style="margin:16px 0">{buttons}</p>'
    parts = [
        _button(m.group(1), m.group(2), color) if m else _linked(line)
        for line, m in zip(lines, found, strict=True)
    ]
    return f'<p style="margin:0 0 14px 0">{"<br>".join(parts)}</p>'


def render(text: str, brand: Brand, *, public_url: str = "") -> str:
    """The HTML version of an email's ``text``."""
    blocks = [b for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip("\n")) if b.strip()]
    body = "".join(_paragraph(block, brand.color) for block in blocks)
    logo = brand.logo_url or ""
    if logo.startswith("/"):
        logo = f"{public_url.rstrip('/')}{logo}" if public_url else ""
    head = (
        f'<img src="{html.escape(logo)}" alt="" height="32" style="height:32px;margin-right:10px;'
        'vertical-align:middle">'
        if logo
        else ""
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width"></head>'
        '<body style="margin:0;padding:24px 12px;background:#f4f5f7;'
        'font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2937">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="max-width:600px;background:#ffffff;border-radius:8px;'
        f'border-top:4px solid {brand.color}">'
        f'<tr><td style="padding:20px 28px 4px 28px;font-size:18px;font-weight:600;color:{brand.color}">'
        f"{head}{html.escape(brand.name)}</td></tr>"
        f'<tr><td style="padding:12px 28px 16px 28px;font-size:15px;line-height:1.5">{body}</td></tr>'
        "</table></td></tr></table></body></html>"
    )
