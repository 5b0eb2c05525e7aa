"""Old addresses of imported archives: the map from an old site's URLs to their new pages.

Kept durably in the data bucket (legacy/<source>/<part>.json, rewritten whole by a re-import)
and in Redis (one hash), which the edge asks through the internal route when the site bucket
has no such page. `restore` rebuilds the hash from the bucket after a Redis loss.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.typing import EncodableT, FieldT

from shared.keys import Keys
from shared.logging import get_logger
from shared.storage import Bucket

log = get_logger("pressroom.ingest.legacy")
PREFIX = "legacy/"
# The query parameter that names the page of each dynamic PHP address (DedeCMS's
# /plus/view.php?aid=N and /plus/list.php?tid=N; WordPress's /?p=N is the home page).
ID_PARAMETERS = ("aid", "tid", "id", "p")
LIST_PAGE = re.compile(r"^(?P<stem>.*/list_\d+)_\d+\.html$")
# An article named by its title's spelling and its id (DedeCMS's {pinyin}_{aid}.html): the
# map keeps it as `<directory>/*_<id>.html`, so every spelling of the title finds it.
SPELLED_NAME = re.compile(r"^(?P<directory>.*/)[^/]*_(?P<id>\d+)(?P<extension>\.[A-Za-z]+)$")


def any_spelling(named: re.Match[str]) -> str:
    return f"{named.group('directory')}*_{named.group('id')}{named.group('extension')}"


def normalized(uri: str) -> str:
    """The map's key for a request URI: its path decoded once; a .php path keeps the one
    query parameter that names its page."""
    parts = urlsplit(uri)
    path = unquote(parts.path)
    if not path.endswith(".php"):
        return path
    query = parse_qs(parts.query)
    for name in ID_PARAMETERS:
        if query.get(name):
            return f"{path}?{name}={query[name][0]}"
    return path


def lookup(client: redis.Redis, keys: Keys, uri: str) -> str | None:
    """Where an old address now lives, or None. A numbered list page of an old category
    (`.../list_5_3.html`) matches its category's pattern (`.../list_5_*.html`), an address
    ending in `_<id>.html` the pattern of an article spelled by its title."""
    key = normalized(uri)
    candidates = [key]
    if found := LIST_PAGE.match(key):
        candidates.append(f"{found.group('stem')}_*.html")
    if named := SPELLED_NAME.match(key):
        candidates.append(any_spelling(named))
    for candidate in candidates:
        target: str | None = client.hget(keys.legacy_urls, candidate)  # type: ignore[assignment]
        if target:
            return target
    return None


def remember(
    client: redis.Redis, keys: Keys, data: Bucket, part: str, redirects: Mapping[str, str]
) -> None:
    """Store one part of a source's map: the bucket first (durable), then Redis."""
    if not redirects:
        return
    clean: dict[FieldT, EncodableT] = {normalized(o): n for o, n in redirects.items()}
    data.put_json(f"{PREFIX}{part}.json", clean)
    client.hset(keys.legacy_urls, mapping=clean)


def restore(client: redis.Redis, keys: Keys, data: Bucket) -> int:
    """Load every stored part into Redis; returns how many addresses it holds."""
    loaded = 0
    for name in data.keys(PREFIX):
        part: dict[FieldT, EncodableT] = data.get_json(name) or {}
        if part:
            client.hset(keys.legacy_urls, mapping=part)
            loaded += len(part)
    log.info("ingest.legacy.restored", addresses=loaded)
    return loaded
