"""The edge's fallback for old addresses: answers a permanent redirect, or 404.

nginx asks it (location @legacy) only when the site bucket has no page at the path; it is not
a public route (services/edge/routes.py), so readers reach it through that fallback alone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from services.ingest import legacy
from services.ingest.api import PROBLEM_RESPONSES
from services.ingest.errors import InvalidArticle
from services.ingest.service import IngestContext

router = APIRouter(tags=["edge"])


def _context(request: Request) -> IngestContext:
    ctx: IngestContext = request.app.state.ctx
    return ctx


@router.get(
    "/internal/legacy-redirect",
    status_code=301,
    summary="Where an old address of an imported archive now lives (for the edge only)",
    responses={
        301: {"description": "Location: the new page"},
        404: {"description": "Unknown"},
        **{code: PROBLEM_RESPONSES[code] for code in (422, 503)},
    },
)
async def legacy_redirect(
    ctx: Annotated[IngestContext, Depends(_context)],
    x_original_uri: Annotated[str | None, Header()] = None,
) -> Response:
    if not x_original_uri or not x_original_uri.startswith("/"):
        raise InvalidArticle(
            [{"field": "X-Original-URI", "message": "the request URI the edge could not find"}],
            "X-Original-URI is required",
        )
    target = await run_in_threadpool(legacy.lookup, ctx.redis, ctx.keys, x_original_uri)
    if target is None:
        return Response(status_code=404)
    # pages are at the same origin: a path keeps the redirect right behind any host name
    return Response(status_code=301, headers={"Location": target, "Cache-Control": "max-age=3600"})
