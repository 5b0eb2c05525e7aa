"""Site pages: the portal's own pages (about, disclaimer, ad rates...), stored in the data bucket.

Ingest stores them, render publishes them at `/{slug}.html`, `pressroom init` seeds the
placeholders and `pressroom rebuild` checks that every page the site links to exists.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from shared.site import SiteConfig

PREFIX = "site-pages/"
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# Names of files the site itself publishes at its root (or will): a page there would
# overwrite one of them, or be overwritten by it.
RESERVED = frozenset(
    {
        "404",
        "api",
        "apple-touch-icon",
        "atom",
        "favicon",
        "feed",
        "fragments",
        "healthz",
        "icon",
        "index",
        "media",
        "pagefind",
        "query",
        "robots",
        "search",
        "sitemap",
        "sitemaps",
        "static",
    }
)
SEEDS = "pages.toml"  # beside the site config: an operator's site brings its own placeholders


class SitePage(BaseModel):
    """One site page as stored at `site-pages/<slug>.json`."""

    slug: str
    title: str
    body_html: str  # already sanitized by ingest
    feed: str = Field(description="The feed whose key wrote it (or `init` for a seed)")
    updated_at: datetime


def page_key(slug: str) -> str:
    return f"{PREFIX}{slug}.json"


def page_path(slug: str) -> str:
    """The site-bucket key (and URL path without its slash) of a page."""
    return f"{slug}.html"


def slug_of(key: str) -> str | None:
    """The slug behind a data-bucket key, or None for anything else under the prefix."""
    name = key.removeprefix(PREFIX)
    if key == name or not name.endswith(".json"):
        return None
    slug = name.removesuffix(".json")
    return slug if SLUG.fullmatch(slug) else None


def slug_problem(slug: str, site: SiteConfig) -> str | None:
    """Why `slug` cannot name a page of this site, or None when it can."""
    if not SLUG.fullmatch(slug):
        return (
            "must be 1-64 characters of a-z, 0-9 and inner hyphens "
            "(no uppercase, dots, slashes or spaces)"
        )
    if slug in RESERVED:
        return f"{slug!r} is reserved for a file the site publishes itself"
    if site.channel(slug) is not None:
        return f"{slug!r} is a channel of this site"
    return None


class Seed(BaseModel):
    slug: str
    title: str
    body_html: str


def seed_pages(site_config: Path) -> list[Seed]:
    """The placeholder pages `pressroom init` stores where no page exists yet: pages.toml
    beside the site config, if there is one."""
    path = site_config.with_name(SEEDS)
    if not path.is_file():
        return []
    with path.open("rb") as f:
        return [Seed.model_validate(page) for page in tomllib.load(f).get("page", [])]
