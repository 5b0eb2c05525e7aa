"""What the edge shows the world: the one list of public API routes, and the paths it refuses.

The preview edge (preview.py) routes by these tables; nginx.conf.template spells the same
patterns and tests/edge/test_routes.py fails when the two differ. Anything else under /api/
(metrics, the dashboard, health, readiness, API docs) is for operators: they reach it on the
service's own port inside the network, never through the edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

# What a path segment may carry unencoded (RFC 3986 pchar) when it is forwarded.
PATH_SAFE = "/:@!$&'()*+,;="


@dataclass(frozen=True)
class PublicApi:
    """One upstream API and the paths of it that readers and feeds may reach."""

    service: str  # names the upstream: setting `<service>_upstream`, nginx `$<service>_upstream`
    paths: tuple[str, ...]  # regular expressions of the paths below the prefix

    @property
    def prefix(self) -> str:
        return f"/api/{self.service}/"

    @property
    def pattern(self) -> str:
        """The location regex (PCRE in nginx and Python's re read it alike)."""
        return f"^{self.prefix}(?:{'|'.join(self.paths)})$"


PUBLIC_APIS = (
    # feeds publish, update, withdraw and read back their own articles
    PublicApi("ingest", ("v1/articles", "v1/articles:batch", "v1/articles/[^/]+")),
    # pages count a view and show counts, rankings and an article's views over time
    PublicApi("counter", ("v1/hits/[^/]+", "v1/counts", "v1/top", "v1/stats/[^/]+")),
)
# Checked on the path decoded once: a control character has no business in a URL, and a
# dot segment is how a path climbs out of the site bucket into another.
CONTROL_CHARACTER = r"[\x00-\x1f\x7f]"
DOT_SEGMENT = r"(?:^|[/\x5c])\.{1,2}(?:[/\x5c]|$)"
# nginx has no decoded-but-unnormalized path (it resolves dot segments itself), so its edge
# looks for the same dot segments, spelt plain or percent-encoded, in the raw request path
# (case-insensitively). A backslash is written \x5c: nginx's quoted strings eat `\\`.
RAW_DOT_SEGMENT = r"^[^?]*(?:/|\x5c|%2f|%5c)(?:\.|%2e){1,2}(?:/|\x5c|%2f|%5c|\?|$)"

_control = re.compile(CONTROL_CHARACTER)
_dot_segment = re.compile(DOT_SEGMENT)
_public = [(api, re.compile(api.pattern)) for api in PUBLIC_APIS]


def refused(path: str) -> bool:
    """True for a decoded path the edge answers 400: a control character or a dot segment."""
    return bool(_control.search(path) or _dot_segment.search(path))


def public_api(path: str) -> tuple[PublicApi, str] | None:
    """The public API a decoded path belongs to and the upstream path (encoded again), or
    None when the path is not a public route."""
    for api, pattern in _public:
        if pattern.match(path):
            return api, "/" + quote(path.removeprefix(api.prefix), safe=PATH_SAFE)
    return None


def site_key(path: str) -> str:
    """The site bucket key of a decoded page path: a directory means its index.html."""
    key = path.lstrip("/")
    if key == "" or key.endswith("/"):
        key += "index.html"
    return key
