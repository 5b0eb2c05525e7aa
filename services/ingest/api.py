"""Ingest's HTTP routes: thin, they authenticate, read and parse, and hand over to service.py."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.ingest import batch, editorial, formats, service
from services.ingest.errors import (
    BodyTooLarge,
    BodyTooSlow,
    InvalidArticle,
    MissingKey,
    StoreUnavailable,
    UnknownKey,
    UnsupportedMediaType,
)
from services.ingest.feeds import Feed
from services.ingest.idempotency import idempotent
from services.ingest.metrics import ARTICLES_ACCEPTED, ARTICLES_UNCHANGED
from services.ingest.openapi import ARTICLE_BODY, BATCH_BODY
from services.ingest.schemas import ArticleAccepted, ArticleState, BatchAccepted, VersionsOut
from services.ingest.signing import claim_signature, verify_signature
from shared.http import PROBLEM_JSON
from shared.ids import article_id as article_id_for
from shared.storage import StorageUnavailable

router = APIRouter(prefix="/v1", tags=["articles"])

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": title, "content": {PROBLEM_JSON: {}}}
    for code, title in {
        401: "Missing or unknown feed key",
        403: "Missing, wrong, stale or replayed signature (signed feeds)",
        404: "No such article in this feed",
        408: "The body did not arrive whole within body_timeout_seconds",
        409: "Another request for this article, or with this Idempotency-Key, is running",
        413: "Body too large",
        415: "Unsupported content type",
        422: "Invalid article (each bad field named)",
        503: "Object store or Redis unavailable; retry after Retry-After",
    }.items()
}
CHANGED_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ArticleAccepted, "description": "Replay or older version: nothing changed"},
    **PROBLEM_RESPONSES,
}


def get_context(request: Request) -> service.IngestContext:
    ctx: service.IngestContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[service.IngestContext, Depends(get_context)]


async def authenticated_feed(
    ctx: ContextDep, authorization: Annotated[str | None, Header()] = None
) -> Feed:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise MissingKey()
    try:
        feed = await run_in_threadpool(ctx.feeds.authenticate, key.strip())
    except StorageUnavailable as exc:  # the feed registry lives in the data bucket
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store") from exc
    if feed is None:
        raise UnknownKey()
    return feed


FeedDep = Annotated[Feed, Depends(authenticated_feed)]


async def read_body(request: Request, ctx: service.IngestContext) -> bytes:
    """The request bytes: at most max_body_bytes (413), whole within body_timeout_seconds
    (408)."""
    limit = ctx.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)  # refuse before reading a byte
    body = bytearray()
    seconds = ctx.settings.body_timeout_seconds
    try:
        # one deadline for the whole body: a per-read timeout would let a client trickle
        # a byte at a time for ever
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise BodyTooLarge(limit)
    except TimeoutError:
        raise BodyTooSlow(seconds) from None
    return bytes(body)


async def signed_body(request: Request, ctx: service.IngestContext, feed: Feed) -> bytes:
    """The body; a signed feed's signature is checked and used up, so the same signed
    request is never accepted twice."""
    body = await read_body(request, ctx)
    signature = verify_signature(feed, body, request, ctx.settings)
    if signature is not None:
        await run_in_threadpool(claim_signature, ctx, feed, signature)
    return body


def _answer(result: ArticleAccepted, feed: Feed, media: str) -> JSONResponse:
    if result.changed:
        ARTICLES_ACCEPTED.labels(feed.name, media).inc()
    else:
        ARTICLES_UNCHANGED.labels(feed.name).inc()
    return JSONResponse(result.model_dump(mode="json"), status_code=202 if result.changed else 200)


def _batch_answer(result: BatchAccepted, feed: Feed, media: str) -> JSONResponse:
    ARTICLES_ACCEPTED.labels(feed.name, media).inc(result.accepted)
    ARTICLES_UNCHANGED.labels(feed.name).inc(result.unchanged)
    return JSONResponse(result.model_dump(mode="json"), status_code=202 if result.accepted else 200)


async def _publish_collection(
    request: Request, ctx: service.IngestContext, feed: Feed, media: str, body: bytes
) -> JSONResponse:
    channel = request.query_params.get("channel")
    limit = ctx.settings.max_batch_items
    # on a thread: parsing a feed document takes long enough to stall every other request
    items = await run_in_threadpool(formats.parse_collection, media, body, channel, limit)
    return _batch_answer(
        await run_in_threadpool(batch.publish_items, ctx, feed, items), feed, media
    )


@router.post(
    "/articles",
    status_code=202,
    response_model=ArticleAccepted,
    responses=CHANGED_RESPONSES,
    openapi_extra=ARTICLE_BODY,
    summary="Publish an article, or every item of an RSS / Atom document",
    description="202 when a new version was stored, 200 when nothing changed. A ninjs "
    "document with pubstatus canceled unpublishes; withheld stores the version shown "
    "nowhere until a later one; `embargoed` holds it until that instant. RSS and Atom answer "
    "with one result per item, as `POST /v1/articles:batch` does (BatchAccepted). "
    "Honours Idempotency-Key.",
)
async def post_article(request: Request, ctx: ContextDep, feed: FeedDep) -> Response:
    media = formats.media_type(request.headers.get("content-type"))
    body = await signed_body(request, ctx, feed)

    async def publish() -> JSONResponse:
        if formats.is_collection(media):
            return await _publish_collection(request, ctx, feed, media, body)
        item = await parse_single(media, body, request)
        return _answer(await run_in_threadpool(batch.publish_item, ctx, feed, item), feed, media)

    return await idempotent(ctx, feed, request, body, publish)


async def parse_single(media: str, body: bytes, request: Request) -> formats.Item:
    """One document, parsed and sanitized on a thread: the event loop keeps answering."""
    channel = request.query_params.get("channel")
    return await run_in_threadpool(formats.parse_single, media, body, channel)


@router.post(
    "/articles:batch",
    status_code=202,
    response_model=BatchAccepted,
    responses={
        200: {"model": BatchAccepted, "description": "Nothing changed"},
        **PROBLEM_RESPONSES,
    },
    openapi_extra=BATCH_BODY,
    summary="Publish up to 500 articles; one result per item",
    description="202 when at least one item was stored, else 200. Each item carries the "
    "status it would have had alone, and its problem when refused.",
)
async def post_batch(request: Request, ctx: ContextDep, feed: FeedDep) -> Response:
    media = formats.media_type(request.headers.get("content-type"))
    body = await signed_body(request, ctx, feed)
    return await idempotent(
        ctx, feed, request, body, lambda: _publish_collection(request, ctx, feed, media, body)
    )


@router.put(
    "/articles/{article_id}",
    status_code=202,
    response_model=ArticleAccepted,
    responses=CHANGED_RESPONSES,
    openapi_extra=ARTICLE_BODY,
    summary="Replace an article with a new version",
)
async def put_article(
    article_id: str, request: Request, ctx: ContextDep, feed: FeedDep
) -> Response:
    media = formats.media_type(request.headers.get("content-type"))
    if formats.is_collection(media):
        raise UnsupportedMediaType(media, [formats.JSON, formats.NINJS])
    body = await signed_body(request, ctx, feed)
    item = await parse_single(media, body, request)
    await run_in_threadpool(service.article_state, ctx, feed, article_id)  # 404 unless owned
    assert item.article is not None
    if article_id_for(feed.name, item.article.external_id) != article_id:
        raise InvalidArticle(
            [{"field": "external_id", "message": "belongs to another article id"}],
            "external_id does not match the article",
        )

    async def publish() -> JSONResponse:
        return _answer(await run_in_threadpool(batch.publish_item, ctx, feed, item), feed, media)

    return await idempotent(ctx, feed, request, body, publish)


@router.delete(
    "/articles/{article_id}",
    status_code=202,
    response_model=ArticleAccepted,
    responses=CHANGED_RESPONSES,
    summary="Unpublish an article (its history stays in the data bucket)",
    description="A withdrawal is a version: `version` names it (without it, the stored "
    "version is withdrawn). It beats a publish of the same version; only a newer one "
    "undoes it.",
)
async def delete_article(
    article_id: str,
    request: Request,
    ctx: ContextDep,
    feed: FeedDep,
    version: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> Response:
    body = await signed_body(request, ctx, feed)

    async def withdraw() -> JSONResponse:
        result = await run_in_threadpool(service.unpublish_article, ctx, feed, article_id, version)
        return _answer(result, feed, "delete")

    return await idempotent(ctx, feed, request, body, withdraw)


@router.get(
    "/articles/{article_id}",
    response_model=ArticleState,
    responses=PROBLEM_RESPONSES,
    summary="Status of an article: queued, published, unpublished or failed",
)
async def get_article(article_id: str, ctx: ContextDep, feed: FeedDep) -> ArticleState:
    return await run_in_threadpool(service.article_state, ctx, feed, article_id)


@router.get(
    "/articles/{article_id}/versions",
    response_model=VersionsOut,
    responses=PROBLEM_RESPONSES,
    summary="Every stored version of an article: number, receipt, title, correction, kills",
)
async def get_versions(article_id: str, ctx: ContextDep, feed: FeedDep) -> VersionsOut:
    return await run_in_threadpool(
        editorial.article_versions, ctx.storage, ctx.settings, feed.name, article_id
    )
