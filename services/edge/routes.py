"""What the edge shows the world: the one list of public API routes, and the paths it refuses.

nginx.conf.template spells these patterns and tests/edge/test_routes.py fails when the two
differ. Anything else under /api/ (metrics, the dashboard, health, readiness, API docs) is for
operators: they reach it on the service's own port inside the network, never through the edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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
    # feeds publish, update, withdraw and read back their own articles, and the site's pages
    PublicApi(
        "ingest", ("v1/articles", "v1/articles:batch", "v1/articles/[^/]+", "v1/pages/[^/]+")
    ),
    # feeds upload pictures (a location of its own: a picture is larger than an article)
    PublicApi("ingest", ("v1/media",)),
    # pages count a view and show counts, rankings and an article's views over time
    PublicApi("counter", ("v1/hits/[^/]+", "v1/counts", "v1/top", "v1/stats/[^/]+")),
)
# Checked on the path decoded once: a control character has no business in a URL, and a
# dot segment is how a path climbs out of the site bucket into another.
CONTROL_CHARACTER = r"[\x00-\x1f\x7f]"
DOT_SEGMENT = r"(?:^|[/\x5c])\.{1,2}(?:[/\x5c]|$)"
# nginx has no decoded-but-unnormalized path (it resolves dot segments itself), so the edge
# looks for DOT_SEGMENT's segments, spelt plain or percent-encoded, in the raw request path
# (case-insensitively). A backslash is written \x5c: nginx's quoted strings eat `\\`.
RAW_DOT_SEGMENT = r"^[^?]*(?:/|\x5c|%2f|%5c)(?:\.|%2e){1,2}(?:/|\x5c|%2f|%5c|\?|$)"

_public = [(api, re.compile(api.pattern)) for api in PUBLIC_APIS]


def public_api(path: str) -> PublicApi | None:
    """The public API a decoded path belongs to, or None when it is not a public route."""
    return next((api for api, pattern in _public if pattern.match(path)), None)
