"""Optional per-feed HMAC signatures over a timestamp and the body, each usable once.

A signed feed sends two headers:

    X-Pressroom-Timestamp: <Unix seconds>
    X-Pressroom-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

Signing the body alone let a captured request be sent again after a newer version and roll
the article back. Now a timestamp further than `signature_window_seconds` from ingest's
clock is refused, and so is a signature already accepted: each one is remembered in Redis
(SET NX) for twice the window, as long as its timestamp could still pass.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

import redis

from services.ingest.errors import BadSignature, StoreUnavailable
from services.ingest.feeds import Feed
from services.ingest.service import IngestContext

SIGNATURE_HEADER = "X-Pressroom-Signature"
TIMESTAMP_HEADER = "X-Pressroom-Timestamp"
SCHEME = "sha256="


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value of a body sent at `timestamp` (Unix seconds)."""
    message = f"{timestamp}.".encode() + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Both headers a signed feed sends with `body` (feed clients and tests use this)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, body, stamp)}


def verify_signature(
    feed: Feed, body: bytes, headers: Mapping[str, str], window: float, now: float | None = None
) -> str | None:
    """Raise 403 unless a signed feed's request carries a fresh signature of these exact
    bytes; return that signature (to be claimed once), or None for a feed that does not sign."""
    if not feed.signing_secret:
        return None
    header, stamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not header:
        raise BadSignature(
            f"feed {feed.name!r} must sign its requests: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
        )
    if not header.strip().lower().startswith(SCHEME):
        raise BadSignature(f"use {SIGNATURE_HEADER}: sha256=<hex>")
    if not stamp or not stamp.strip().isdigit() or len(stamp.strip()) > 12:
        raise BadSignature(f"{TIMESTAMP_HEADER} must hold the Unix time (seconds) that was signed")
    timestamp = int(stamp.strip())
    expected = sign(feed.signing_secret, body, timestamp)
    # compare the whole header in constant time; a wrong length or case simply fails
    if not hmac.compare_digest(header.strip().lower(), expected):
        raise BadSignature("the signature does not match the timestamp and body")
    skew = (time.time() if now is None else now) - timestamp
    if abs(skew) > window:
        when = f"{skew:.0f} s old" if skew > 0 else f"{-skew:.0f} s ahead of ingest's clock"
        raise BadSignature(
            f"{TIMESTAMP_HEADER} is {when}; a request must be signed within {window:.0f} s "
            "of being received: sign it again (and check the feed's clock)",
            title="Stale signature",
            reason="stale_signature",
        )
    return expected.removeprefix(SCHEME)


def claim_signature(ctx: IngestContext, feed: Feed, signature: str) -> None:
    """Refuse a signature already accepted: a replayed request must not change anything."""
    key = f"{ctx.keys.prefix}sig:{feed.name}:{signature}"
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
