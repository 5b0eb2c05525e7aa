"""Who is reading: robots, and the daily-salted visitor hash that dedupe and uniques use
(no cookie, no raw address ever reaches Redis)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from services.counter.proxies import TrustedProxies
from services.counter.settings import CounterSettings
from shared.keys import Keys

VISITOR_WIDTH = 16  # hex characters of a visitor hash: the hit script reads them packed
NOT_COUNTED = "-" * VISITOR_WIDTH  # the visitor of a hit answered but not counted (a robot)
SALT_TTL = 2 * 86400  # long enough to cover the day; then the day's hashes are unlinkable


def utc_day(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%d")


class Visitors:
    """Turns a reader's address (`proxies` finds it), User-Agent and the day's salt into a
    visitor hash."""

    def __init__(self, settings: CounterSettings, keys: Keys) -> None:
        self.keys = keys
        self.proxies = TrustedProxies(settings.proxy_networks)
        self.robot = re.compile(settings.not_counted_pattern, re.IGNORECASE)
        # The same few hundred User-Agents arrive all day: decide each once.
        self.is_robot: Callable[[str], bool] = lru_cache(maxsize=4096)(self.matches_robot)
        self.salt_day = -1
        self.salt = b""

    def matches_robot(self, user_agent: str) -> bool:
        return bool(self.robot.search(user_agent))

    def visitor(self, address: str, user_agent: str, article_id: str) -> str:
        """16 hex characters: one reader of one article on one day; NOT_COUNTED for robots.

        The article is hashed in, so one hash is both the reader's dedupe field (a single
        server keeps every article's in one hash per window) and their mark in the article's
        uniques; a reader's hashes on two articles cannot be linked."""
        if self.is_robot(user_agent):
            return NOT_COUNTED
        digest = hashlib.blake2b(
            f"{address}\x00{user_agent}\x00{article_id}".encode(errors="replace"),
            digest_size=VISITOR_WIDTH // 2,
            key=self.salt,
        )
        return digest.hexdigest()

    def salt_is_current(self, day: int) -> bool:
        """`day`: days since the epoch (cheaper to compare per hit than a date string)."""
        return self.salt_day == day

    def use_salt(self, day: int, salt: str) -> None:
        self.salt_day, self.salt = day, salt.encode()[:64]


def new_salt() -> str:
    return secrets.token_hex(16)
