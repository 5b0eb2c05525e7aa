"""The theme: Jinja2 templates (autoescaped) and static assets under content-hashed names."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import MutableMapping
from datetime import UTC, date, datetime
from email.utils import format_datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.render import structured_data
from shared.site import SiteConfig
from shared.storage import Bucket
from shared.text import Printed, xml_safe

BUILTIN = Path(__file__).parent / "theme"


class ThemeEnvironment(Environment):
    """Jinja2's environment, with each template's globals a plain dict: copied into the
    context of every page, a dict costs a C copy where the default ChainMap costs a Python
    call per name. Every global is set before the first template loads, as Jinja2 asks."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


class Theme:
    def __init__(self, site: SiteConfig, override: Path | None = None) -> None:
        roots = [p for p in (override, BUILTIN) if p is not None]
        self.site = site
        self.tz = ZoneInfo(site.timezone)
        self.static = self._hash_assets([r / "static" for r in roots])
        self._fragments: dict[str, tuple[date, Printed]] = {}  # name -> (day, its HTML)
        self.env = ThemeEnvironment(
            loader=ChoiceLoader([FileSystemLoader(str(r / "templates")) for r in roots]),
            autoescape=select_autoescape(["html", "xml", "j2"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # the fingerprint is taken once at start: an edited theme needs a restart anyway,
            # and checking each template's mtime on every render costs a stat per page
            auto_reload=False,
            # a theme has a few dozen templates: a plain dict keeps them all without the
            # LRU's lock and bookkeeping on every include and extends
            cache_size=-1,
            # every value a template prints, including HTML marked safe, loses what XML 1.0
            # forbids: one stray control character would make a whole feed unreadable
            finalize=printable,
        )
        self.env.globals.update(
            site=site, asset=self.asset_url, absolute=self.absolute, local_date=self.local_date
        )
        self.env.globals.update(local_time=self.local_time, site_fragment=self.site_fragment)
        self.env.globals.update(
            page_image=partial(structured_data.page_image, self),
            article_json_ld=partial(structured_data.article_json_ld, self),
            site_json_ld=partial(structured_data.site_json_ld, self),
            article_description=structured_data.article_description,
            describe=structured_data.describe,
        )
        self.env.filters.update(rfc822=rfc822, w3c=w3c, xml_safe=printable)
        self.fingerprint = self._fingerprint(roots)

    def _fingerprint(self, roots: list[Path]) -> str:
        """Hash of the templates, assets and site config: any edit to them changes every page."""
        digest = hashlib.sha256(self.site.model_dump_json().encode())
        for root in roots:
            for path in sorted((root / "templates").glob("*")):
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
        for key, _ in sorted(self.static.values()):
            digest.update(key.encode())
        return digest.hexdigest()[:16]

    @staticmethod
    def _hash_assets(dirs: list[Path]) -> dict[str, tuple[str, bytes]]:
        """name -> (hashed key, bytes); the first directory that has a file wins."""
        assets: dict[str, tuple[str, bytes]] = {}
        for folder in reversed(dirs):
            for path in sorted(folder.glob("*")) if folder.is_dir() else []:
                body = path.read_bytes()
                digest = hashlib.sha256(body).hexdigest()[:12]
                assets[path.name] = (f"static/{path.stem}.{digest}{path.suffix}", body)
        return assets

    @cached_property
    def site_facts(self) -> structured_data.SiteFacts:
        return structured_data.SiteFacts.of(self)

    def asset_url(self, name: str) -> str:
        return "/" + self.static[name][0]

    def absolute(self, path: str) -> str:
        return self.site.base_url.rstrip("/") + "/" + path.lstrip("/")

    def render(self, template: str, **context: Any) -> bytes:
        context.setdefault("now", datetime.now(self.tz))
        return self.env.get_template(template).render(**context).encode()

    def site_fragment(self, name: str, now: datetime) -> Printed:
        """A part of every page that only the site and the day decide (header, footer...),
        rendered once a day instead of once per page; its template sees `site` and `now`."""
        today = now.date()
        kept = self._fragments.get(name)
        if kept is None or kept[0] != today:
            kept = (today, Printed(self.env.get_template(name).render(now=now)))
            self._fragments[name] = kept
        return kept[1]

    def publish_assets(self, bucket: Bucket, cache_control: str) -> int:
        written = 0
        for key, body in self.static.values():
            content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type.endswith("javascript"):
                content_type += "; charset=utf-8"
            written += bucket.put(
                key,
                body,
                content_type=content_type,
                cache_control=cache_control,
                only_if_changed=True,
            )
        return written

    def local_date(self, moment: datetime) -> str:
        """时间 as the portal shows it: the date in the site's time zone."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.tz).strftime("%Y-%m-%d")

    def local_time(self, moment: datetime) -> str:
        """更新时间 and a 更正's date: to the minute, in the site's time zone."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")


def printable(value: object) -> object:
    """A value as templates print it: text without the characters XML 1.0 forbids."""
    if isinstance(value, str) and not isinstance(value, Printed):
        return xml_safe(value)
    return value


def rfc822(moment: datetime) -> str:
    """RSS 2.0 dates (RFC 822, in GMT)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def w3c(moment: datetime) -> str:
    """Atom and sitemap dates (RFC 3339 / W3C datetime, in UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
