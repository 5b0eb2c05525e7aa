"""Ingest's HTTP routes: thin, they authenticate, parse, and hand over to service.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from services.ingest import service
from services.ingest.feeds import Feed
from services.ingest.schemas import ArticleAccepted, ArticleIn, ArticleState
from shared.http import PROBLEM_JSON, Problem, validation_problem
from shared.ids import article_id as article_id_for

router = APIRouter(prefix="/v1", tags=["articles"])

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": title, "content": {PROBLEM_JSON: {}}}
    for code, title in {
        401: "Missing or unknown feed key",
        404: "No such article in this feed",
        413: "Body too large",
        415: "Unsupported content type",
        422: "Invalid article (each bad field named)",
        503: "Object store or Redis unavailable; retry after Retry-After",
    }.items()
}
ARTICLE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ArticleIn"}}},
    }
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
        raise Problem(
            401,
            "Missing feed key",
            "Send Authorization: Bearer <feed key>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    feed = await run_in_threadpool(ctx.feeds.authenticate, key.strip())
    if feed is None:
        raise Problem(
            401, "Unknown feed key", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    return feed


FeedDep = Annotated[Feed, Depends(authenticated_feed)]


async def read_article(request: Request, ctx: service.IngestContext) -> ArticleIn:
    body = await request.body()
    if len(body) > ctx.settings.max_body_bytes:
        raise Problem(413, "Body too large", f"limit is {ctx.settings.max_body_bytes} bytes")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise Problem(
            415, "Unsupported content type", f"{media_type or 'none'}; send application/json"
        )
    try:
        return ArticleIn.model_validate_json(body)
    except ValidationError as exc:
        raise validation_problem([dict(e) for e in exc.errors()]) from exc


def accepted_response(result: ArticleAccepted) -> JSONResponse:
    return JSONResponse(result.model_dump(mode="json"), status_code=202 if result.changed else 200)


@router.post(
    "/articles",
    status_code=202,
    response_model=ArticleAccepted,
    responses={
        200: {"model": ArticleAccepted, "description": "Replay or older version: nothing changed"},
        **PROBLEM_RESPONSES,
    },
    openapi_extra=ARTICLE_BODY,
    summary="Publish an article (a new one, or a newer version)",
)
async def post_article(request: Request, ctx: ContextDep, feed: FeedDep) -> JSONResponse:
    article = await read_article(request, ctx)
    return accepted_response(await run_in_threadpool(service.publish_article, ctx, feed, article))


@router.put(
    "/articles/{article_id}",
    status_code=202,
    response_model=ArticleAccepted,
    responses=PROBLEM_RESPONSES,
    openapi_extra=ARTICLE_BODY,
    summary="Replace an article with a new version",
)
async def put_article(
    article_id: str, request: Request, ctx: ContextDep, feed: FeedDep
) -> JSONResponse:
    article = await read_article(request, ctx)
    await run_in_threadpool(service.article_state, ctx, feed, article_id)  # 404 unless owned
    if article_id_for(feed.name, article.external_id) != article_id:
        raise Problem(
            422,
            "external_id does not match the article",
            errors=[{"field": "external_id", "message": "belongs to another article id"}],
        )
    return accepted_response(await run_in_threadpool(service.publish_article, ctx, feed, article))


@router.delete(
    "/articles/{article_id}",
    status_code=202,
    response_model=ArticleAccepted,
    responses=PROBLEM_RESPONSES,
    summary="Unpublish an article (its history stays in the data bucket)",
)
async def delete_article(article_id: str, ctx: ContextDep, feed: FeedDep) -> JSONResponse:
    return accepted_response(
        await run_in_threadpool(service.unpublish_article, ctx, feed, article_id)
    )


@router.get(
    "/articles/{article_id}",
    response_model=ArticleState,
    responses=PROBLEM_RESPONSES,
    summary="Status of an article: queued, published, unpublished or failed",
)
async def get_article(article_id: str, ctx: ContextDep, feed: FeedDep) -> ArticleState:
    return await run_in_threadpool(service.article_state, ctx, feed, article_id)
