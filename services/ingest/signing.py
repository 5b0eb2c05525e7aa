"""Optional per-feed HMAC signatures over the request (method, path, query, timestamp, body),
each usable once.

A signed feed sends two headers:

    X-Pressroom-Timestamp: <Unix seconds>
    X-Pressroom-Signature: v2=<hex HMAC-SHA256(secret, signed_string(...))>

where the signed string is, as in AWS SigV4's canonical request, one field a line:

    pressroom-v2
    <timestamp>
    <METHOD>
    <path below the API root, e.g. /v1/articles/{id}: percent-encoded as canonical_path does>
    <query: canonical_query, the pairs sorted and percent-encoded>
    <body bytes>

Binding method, path and query means a captured body and signature cannot be sent to
another route of the same feed (a DELETE where a PUT was signed). A timestamp further than
`signature_window_seconds` from ingest's clock is refused, and so is a signature already
accepted: each one is remembered in Redis (SET NX) for twice the window.

The older `sha256=` signature of "<timestamp>." + body is still accepted while
PRESSROOM_ACCEPT_LEGACY_SIGNATURES is on (deprecated; logged and counted per feed).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, unquote

import redis
from prometheus_client import Counter
from starlette.requests import Request

from services.ingest.errors import BadSignature, StoreUnavailable
from services.ingest.feeds import Feed
from services.ingest.service import IngestContext
from services.ingest.settings import IngestSettings
from shared.logging import get_logger

log = get_logger("pressroom.ingest.signing")

SIGNATURE_HEADER = "X-Pressroom-Signature"
TIMESTAMP_HEADER = "X-Pressroom-Timestamp"
SCHEME = "v2="
LEGACY_SCHEME = "sha256="
VERSION = "pressroom-v2"
UNRESERVED = "-_.~"  # RFC 3986: the only characters never percent-encoded
PATH_SAFE = "/" + UNRESERVED

LEGACY_SIGNATURES = Counter(
    "pressroom_ingest_legacy_signatures_total",
    "Requests accepted with the deprecated signature of timestamp and body alone",
    ["feed"],
)


def canonical_path(path: str) -> str:
    """The path decoded once, then percent-encoded one way (whatever the sender encoded)."""
    return quote(unquote(path), safe=PATH_SAFE)


def canonical_query(query: str) -> str:
    """The query's pairs decoded, sorted, and percent-encoded one way."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe=UNRESERVED)}={quote(v, safe=UNRESERVED)}" for k, v in pairs)


def signed_string(method: str, path: str, query: str, body: bytes, timestamp: int) -> bytes:
    """What a signature covers; no field can hold a line break, so none can pose as another."""
    head = [VERSION, str(timestamp), method.upper(), canonical_path(path), canonical_query(query)]
    return "\n".join(head).encode() + b"\n" + body


def sign(secret: str, method: str, path: str, body: bytes, timestamp: int, query: str = "") -> str:
    """The signature header value of a request sent at `timestamp` (Unix seconds); `path` is
    below the API root (/v1/articles, not /api/ingest/v1/articles) and `query` as sent."""
    message = signed_string(method, path, query, body, timestamp)
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_legacy(secret: str, body: bytes, timestamp: int) -> str:
    """The deprecated signature of timestamp and body alone (what feeds sent before v2)."""
    message = f"{timestamp}.".encode() + body
    return LEGACY_SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_headers(
    secret: str,
    body: bytes,
    *,
    method: str,
    path: str,
    query: str = "",
    timestamp: int | None = None,
) -> dict[str, str]:
    """Both headers a signed feed sends with a request (feed clients and tests use this)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = sign(secret, method, path, body, stamp, query)
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: signature}


def sent_path(request: Request) -> str:
    """The path as the client percent-encoded it (canonical_path decodes it once itself)."""
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else quote(request.scope["path"], safe=PATH_SAFE)


def verify_signature(
    feed: Feed, body: bytes, request: Request, settings: IngestSettings, now: float | None = None
) -> str | None:
    """Raise 403 unless a signed feed's request carries a fresh signature of this exact
    request; return that signature (to be claimed once), or None for a feed that does not
    sign."""
    if not feed.signs:
        return None
    if feed.signing_secret is None:
        # sealed with a key ingest does not have: refuse rather than let it through unsigned
        log.error("ingest.signature.secret_unreadable", feed=feed.name)
        raise BadSignature(
            f"ingest cannot open feed {feed.name!r}'s signing secret; its operator must set "
            "PRESSROOM_FEED_SECRETS_KEY to the key that sealed it"
        )
    headers: Mapping[str, str] = request.headers
    header = (headers.get(SIGNATURE_HEADER) or "").strip().lower()
    stamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    if not header:
        raise BadSignature(
            f"feed {feed.name!r} must sign its requests: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
        )
    if not header.startswith((SCHEME, LEGACY_SCHEME)):
        raise BadSignature(f"use {SIGNATURE_HEADER}: {SCHEME}<hex>")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise BadSignature(f"{TIMESTAMP_HEADER} must hold the Unix time (seconds) that was signed")
    timestamp = int(stamp)
    secret = feed.signing_secret.get_secret_value()
    if header.startswith(SCHEME):
        expected = sign(
            secret, request.method, sent_path(request), body, timestamp, request.url.query
        )
    elif settings.accept_legacy_signatures:
        expected = sign_legacy(secret, body, timestamp)
    else:
        raise BadSignature(
            f"{LEGACY_SCHEME} signatures are no longer accepted: sign the method, path and "
            f"query too ({SCHEME}, see the API description)"
        )
    # compare the whole header in constant time; a wrong length or case simply fails
    if not hmac.compare_digest(header, expected):
        raise BadSignature("the signature does not match this request's method, path and body")
    check_fresh(timestamp, settings.signature_window_seconds, now)
    if header.startswith(LEGACY_SCHEME):
        LEGACY_SIGNATURES.labels(feed.name).inc()
        log.warning("ingest.signature.legacy", feed=feed.name)
    return expected.split("=", 1)[1]


def check_fresh(timestamp: int, window: float, now: float | None = None) -> None:
    skew = (time.time() if now is None else now) - timestamp
    if abs(skew) > window:
        when = f"{skew:.0f} s old" if skew > 0 else f"{-skew:.0f} s ahead of ingest's clock"
        raise BadSignature(
            f"{TIMESTAMP_HEADER} is {when}; a request must be signed within {window:.0f} s "
            "of being received: sign it again (and check the feed's clock)",
            title="Stale signature",
            reason="stale_signature",
        )


def claim_signature(ctx: IngestContext, feed: Feed, signature: str) -> None:
    """Refuse a signature already accepted: a replayed request must not change anything."""
    key = ctx.keys.signature(feed.name, signature)
    remember = max(1, round(2 * ctx.settings.signature_window_seconds))
    try:
        fresh = ctx.redis.set(key, "1", nx=True, ex=remember)
    except redis.RedisError as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Redis") from exc
    if not fresh:
        raise BadSignature(
            "this signature was already used; sign every request, retries included, with "
            f"a new {TIMESTAMP_HEADER} (an Idempotency-Key still gets a retry its first answer)",
            title="Replayed request",
            reason="replayed_signature",
        )
