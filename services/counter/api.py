"""Counter HTTP routes (the hit itself is answered by hotpath.Hits before FastAPI; the
route here documents it and answers with the same Hits for a caller reaching FastAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.counter import service
from services.counter.hotpath import Hits
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
async def post_hit(article_id: ArticleId, request: Request) -> Response:
    """Counts one view (once per reader per dedupe window; robots are answered, not counted)
    and returns the total. `GET /v1/hits/{id}.gif` does the same for pages without script."""
    peer = request.client.host if request.client else ""
    answer = await Hits(request.app).answer(
        "POST",
        article_id,
        peer,
        request.headers.get("user-agent", ""),
        request.headers.getlist("x-forwarded-for"),
        request.headers.get("origin", ""),
    )
    if answer is None:  # unreachable: a POST on an id is always a hit
        raise service.NotPublished(article_id)
    status, media_type, body, headers = answer
    return Response(body, status, dict(headers), media_type)


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
