"""What feeds send, turned into native articles: JSON, ninjs, RSS 2.0 and Atom.

A single document (JSON, ninjs) is valid or answered 422 as a whole. A collection (a JSON
batch, an RSS channel, an Atom feed) becomes one item per article, each valid or not on
its own, so one bad item never blocks the rest.
"""

from __future__ import annotations

import calendar
import io
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
import orjson
from lxml import etree
from pydantic import ValidationError

from services.ingest.errors import InvalidArticle, UnsupportedMediaType, field_errors
from services.ingest.ninjs import NINJS_FIELD, NinjsDocument, native_fields
from services.ingest.picture_sources import feed_images
from services.ingest.sanitize import paragraphs, plain_text
from services.ingest.schemas import ArticleIn

JSON = "application/json"
NINJS = "application/ninjs+json"
RSS = "application/rss+xml"
ATOM = "application/atom+xml"
XML_TYPES = {RSS, ATOM, "application/xml", "text/xml"}
SUPPORTED = [JSON, NINJS, RSS, ATOM]
UNREADABLE = "Unreadable feed document"


@dataclass
class Item:
    """One article of a request: ready to publish or withdraw, or its field errors."""

    index: int
    external_id: str | None = None
    article: ArticleIn | None = None
    withdraw: bool = False
    hold: bool = False  # ninjs withheld: stored, shown nowhere until a later version
    errors: list[dict[str, str]] = field(default_factory=list)


def media_type(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in {JSON, NINJS, *XML_TYPES}:
        raise UnsupportedMediaType(media, SUPPORTED)
    return media


def is_collection(media: str) -> bool:
    return media in XML_TYPES


def parse_single(media: str, body: bytes, channel: str | None) -> Item:
    """A native article or a ninjs document; InvalidArticle (422) names each bad field."""
    document = _json(body)
    item = _ninjs_item(0, document, channel) if media == NINJS else _native_item(0, document)
    if item.errors:
        raise InvalidArticle(item.errors)
    return _with_channel(item, channel)


def parse_collection(media: str, body: bytes, channel: str | None, limit: int) -> list[Item]:
    """A JSON batch ({"articles": [...]}, ninjs {"items": [...]}) or an RSS / Atom document."""
    if media in XML_TYPES:
        items = _feed_items(body, limit)
    else:
        envelope = "items" if media == NINJS else "articles"
        documents = _json(body)
        entries = documents.get(envelope) if isinstance(documents, dict) else None
        if not isinstance(entries, list) or not entries:
            raise InvalidArticle([{"field": envelope, "message": "a non-empty list is required"}])
        _check_limit(envelope, len(entries), limit)
        parse = _ninjs_item if media == NINJS else _native_item
        items = [parse(i, doc, channel, prefix=f"{envelope}.{i}") for i, doc in enumerate(entries)]
    return [_with_channel(item, channel) for item in items]


def _check_limit(field_name: str, count: int, limit: int) -> None:
    if count > limit:
        raise InvalidArticle([{"field": field_name, "message": f"at most {limit} per request"}])


def _json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not valid UTF-8 (byte {exc.start})"
        raise InvalidArticle([{"field": "body", "message": message}]) from exc
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidArticle([{"field": "body", "message": f"not JSON: {exc}"}]) from exc


def _native_item(index: int, document: Any, channel: str | None = None, prefix: str = "") -> Item:
    external_id = document.get("external_id") if isinstance(document, dict) else None
    item = Item(index, external_id=external_id if isinstance(external_id, str) else None)
    try:
        item.article = ArticleIn.model_validate(document)
    except ValidationError as exc:
        item.errors = field_errors(list(exc.errors()), prefix)
    return item


def _ninjs_item(index: int, document: Any, channel: str | None = None, prefix: str = "") -> Item:
    item = Item(index)
    try:
        ninjs = NinjsDocument.model_validate(document)
    except ValidationError as exc:
        item.errors = field_errors(list(exc.errors()), prefix)
        return item
    item.external_id, item.withdraw, item.hold = ninjs.uri, ninjs.withdrawn, ninjs.held
    try:
        item.article = ArticleIn.model_validate(native_fields(ninjs))
    except ValidationError as exc:
        named = [
            {**e, "loc": (NINJS_FIELD.get(str(e["loc"][0]), e["loc"][0]),)} for e in exc.errors()
        ]
        item.errors = field_errors(named, prefix)
    return item


def _with_channel(item: Item, channel: str | None) -> Item:
    if item.article is not None and item.article.channel is None and channel:
        item.article = item.article.model_copy(update={"channel": channel})
    return item


# --- RSS 2.0 and Atom ----------------------------------------------------------------------


ITEM_NAMES = {"item", "entry"}  # in any namespace: an overcount only refuses sooner
# feedparser's cost follows the elements, not the bytes: a document may carry this many per
# item it is allowed (generous for Atom's inline XHTML) before it is refused unread.
ELEMENTS_PER_ITEM = 200


def count_feed_items(body: bytes, limit: int) -> int:
    """Items of an RSS / Atom document, counted by a streaming parser that stops past
    `limit` items or `limit` x ELEMENTS_PER_ITEM elements, expands no entity and fetches
    nothing, so feedparser only ever sees a document of bounded work without entity
    declarations (billion laughs, XXE)."""
    if not body.strip():
        raise InvalidArticle([{"field": "body", "message": "the document is empty"}], UNREADABLE)
    # recover: feedparser reads documents that are not well-formed, so the count must too
    events = etree.iterparse(
        io.BytesIO(body),
        events=("start",),
        recover=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    count = elements = 0
    most = limit * ELEMENTS_PER_ITEM
    try:
        for _, element in events:
            elements += 1
            if isinstance(element.tag, str) and element.tag.rpartition("}")[2] in ITEM_NAMES:
                count += 1
            if count > limit or elements > most:
                break
    except etree.XMLSyntaxError as exc:
        raise InvalidArticle([{"field": "body", "message": str(exc)}], UNREADABLE) from exc
    _refuse_entities(events.root)
    _refuse_halted(events.error_log)
    _check_limit("items", count, limit)
    if elements > most:
        message = f"more than {most} elements (at most {ELEMENTS_PER_ITEM} per allowed item)"
        raise InvalidArticle([{"field": "body", "message": message}], UNREADABLE)
    return count


def _refuse_entities(root: etree._Element | None) -> None:
    dtd = root.getroottree().docinfo.internalDTD if root is not None else None
    if dtd is not None and any(True for _ in dtd.iterentities()):
        message = "entity declarations are not accepted"
        raise InvalidArticle([{"field": "body", "message": message}], UNREADABLE)


def _refuse_halted(errors: etree._ListErrorLog) -> None:
    # libxml2 stops (rather than recovers) at its resource limits: the count is partial
    for error in errors:
        if error.type_name == "ERR_RESOURCE_LIMIT":
            message = f"too deeply nested or too large: {error.message}"
            raise InvalidArticle([{"field": "body", "message": message}], UNREADABLE)


def _feed_items(body: bytes, limit: int) -> list[Item]:
    count_feed_items(body, limit)
    # bytes, never str: feedparser fetches a str that looks like a URL.
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.version:
        reason = str(parsed.get("bozo_exception") or "not an RSS or Atom document")
        raise InvalidArticle([{"field": "body", "message": reason}], UNREADABLE)
    if not parsed.entries:
        raise InvalidArticle([{"field": "items", "message": "the document has no items"}])
    _check_limit("items", len(parsed.entries), limit)
    source = plain_text(str(parsed.feed.get("title", "")))[:100]
    return [_feed_item(i, entry, source) for i, entry in enumerate(parsed.entries)]


def _feed_item(index: int, entry: Any, source: str) -> Item:
    external_id = entry.get("id") or entry.get("link")
    item = Item(index, external_id=external_id)
    errors = [] if external_id else [{"field": f"items.{index}.guid", "message": "guid/id missing"}]
    published = _entry_date(entry, "published") or _entry_date(entry, "updated")
    raw_date = dict.get(entry, "published") or dict.get(entry, "updated")
    if raw_date and published is None:
        errors.append({"field": f"items.{index}.pubDate", "message": f"bad date {raw_date!r}"})
    if errors:
        item.errors = errors
        return item
    content = entry.get("content") or []
    summary = str(entry.get("summary", ""))
    fields = {
        "external_id": external_id,
        "title": plain_text(str(entry.get("title", ""))),
        "body_html": _as_html(content[0] if content else entry.get("summary_detail") or {}),
        "summary": plain_text(summary)[:2000] if content else "",
        "author": str(entry.get("author", ""))[:100],
        "source": source,
        "tags": [t.get("term") for t in entry.get("tags", []) if t.get("term")],
        "published_at": published,
        "images": feed_images(entry),
    }
    try:
        item.article = ArticleIn.model_validate(fields)
    except ValidationError as exc:
        item.errors = field_errors(list(exc.errors()), f"items.{index}")
    return item


def _as_html(detail: Any) -> str:
    value = str(detail.get("value", ""))
    return value if "html" in str(detail.get("type", "text/html")) else paragraphs(value)


def _entry_date(entry: Any, name: str) -> datetime | None:
    # dict.get: FeedParserDict.get maps updated_parsed to published_parsed, with a warning
    parsed: time.struct_time | None = dict.get(entry, f"{name}_parsed")
    if parsed is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
