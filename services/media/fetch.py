"""The guarded fetch of a picture a feed names: no request reaches an address it must not.

The host is resolved once, every address it resolves to is checked, and the connection
goes to the checked address (the name only travels as Host and TLS server name), so a
second DNS answer cannot point it elsewhere. Each redirect hop is checked the same way.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, SSLError

from services.media.settings import MediaSettings, Network

IPAddress = IPv4Address | IPv6Address
MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Statuses that say "try later", not "never".
TRANSIENT_STATUSES = frozenset({408, 425, 429})
CHUNK = 64 * 1024


class FetchError(Exception):
    """A picture could not be fetched; `str()` is the reason shown in the article status."""


class FetchRefused(FetchError):
    """Permanent: the URL, its address, its answer or its size is refused. Never retried."""


class UpstreamDown(FetchError):
    """Transient: the server did not answer, or answered 5xx. Retried with backoff."""


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    body: bytes
    content_type: str


def forbidden_reason(address: IPAddress, allowed: Sequence[Network]) -> str | None:
    """Why an address may not be fetched from, or None if it may (public, or allowed)."""
    candidates: list[IPAddress] = [address]
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        candidates = [address.ipv4_mapped]  # ::ffff:a.b.c.d is a.b.c.d, nothing else
    elif isinstance(address, IPv6Address):
        # An IPv6 address that carries an IPv4 one reaches that IPv4 host: judge both.
        if address.sixtofour is not None:
            candidates.append(address.sixtofour)
        if address.teredo is not None:
            candidates.append(address.teredo[1])
        if address in NAT64:
            candidates.append(IPv4Address(address.packed[-4:]))
    if any(candidate in network for candidate in candidates for network in allowed):
        return None
    for candidate in candidates:
        kind = address_kind(candidate)
        if kind is not None:
            return f"address {address} is {kind}"
    return None


# IANA's special-purpose blocks, spelt out so the verdict never depends on the tables of
# one Python release; ipaddress's own flags are consulted as well.
SPECIAL_BLOCKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
    ("192.0.2.0/24", "reserved (documentation)"),
    ("192.88.99.0/24", "reserved (6to4 relay)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved (benchmarking)"),
    ("198.51.100.0/24", "reserved (documentation)"),
    ("203.0.113.0/24", "reserved (documentation)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "reserved (local NAT64)"),
    ("100::/64", "reserved (discard)"),
    ("2001::/23", "reserved (IETF protocol assignments)"),
    ("2001:db8::/32", "reserved (documentation)"),
    ("fc00::/7", "private"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "reserved (site-local)"),
    ("ff00::/8", "multicast"),
)
_BLOCKS = tuple((ip_network(block), kind) for block, kind in SPECIAL_BLOCKS)
NAT64 = ip_network("64:ff9b::/96")


def address_kind(address: IPAddress) -> str | None:
    """The class of a non-public address, or None for a public unicast one."""
    for network, kind in _BLOCKS:
        if address.version == network.version and address in network:
            return kind
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UpstreamDown(f"cannot resolve {host}: {exc}") from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class PictureFetcher:
    """Downloads pictures over http(s) with the limits of MediaSettings."""

    def __init__(self, settings: MediaSettings) -> None:
        self.settings = settings
        self.timeout = urllib3.Timeout(
            connect=settings.media_connect_timeout_seconds,
            read=settings.media_read_timeout_seconds,
        )

    def fetch(self, url: str) -> Fetched:
        deadline = time.monotonic() + self.settings.media_fetch_seconds
        for _ in range(MAX_REDIRECTS + 1):
            response = self._request(url)
            try:
                location = response.headers.get("Location")
                if response.status in REDIRECTS and location:
                    url = urljoin(url, location)
                    continue
                self._judge_status(url, response.status)
                body = self._read(response, deadline)
                return Fetched(url, body, response.headers.get("Content-Type", ""))
            finally:
                response.release_conn()
        raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")

    def _request(self, url: str) -> urllib3.BaseHTTPResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchRefused(f"scheme {parts.scheme or '(none)'!r} refused: http or https only")
        host = parts.hostname
        if not host:
            raise FetchRefused("URL names no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchRefused(f"bad port in URL: {exc}") from exc
        addresses = resolve(host, port)
        for address in addresses:
            reason = forbidden_reason(address, self.settings.media_allowed_networks)
            if reason:
                raise FetchRefused(f"{host}: {reason}")
        pool = self._pool(parts.scheme, host, addresses[0], port)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = {
            "Host": parts.netloc.rpartition("@")[2],
            "User-Agent": self.settings.media_user_agent,
            # Bytes as stored: a compressed answer would escape the size limit while decoding.
            "Accept-Encoding": "identity",
        }
        try:
            return pool.urlopen(
                "GET",
                path,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                timeout=self.timeout,
            )
        except SSLError as exc:  # a certificate that does not prove the name: never retried
            raise FetchRefused(f"{host}: TLS refused: {exc}") from exc
        except HTTPError as exc:
            raise UpstreamDown(f"{host}: {type(exc).__name__}: {exc}") from exc

    def _pool(
        self, scheme: str, host: str, address: IPAddress, port: int
    ) -> urllib3.HTTPConnectionPool:
        if scheme == "https":
            return urllib3.HTTPSConnectionPool(
                str(address),
                port,
                maxsize=1,
                cert_reqs="CERT_REQUIRED",
                assert_hostname=host,
                server_hostname=host,
            )
        return urllib3.HTTPConnectionPool(str(address), port, maxsize=1)

    def _judge_status(self, url: str, status: int) -> None:
        if status >= 500 or status in TRANSIENT_STATUSES:
            raise UpstreamDown(f"upstream answered {status}")
        if status != 200:
            raise FetchRefused(f"upstream answered {status}")

    def _read(self, response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        limit = self.settings.media_max_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchRefused(f"picture larger than {limit} bytes (Content-Length {declared})")
        body = bytearray()
        try:
            # read1: whatever has arrived, so the deadline is checked as bytes trickle in
            # (read(n) would wait for all n bytes, each recv resetting the read timeout).
            while chunk := response.read1(CHUNK, decode_content=False):
                body += chunk
                if len(body) > limit:
                    raise FetchRefused(f"picture larger than {limit} bytes")
                if time.monotonic() > deadline:
                    raise UpstreamDown(
                        f"download took longer than {self.settings.media_fetch_seconds:g} s"
                    )
        except HTTPError as exc:
            raise UpstreamDown(f"download cut off: {type(exc).__name__}: {exc}") from exc
        return bytes(body)
