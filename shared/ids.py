"""Article ids: derived from (feed, external_id), so a replay lands on the same article."""

from __future__ import annotations

import hashlib
import re

ARTICLE_ID_RE = re.compile(r"^[0-9a-f]{20}$")


def article_id(feed: str, external_id: str) -> str:
    # 80 bits: collision-free for any archive a newsroom will have, short in URLs,
    # and made only of [0-9a-f] so no id can carry a path trick into a bucket key.
    digest = hashlib.sha256(f"{feed}\x00{external_id}".encode()).hexdigest()
    return digest[:20]


def is_article_id(value: str) -> bool:
    return bool(ARTICLE_ID_RE.fullmatch(value))
