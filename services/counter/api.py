"""Counter HTTP routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.counter import service
from services.counter.schemas import Counts, HitCount
from shared.http import PROBLEM_JSON

router = APIRouter(prefix="/v1", tags=["counter"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not a published article", "content": {PROBLEM_JSON: {}}}
}


def get_context(request: Request) -> service.CounterContext:
    ctx: service.CounterContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[service.CounterContext, Depends(get_context)]


@router.post(
    "/hits/{article_id}", response_model=HitCount, responses=NOT_FOUND, summary="Count a view"
)
async def post_hit(article_id: str, ctx: ContextDep) -> HitCount:
    return HitCount(id=article_id, count=await service.record_hit(ctx, article_id))


@router.get("/counts", response_model=Counts, summary="Totals for several articles")
async def get_counts(ctx: ContextDep, ids: Annotated[str, Query(max_length=4000)] = "") -> Counts:
    wanted = [i.strip() for i in ids.split(",") if i.strip()][:200]
    return Counts(counts=await service.counts(ctx, wanted))
