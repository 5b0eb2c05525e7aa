"""The editors' dashboard: rankings per window and an hourly chart per article, as one
server-rendered page (no script, so it works behind any proxy and in any browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.counter import service
from services.counter.api import ContextDep, problems
from services.counter.schemas import Point, Top

router = APIRouter(tags=["dashboard"])
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)
WINDOW_NAMES = {"1h": "1 小时", "24h": "24 小时", "7d": "7 天", "30d": "30 天", "all": "全部"}
CHART_HEIGHT = 120


def bars(points: list[Point]) -> list[dict[str, Any]]:
    """Bar geometry for the SVG chart, scaled to the busiest slot."""
    peak = max((p.count for p in points), default=0) or 1
    return [
        {"x": i * 10, "height": round(p.count / peak * CHART_HEIGHT), "point": p}
        for i, p in enumerate(points)
    ]


@router.get(
    "/dashboard",
    response_class=HTMLResponse,
    responses=problems(404, 422),
    summary="Dashboard for editors",
)
async def dashboard(
    request: Request,
    ctx: ContextDep,
    article: Annotated[str | None, Query(pattern=r"^[0-9a-f]{20}$")] = None,
    channel: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")] = None,
) -> HTMLResponse:
    rankings: list[tuple[str, Top]] = [
        (WINDOW_NAMES[w], await service.top(ctx, w, channel, 10))
        for w in ("1h", "24h", "7d", "30d", "all")
    ]
    chart = None
    if article:
        hourly = await service.stats(ctx, article, "hour", None, None)
        daily = await service.stats(ctx, article, "day", None, None)
        chart = {"stats": hourly, "hours": bars(hourly.points), "days": bars(daily.points)}
    page = templates.get_template("dashboard.html.j2").render(
        rankings=rankings,
        chart=chart,
        channel=channel,
        height=CHART_HEIGHT,
        base=request.scope.get("root_path", ""),
    )
    return HTMLResponse(page, headers={"cache-control": "no-store"})
