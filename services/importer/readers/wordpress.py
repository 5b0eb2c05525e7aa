"""WordPress from its WXR export (Tools > Export), read element by element with lxml's
iterparse: each <item> is freed once read, so memory stays flat with the export's size."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from services.importer.readers.base import BadRow, SourceArticle, SourceCategory

WP = "{http://wordpress.org/export/1.2/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
EXCERPT = "{http://wordpress.org/export/1.2/excerpt/}encoded"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
# post meta keys of the common view-count plugins (WP-PostViews, Post Views Counter)
VIEW_KEYS = ("views", "post_views_count")


class WordPressReader:
    format = "wordpress"

    def __init__(self, export: Path) -> None:
        self.export = export
        self._categories: dict[str, SourceCategory] | None = None

    def categories(self) -> list[SourceCategory]:
        if self._categories is None:
            self._categories = {}
            for element in self._elements(f"{WP}category"):
                slug = _text(element, f"{WP}category_nicename")
                name = _text(element, f"{WP}cat_name") or slug
                self._categories[slug] = SourceCategory(
                    source_id=slug,
                    name=name,
                    directory=f"/category/{slug}",
                    old_urls=(f"/category/{slug}/", f"/category/{slug}/page/*"),
                )
        return list(self._categories.values())

    def articles(self) -> Iterator[SourceArticle | BadRow]:
        known = {c.source_id for c in self.categories()}
        seen: set[str] = set()
        try:
            for item in self._elements("item"):
                if _text(item, f"{WP}post_type") != "post":
                    continue
                post = _text(item, f"{WP}post_id")
                if post in seen:
                    yield BadRow(post, "duplicate post_id: the first item was kept")
                    continue
                seen.add(post)
                yield _article(item, post, known)
        except etree.XMLSyntaxError as exc:
            yield BadRow(f"after {len(seen)} posts", f"export unreadable: {exc}")

    def _elements(self, tag: str) -> Iterator[etree._Element]:
        # no entities, no network: an export is data, never instructions to fetch more
        for _, element in etree.iterparse(
            str(self.export), tag=tag, resolve_entities=False, no_network=True, huge_tree=True
        ):
            yield element
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                parent = element.getparent()
                if parent is None:
                    break
                del parent[0]


def _article(item: etree._Element, post: str, known: set[str]) -> SourceArticle | BadRow:
    title = _text(item, "title").strip()
    body = _text(item, CONTENT)
    if not title:
        return BadRow(post, "empty title")
    if not body.strip():
        return BadRow(post, "empty body")
    published = _date(item)
    if published is None:
        return BadRow(post, "no publication date")
    categories = [c.get("nicename", "") for c in item.findall("category")]
    in_known = [c for c in categories if c and c in known and _domain_is(item, c, "category")]
    tags = [c.text or "" for c in item.findall("category") if c.get("domain") == "post_tag"]
    meta = {
        _text(m, f"{WP}meta_key"): _text(m, f"{WP}meta_value")
        for m in item.findall(f"{WP}postmeta")
    }
    clicks = next((int(meta[k]) for k in VIEW_KEYS if meta.get(k, "").isdigit()), 0)
    link = urlsplit(_text(item, "link")).path
    return SourceArticle(
        source_id=post,
        category_id=in_known[0] if in_known else "",
        title=title,
        body_html=body,
        published_at=published,
        author=_text(item, DC_CREATOR),
        description=_text(item, EXCERPT).strip(),
        tags=tuple(dict.fromkeys(t for t in tags if t)),
        headline=_text(item, f"{WP}is_sticky") == "1",
        hidden=_text(item, f"{WP}status") != "publish",
        clicks=clicks,
        old_urls=(link,) if link and link != "/" else (),
    )


def _domain_is(item: etree._Element, nicename: str, domain: str) -> bool:
    return any(
        c.get("domain") == domain for c in item.findall("category") if c.get("nicename") == nicename
    )


def _date(item: etree._Element) -> datetime | None:
    gmt = _text(item, f"{WP}post_date_gmt")
    if gmt and not gmt.startswith("0000"):
        try:
            return datetime.fromisoformat(gmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        return parsedate_to_datetime(_text(item, "pubDate"))
    except (TypeError, ValueError):
        return None


def _text(element: etree._Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "") if found is not None else ""
