"""Counter HTTP routes (the hit itself is answered by hotpath.Hits before FastAPI; the
route here documents it and serves any caller that reaches FastAPI directly)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from services.counter import service
from services.counter.committer import CountUnavailable
from services.counter.committer import NotPublished as Refused
from services.counter.schemas import (
    Counts,
    Granularity,
    HitCount,
    ProblemDetails,
    Stats,
    Top,
    Window,
)
from shared.http import PROBLEM_JSON
from shared.ids import is_article_id

router = APIRouter(prefix="/v1", tags=["counter"])
# Every error is problem+json (shared/http.py handlers, hotpath.problem); documenting them
# here keeps FastAPI from claiming its application/json HTTPValidationError for 422.
PROBLEM_TITLES = {
    404: "Not a published article",
    422: "Invalid request (each bad field named)",
    503: "Counter unavailable; retry after Retry-After",
}
PROBLEM_SCHEMA = ProblemDetails.model_json_schema()


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "description": PROBLEM_TITLES[code],
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for code in codes
    }


ArticleId = Annotated[str, Path(max_length=64, description="Article id (20 hex characters)")]


def get_context(request: Request) -> service.CounterContext:
    ctx: service.CounterContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[service.CounterContext, Depends(get_context)]


@router.post(
    "/hits/{article_id}",
    response_model=HitCount,
    responses=problems(404, 422, 503),
    summary="Count a view",
)
async def post_hit(article_id: ArticleId, request: Request, ctx: ContextDep) -> HitCount:
    """Counts one view (once per reader per dedupe window; robots are answered, not counted)
    and returns the total. `GET /v1/hits/{id}.gif` does the same for pages without script."""
    if not is_article_id(article_id):
        raise service.NotPublished(article_id)
    peer = request.client.host if request.client else ""
    address = ctx.visitors.client_address(peer, request.headers.get("x-forwarded-for", ""))
    user_agent = request.headers.get("user-agent", "")
    visitor = ctx.visitors.visitor(address, user_agent, article_id)
    try:
        counted = await ctx.committer.hit(article_id, visitor)
    except Refused:
        raise service.NotPublished(article_id) from None
    except CountUnavailable:
        raise service.Unavailable() from None
    return HitCount(id=article_id, count=counted.count)


@router.get(
    "/counts", response_model=Counts, responses=problems(422), summary="Totals for several articles"
)
async def get_counts(ctx: ContextDep, ids: Annotated[str, Query(max_length=4000)] = "") -> Counts:
    wanted = [i.strip() for i in ids.split(",") if i.strip()][:200]
    return Counts(counts=await service.counts(ctx, wanted))


@router.get(
    "/top", response_model=Top, responses=problems(422), summary="Most viewed articles (点击排行)"
)
async def get_top(
    ctx: ContextDep,
    window: Window = "all",
    channel: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Top:
    return await service.top(ctx, window, channel, limit)


@router.get(
    "/stats/{article_id}",
    response_model=Stats,
    responses=problems(404, 422),
    summary="Views over time",
)
async def get_stats(
    article_id: ArticleId,
    ctx: ContextDep,
    granularity: Granularity = "hour",
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> Stats:
    return await service.stats(ctx, article_id, granularity, start, end)
