"""Optional per-feed HMAC body signatures: `X-Pressroom-Signature: sha256=<hex>`."""

from __future__ import annotations

import hashlib
import hmac

from services.ingest.errors import BadSignature
from services.ingest.feeds import Feed

SIGNATURE_HEADER = "X-Pressroom-Signature"


def sign(secret: str, body: bytes) -> str:
    """The header value a feed sends (tests and feed clients use this too)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(feed: Feed, body: bytes, header: str | None) -> None:
    """Raise 403 unless a signed feed's request carries the signature of these exact bytes."""
    if not feed.signing_secret:
        return
    if not header:
        raise BadSignature(f"feed {feed.name!r} must sign its requests: {SIGNATURE_HEADER}")
    scheme, _, _ = header.partition("=")
    if scheme.strip().lower() != "sha256":
        raise BadSignature("use sha256=<hex>")
    # compare the whole header in constant time; a wrong length or case simply fails
    if not hmac.compare_digest(header.strip().lower(), sign(feed.signing_secret, body)):
        raise BadSignature("the signature does not match the body")
