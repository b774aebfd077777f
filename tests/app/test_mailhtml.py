"""The HTML part of emails (``app/services/mailhtml.py``): the text escaped, linked, branded."""

from __future__ import annotations

from app.services.mailhtml import render
from app.services.tracking import Brand

BRAND = Brand(name="Mugs & Co", color="#0f766e", logo_url=None, logo_origin=None)


def test_text_is_escaped_and_paragraphs_and_line_breaks_are_kept():
    page = render("Hello <b>Ada</b> & co,\nline two\n\nSecond paragraph", BRAND)
    assert "Hello &lt;b&gt;Ada&lt;/b&gt; &amp; co,<br>line two</p>" in page
    assert ">Second paragraph</p>" in page
    assert "<b>" not in page


def test_web_addresses_become_links_without_their_trailing_punctuation():
    page = render("Track it at https://shop.example/track/abc?x=1&y=2.", BRAND)
    assert (
        '<a href="https://shop.example/track/abc?x=1&amp;y=2" style="color:inherit">'
        "https://shop.example/track/abc?x=1&amp;y=2</a>." in page
    )
    assert 'href="javascript' not in render("javascript:alert(1) and ftp://x", BRAND)


def test_action_link_lines_become_buttons_in_the_brand_colour():
    text = "Please decide.\n\nApprove: https://flow.example/act/1.abc\nReject: https://flow.example/act/2.def"
    page = render(text, BRAND)
    assert page.count("background:#0f766e;color:#ffffff") == 2
    assert '<a href="https://flow.example/act/1.abc"' in page
    assert ">Approve</a>" in page
    assert ">Reject</a>" in page


def test_the_brand_name_colour_and_logo_head_the_mail():
    page = render("Hi", BRAND)
    assert "Mugs &amp; Co</td>" in page
    assert "border-top:4px solid #0f766e" in page
    assert "<img" not in page
    with_logo = Brand("Mugs", "#123456", "/static/logo.png", None)
    assert "<img" not in render("Hi", with_logo)  # a path means nothing in a mail program
    shown = render("Hi", with_logo, public_url="https://shop.example/")
    assert '<img src="https://shop.example/static/logo.png"' in shown
