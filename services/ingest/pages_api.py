"""Ingest's routes for site pages (/v1/pages/{slug}): thin, authenticated like articles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from services.ingest import formats, site_pages
from services.ingest.api import PROBLEM_RESPONSES, ContextDep, FeedDep, signed_body
from services.ingest.errors import InvalidArticle, UnsupportedMediaType, field_errors
from services.ingest.schemas import PageAccepted, PageIn, PageState

router = APIRouter(prefix="/v1", tags=["pages"])
# `:path` so that a slug with a slash or dot segment reaches the slug check (422 naming it)
# instead of missing the route.
PAGE = "/pages/{slug:path}"
CHANGED: dict[int | str, dict[str, Any]] = {
    200: {"model": PageAccepted, "description": "Same as the stored page"},
    **PROBLEM_RESPONSES,
}


@router.put(
    PAGE,
    status_code=202,
    response_model=PageAccepted,
    responses=CHANGED,
    summary="Create or replace a site page, published at /{slug}.html",
    description="The body is sanitized as an article's is. Slugs: a-z, 0-9 and inner "
    "hyphens, not a channel nor a name the site uses itself (index, 404, robots, sitemap, "
    "query...). 202 when stored, 200 when identical to the stored page (rendered again).",
)
async def put_page(slug: str, request: Request, ctx: ContextDep, feed: FeedDep) -> Response:
    site_pages.check_slug(ctx, slug)
    media = formats.media_type(request.headers.get("content-type"))
    if media != formats.JSON:
        raise UnsupportedMediaType(media, [formats.JSON])
    body = await signed_body(request, ctx, feed)
    try:
        incoming = PageIn.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidArticle(field_errors(exc.errors()), "Invalid page") from None
    result = await run_in_threadpool(site_pages.put_page, ctx, feed.name, slug, incoming)
    return JSONResponse(result.model_dump(mode="json"), status_code=202 if result.changed else 200)


@router.delete(
    PAGE,
    status_code=202,
    response_model=PageAccepted,
    responses=PROBLEM_RESPONSES,
    summary="Remove a site page: from the data bucket, the site and the sitemap",
)
async def delete_page(slug: str, request: Request, ctx: ContextDep, feed: FeedDep) -> Response:
    site_pages.check_slug(ctx, slug)
    await signed_body(request, ctx, feed)
    result = await run_in_threadpool(site_pages.delete_page, ctx, feed.name, slug)
    return JSONResponse(result.model_dump(mode="json"), status_code=202)


@router.get(
    PAGE,
    response_model=PageState,
    responses=PROBLEM_RESPONSES,
    summary="A site page as stored",
)
async def get_page(slug: str, ctx: ContextDep, feed: FeedDep) -> PageState:
    return await run_in_threadpool(site_pages.page_state, ctx, slug)
