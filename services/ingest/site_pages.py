"""Site pages through ingest: store (sanitized like an article's body) or remove one, then
ask render to publish or withdraw it at /{slug}.html."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from services.ingest.errors import InvalidArticle, PageNotFound, StoreUnavailable
from services.ingest.sanitize import clean_body
from services.ingest.schemas import PageAccepted, PageIn, PageState
from services.ingest.service import IngestContext, sanitized_body
from shared.celery_app import app as celery_app
from shared.logging import describe, get_logger
from shared.site import SiteConfig
from shared.site_pages import Seed, SitePage, page_key, page_path, slug_problem
from shared.storage import Storage, StorageUnavailable

log = get_logger("pressroom.ingest.pages")
RENDER_TASK = "render.page"
SEEDED = "site-pages-seeded/"  # one empty object per placeholder ever stored
JSON = "application/json"


def check_slug(ctx: IngestContext, slug: str) -> None:
    """422 naming the slug when it cannot be a page of this site (path tricks included)."""
    problem = slug_problem(slug, ctx.site)
    if problem:
        raise InvalidArticle([{"field": "slug", "message": problem}], "Invalid page slug")


def put_page(ctx: IngestContext, feed: str, slug: str, incoming: PageIn) -> PageAccepted:
    """Store the page unless it is the same as the stored one; render it either way, so
    that a page whose render was lost is published by sending it again."""
    check_slug(ctx, slug)
    body = sanitized_body(ctx, incoming.body_html)
    current = _load(ctx, slug)
    changed = current is None or (current.title, current.body_html) != (incoming.title, body)
    if changed:
        page = SitePage(
            slug=slug, title=incoming.title, body_html=body, feed=feed, updated_at=datetime.now(UTC)
        )
        _store(ctx, page_key(slug), orjson.dumps(page.model_dump(mode="json")))
        log.info("ingest.page.stored", slug=slug, feed=feed)
    _enqueue(slug)
    return PageAccepted(slug=slug, url=_public_url(ctx, slug), status="queued", changed=changed)


def delete_page(ctx: IngestContext, feed: str, slug: str) -> PageAccepted:
    check_slug(ctx, slug)
    if _load(ctx, slug) is None:
        raise PageNotFound(slug)
    try:
        ctx.storage.data.delete(page_key(slug))
    except StorageUnavailable as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store") from exc
    log.info("ingest.page.deleted", slug=slug, feed=feed)
    _enqueue(slug)
    return PageAccepted(slug=slug, url=_public_url(ctx, slug), status="queued", changed=True)


def page_state(ctx: IngestContext, slug: str) -> PageState:
    check_slug(ctx, slug)
    page = _load(ctx, slug)
    if page is None:
        raise PageNotFound(slug)
    return PageState(
        slug=slug,
        url=_public_url(ctx, slug),
        title=page.title,
        body_html=page.body_html,
        updated_at=page.updated_at,
    )


def seed_pages(storage: Storage, site: SiteConfig, seeds: list[Seed]) -> list[str]:
    """Store each placeholder page once: never over a page that exists (a conditional PUT),
    and never again after it was seeded, so that a page the operator deleted stays deleted.
    Returns the slugs stored now."""
    stored = []
    for seed in seeds:
        if slug_problem(seed.slug, site) or storage.data.etag(SEEDED + seed.slug) is not None:
            continue
        page = SitePage(
            slug=seed.slug,
            title=seed.title,
            body_html=clean_body(seed.body_html),
            feed="init",
            updated_at=datetime.now(UTC),
        )
        document = orjson.dumps(page.model_dump(mode="json"))
        if storage.data.put_if(page_key(seed.slug), document, etag=None, content_type=JSON):
            stored.append(seed.slug)
        storage.data.put(SEEDED + seed.slug, b"", content_type="text/plain")
    return stored


def _load(ctx: IngestContext, slug: str) -> SitePage | None:
    try:
        raw = ctx.storage.data.get(page_key(slug))
    except StorageUnavailable as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store") from exc
    return None if raw is None else SitePage.model_validate_json(raw)


def _store(ctx: IngestContext, key: str, document: bytes) -> None:
    try:
        ctx.storage.data.put(key, document, content_type=JSON)
    except StorageUnavailable as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store") from exc


def _enqueue(slug: str) -> None:
    # The page is durable now: a broker failure only delays it until the next
    # `pressroom rebuild` (or the same request sent again), so it must not fail the request.
    try:
        celery_app.send_task(RENDER_TASK, args=[slug])
    except Exception as exc:  # kombu raises its own and redis' errors
        log.warning("ingest.page.enqueue_deferred", slug=slug, error=describe(exc))


def _public_url(ctx: IngestContext, slug: str) -> str:
    return f"{ctx.site.base_url.rstrip('/')}/{page_path(slug)}"
