"""Feeds and their API keys. Keys are stored only as SHA-256 digests in the data bucket, and
signing secrets only sealed with PRESSROOM_FEED_SECRETS_KEY: reading the bucket reveals neither."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, Field, SecretStr

from shared.logging import get_logger
from shared.storage import Bucket, StorageUnavailable

log = get_logger("pressroom.ingest.feeds")

FEED_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class Feed(BaseModel):
    name: str = Field(pattern=FEED_NAME_PATTERN)
    key_sha256: str
    created_at: datetime
    revoked_at: datetime | None = None
    sealed_signing_secret: str | None = Field(
        default=None,
        description="The signing secret, encrypted with PRESSROOM_FEED_SECRETS_KEY (Fernet). "
        "When set, requests must carry X-Pressroom-Timestamp and X-Pressroom-Signature "
        "(services/ingest/signing.py).",
    )
    # In memory only: the opened secret. Read from a document only as the plain text that
    # feeds were once stored with; never written back (SecretBox seals it on the next write).
    signing_secret: SecretStr | None = Field(default=None, exclude=True)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def signs(self) -> bool:
        """Must this feed sign its requests (whether or not ingest can open its secret)?"""
        return self.signing_secret is not None or self.sealed_signing_secret is not None


class SecretsKeyMissing(RuntimeError):
    """A signing secret must be sealed or opened, and PRESSROOM_FEED_SECRETS_KEY is not set."""

    def __init__(self) -> None:
        super().__init__(
            "PRESSROOM_FEED_SECRETS_KEY is not set: it seals feeds' signing secrets in the data "
            "bucket (make one with `pressroom feeds new-secrets-key`)"
        )


def new_secrets_key() -> str:
    """A fresh value for PRESSROOM_FEED_SECRETS_KEY."""
    return Fernet.generate_key().decode()


def check_secrets_keys(keys: Sequence[str]) -> None:
    """Raise ValueError unless every key is a Fernet key (32 url-safe base64 bytes)."""
    for key in keys:
        Fernet(key)


class SecretBox:
    """Seals signing secrets with the first of the keys and opens them with any of them, so
    a new key can be put first while secrets sealed with the old one are still read."""

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            raise SecretsKeyMissing()
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret; InvalidToken when none of the keys sealed it."""
        if self._fernet is None:
            raise SecretsKeyMissing()
        return self._fernet.decrypt(sealed.encode()).decode()


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def feed_path(name: str) -> str:
    return f"feeds/{name}.json"


class FeedRegistry:
    """Reads feeds from the data bucket, cached for a few seconds so revocation is quick."""

    def __init__(
        self, bucket: Bucket, cache_seconds: float = 10.0, box: SecretBox | None = None
    ) -> None:
        self.bucket, self.cache_seconds = bucket, cache_seconds
        self.box = box or SecretBox()
        self._feeds: list[Feed] = []
        self._loaded_at = -1e9
        self._lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()

    def all(self) -> list[Feed]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.cache_seconds:
                try:
                    self._feeds = [
                        self._opened(self.bucket.get_json(k))
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

    def _opened(self, document: Any) -> Feed:
        """A stored feed with its signing secret opened (left None when it cannot be: that
        feed's signed requests are then refused, never let through)."""
        feed = Feed.model_validate(document)
        if feed.sealed_signing_secret is not None:
            try:
                feed.signing_secret = SecretStr(self.box.open(feed.sealed_signing_secret))
            except (InvalidToken, SecretsKeyMissing):
                feed.signing_secret = None
                self._warn_once("ingest.feeds.secret_unreadable", feed.name)
        elif feed.signing_secret is not None:
            self._warn_once("ingest.feeds.secret_in_plain_text", feed.name)
        return feed

    def _warn_once(self, event: str, name: str) -> None:
        if (event, name) not in self._warned:  # the registry reloads every few seconds
            self._warned.add((event, name))
            log.warning(event, feed=name)

    def _save(self, feed: Feed) -> None:
        """Write the feed, its signing secret sealed with the newest key (a secret stored in
        plain text, or with an older key, is sealed anew)."""
        document = feed.model_dump(mode="json")
        if feed.signing_secret is not None:
            document["sealed_signing_secret"] = self.box.seal(
                feed.signing_secret.get_secret_value()
            )
        self.bucket.put_json(feed_path(feed.name), document)
        self._loaded_at = -1e9

    def _stored(self, name: str) -> Feed | None:
        document = self.bucket.get_json(feed_path(name))
        return None if document is None else self._opened(document)

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
            signing_secret=None if signing_secret is None else SecretStr(signing_secret),
        )
        self._save(feed)
        return feed, key

    def revoke(self, name: str) -> Feed | None:
        feed = self._stored(name)
        if feed is None:
            return None
        feed.revoked_at = datetime.now(UTC)
        self._save(feed)
        return feed

    def reseal(self) -> list[str]:
        """Seal every readable signing secret anew with the newest key (those stored in plain
        text too); returns the feeds rewritten. A secret no key opens is left as it is."""
        resealed = []
        for path in self.bucket.keys("feeds/"):
            feed = self._opened(self.bucket.get_json(path)) if path.endswith(".json") else None
            if feed is not None and feed.signing_secret is not None:
                self._save(feed)
                resealed.append(feed.name)
        return resealed

    def ensure(self, name: str, key: str) -> Feed:
        """Register a known key for a feed (the development stack's fixed key)."""
        feed = Feed(name=name, key_sha256=digest(key), created_at=datetime.now(UTC))
        current = self.bucket.get_json(feed_path(name))
        if current is None or current.get("key_sha256") != feed.key_sha256:
            self.bucket.put_json(feed_path(name), feed.model_dump(mode="json"))
            self._loaded_at = -1e9
        return feed
