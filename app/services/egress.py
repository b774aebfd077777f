"""Outbound HTTP that cannot be turned against the inside: every address a call would reach is
checked before a packet leaves, redirects are followed by hand and checked again, the checked
address is the one connected to (no second DNS answer), and a call has a total deadline and a
cap on the size of its answer.

Refused unless the allow-list names them: schemes other than http(s), and every address that is
not globally routable — loopback (``127.1``, ``0x7f000001``, ``::1``), private, link-local and
cloud metadata (``169.254.169.254``), CGNAT (``100.64/10``), IPv6 unique-local, and IPv4 mapped
into IPv6 (``::ffff:127.0.0.1``) — whatever spelling the URL uses: the host is resolved by the
system resolver (which reads every spelling) and each address it gives is checked.

The allow-list (setting ``http_allow``: comma-separated host names, addresses and networks, e.g.
``127.0.0.1,payments.internal,10.1.0.0/16``) is for a company's own systems; tests name
127.0.0.1."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import httpx

MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 1 << 20
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class EgressRefused(ValueError):
    """The call was not made: where it would go is not allowed."""


class ResponseTooLarge(ValueError):
    """The answer was larger than the cap; what was read is dropped."""


class DeadlineExceeded(httpx.TimeoutException):
    """The whole call (redirects and a trickling body included) took longer than allowed."""


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, text: str) -> AllowList:
        hosts: set[str] = set()
        networks: list[Network] = []
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def names(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def covers(self, address: IpAddress) -> bool:
        return any(address in network for network in self.networks)


def _system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressRefused(f"cannot resolve {host!r}: {exc}") from None
    return [str(info[4][0]) for info in infos]


def _plain(address: IpAddress) -> IpAddress:
    """``::ffff:127.0.0.1`` is 127.0.0.1; so is the 6to4 and NAT64 dressing of it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in ipaddress.IPv6Network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def check(
    url: str, allow: AllowList, *, resolve: Resolver = _system_resolver
) -> tuple[httpx.URL, str]:
    """The URL to connect to, and the checked address it resolves to; or EgressRefused."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise EgressRefused(f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise EgressRefused(
            f"the scheme {parsed.scheme or '(none)'!r} is not allowed; use http or https"
        )
    host = parsed.host
    if not host:
        raise EgressRefused("the URL has no host")
    if parsed.userinfo:
        raise EgressRefused("credentials in the URL are not allowed; use a header and a secret")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise EgressRefused(f"{host!r} resolves to no address")
    named = allow.names(host)
    for text in addresses:
        address = _plain(ipaddress.ip_address(text.split("%", 1)[0]))
        if named or allow.covers(address):
            continue
        if not address.is_global or address.is_multicast:
            raise EgressRefused(
                f"{host!r} is {address}, an internal address (private, loopback, link-local, "
                "metadata or reserved); add it to the http_allow setting if it is your own system"
            )
    return parsed, addresses[0].split("%", 1)[0]


def retry_after(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds a 429 or 503 asks us to wait (``Retry-After`` as seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    allow: AllowList,
    headers: dict[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
    data: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    deadline_s: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    resolve: Resolver = _system_resolver,
) -> httpx.Response:
    """Make one call (following up to five redirects, each checked) within ``deadline_s``; the
    answer's body is read whole, up to ``max_bytes``."""
    started = time.monotonic()
    for _ in range(MAX_REDIRECTS + 1):
        target, address = check(url, allow, resolve=resolve)
        remaining = deadline_s - (time.monotonic() - started)
        if remaining <= 0:
            raise DeadlineExceeded("the call's deadline passed")
        # connect to the address we checked, not to whatever a second lookup would answer
        pinned = target.copy_with(host=address)
        request_headers = {"Host": target.netloc.decode("ascii"), **(headers or {})}
        request = client.build_request(
            method,
            pinned,
            headers=request_headers,
            json=json,
            content=content,
            data=data,
            timeout=httpx.Timeout(remaining),
            extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
        )
        response = client.send(
            request,
            stream=True,
            follow_redirects=False,
            auth=httpx.BasicAuth(*auth) if auth else None,
        )
        try:
            if response.is_redirect and "location" in response.headers:
                url = urljoin(str(target), response.headers["location"])
                if response.status_code in (301, 302, 303) and method != "HEAD":
                    method, json, content, data = "GET", None, None, None
                continue
            body = _read(response.iter_bytes(), max_bytes, started, deadline_s)
        finally:
            response.close()
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )
    raise EgressRefused(f"more than {MAX_REDIRECTS} redirects")


def _read(chunks: Iterable[bytes], max_bytes: int, started: float, deadline_s: float) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > max_bytes:
            raise ResponseTooLarge(f"the answer is larger than {max_bytes} bytes")
        if time.monotonic() - started > deadline_s:
            raise DeadlineExceeded(f"the answer took longer than {deadline_s:g} s")
    return bytes(body)
