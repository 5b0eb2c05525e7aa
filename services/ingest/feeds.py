"""Feeds and their API keys. Keys are stored only as SHA-256 digests in the data bucket."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from shared.logging import get_logger
from shared.storage import Bucket, StorageUnavailable

log = get_logger("pressroom.ingest.feeds")

FEED_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class Feed(BaseModel):
    name: str = Field(pattern=FEED_NAME_PATTERN)
    key_sha256: str
    created_at: datetime
    revoked_at: datetime | None = None
    signing_secret: str | None = Field(
        default=None,
        description="When set, requests must carry X-Pressroom-Timestamp and "
        "X-Pressroom-Signature (services/ingest/signing.py).",
    )

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def feed_path(name: str) -> str:
    return f"feeds/{name}.json"


class FeedRegistry:
    """Reads feeds from the data bucket, cached for a few seconds so revocation is quick."""

    def __init__(self, bucket: Bucket, cache_seconds: float = 10.0) -> None:
        self.bucket, self.cache_seconds = bucket, cache_seconds
        self._feeds: list[Feed] = []
        self._loaded_at = -1e9
        self._lock = threading.Lock()

    def all(self) -> list[Feed]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.cache_seconds:
                try:
                    self._feeds = [
                        Feed.model_validate(self.bucket.get_json(k))
                        for k in self.bucket.keys("feeds/")
                        if k.endswith(".json")
                    ]
                except StorageUnavailable:
                    if self._loaded_at < 0:
                        raise
                    # keep answering with the feeds we know: the store may be back by the
                    # time the article is written, and if not, that write answers 503
                    log.warning("ingest.feeds.reload_failed", known=len(self._feeds))
                    return list(self._feeds)
                self._loaded_at = time.monotonic()
            return list(self._feeds)

    def authenticate(self, key: str) -> Feed | None:
        wanted = digest(key)
        found = None
        for feed in self.all():
            # compare every feed, in constant time each, so timing says nothing
            if hmac.compare_digest(feed.key_sha256, wanted) and feed.active:
                found = feed
        return found

    def add(self, name: str, *, signing_secret: str | None = None) -> tuple[Feed, str]:
        """Create a feed, or give an existing one a new key. Returns the feed and the key."""
        key = f"prk_{secrets.token_urlsafe(32)}"
        feed = Feed(
            name=name,
            key_sha256=digest(key),
            created_at=datetime.now(UTC),
            signing_secret=signing_secret,
        )
        self.bucket.put_json(feed_path(name), feed.model_dump(mode="json"))
        self._loaded_at = -1e9
        return feed, key

    def revoke(self, name: str) -> Feed | None:
        raw = self.bucket.get_json(feed_path(name))
        if raw is None:
            return None
        feed = Feed.model_validate(raw)
        feed.revoked_at = datetime.now(UTC)
        self.bucket.put_json(feed_path(name), feed.model_dump(mode="json"))
        self._loaded_at = -1e9
        return feed

    def ensure(self, name: str, key: str) -> Feed:
        """Register a known key for a feed (the development stack's fixed key)."""
        feed = Feed(name=name, key_sha256=digest(key), created_at=datetime.now(UTC))
        current = self.bucket.get_json(feed_path(name))
        if current is None or current.get("key_sha256") != feed.key_sha256:
            self.bucket.put_json(feed_path(name), feed.model_dump(mode="json"))
            self._loaded_at = -1e9
        return feed
