"""Outbound calls cannot reach inside: every spelling of an internal address is refused before
a packet leaves, redirects are checked again, the checked address is the one connected to, and
a call has a deadline and a cap on its answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from app.services import egress
from app.services.egress import AllowList, EgressRefused

NOTHING = AllowList.parse("")
LOCAL = AllowList.parse("127.0.0.1")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://017700000001/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://localhost/",
        "http://0.0.0.0/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a00:1]/",
        "http://[2002:a00:1::]/",
        "http://224.0.0.1/",
    ],
)
def test_every_spelling_of_an_internal_address_is_refused(url):
    with pytest.raises(EgressRefused, match="internal address"):
        egress.check(url, NOTHING)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://example.com/", "ftp://example.com/", "dict://x:11211/"]
)
def test_schemes_other_than_http_are_refused(url):
    with pytest.raises(EgressRefused, match="scheme"):
        egress.check(url, NOTHING)


def test_credentials_in_the_url_are_refused():
    with pytest.raises(EgressRefused, match="credentials"):
        egress.check("http://user:pw@93.184.216.34/", NOTHING)


def test_the_allow_list_opens_named_hosts_addresses_and_networks_only():
    assert egress.check("http://127.0.0.1:9/x", LOCAL)[1] == "127.0.0.1"
    with pytest.raises(EgressRefused):
        egress.check("http://10.0.0.1/", LOCAL)
    inside = AllowList.parse("10.1.0.0/16, payments.internal")
    assert egress.check("http://10.1.2.3/", inside)[1] == "10.1.2.3"
    pinned = egress.check(
        "http://payments.internal/", inside, resolve=lambda host, port: ["10.9.9.9"]
    )
    assert pinned[1] == "10.9.9.9"


def test_a_name_that_also_resolves_inside_is_refused_whatever_comes_first():
    def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.1"]

    with pytest.raises(EgressRefused, match=r"10\.0\.0\.1"):
        egress.check("http://shop.example/", NOTHING, resolve=rebinding)


def _recording_client() -> tuple[httpx.Client, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"ok": True})

    return httpx.Client(transport=httpx.MockTransport(handler)), sent


def test_a_refused_call_sends_nothing():
    client, sent = _recording_client()
    for url in ("http://169.254.169.254/latest", "http://10.0.0.1/pay"):
        with pytest.raises(EgressRefused):
            egress.send(client, "POST", url, allow=NOTHING, json={"amount": 1})
    assert sent == []


def test_the_call_goes_to_the_address_that_was_checked_with_the_original_host_name():
    client, sent = _recording_client()
    answer = egress.send(
        client,
        "POST",
        "http://shop.example:8080/orders?x=1",
        allow=NOTHING,
        json={"a": 1},
        resolve=lambda host, port: ["93.184.216.34"],
    )
    assert answer.status_code == 200
    (request,) = sent
    assert request.url.host == "93.184.216.34"
    assert request.url.port == 8080
    assert request.url.query == b"x=1"
    assert request.headers["host"] == "shop.example:8080"


@contextmanager
def _server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Edge(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/to-ok":
            self.send_response(307)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(3 << 20))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(48):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            try:
                for _ in range(100):  # the server's own pace: a byte every 50 ms
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_redirect_is_checked_again_and_one_inside_is_refused():
    with _server(_Edge) as url, httpx.Client() as client:
        assert egress.send(client, "GET", f"{url}/to-ok", allow=LOCAL).json() == {"ok": True}
        with pytest.raises(EgressRefused, match=r"169\.254\.169\.254"):
            egress.send(client, "GET", f"{url}/to-metadata", allow=LOCAL)


def test_an_answer_over_the_cap_is_dropped():
    with (
        _server(_Edge) as url,
        httpx.Client() as client,
        pytest.raises(egress.ResponseTooLarge),
    ):
        egress.send(client, "GET", f"{url}/huge", allow=LOCAL, max_bytes=1 << 20)


def test_a_server_that_trickles_bytes_does_not_hold_the_worker_past_the_deadline():
    with _server(_Edge) as url, httpx.Client() as client:
        started = time.monotonic()
        with pytest.raises(egress.DeadlineExceeded):
            egress.send(client, "GET", f"{url}/trickle", allow=LOCAL, deadline_s=0.5)
        assert time.monotonic() - started < 2.0


def test_retry_after_is_read_as_seconds_or_as_a_date():
    assert egress.retry_after(httpx.Headers({"Retry-After": "120"})) == 120.0
    dated = httpx.Headers({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert egress.retry_after(dated, now=1792567650.0) == pytest.approx(30.0)
    assert egress.retry_after(httpx.Headers({})) is None
    assert egress.retry_after(httpx.Headers({"Retry-After": "soon"})) is None
