"""The counter's FastAPI application (rsgi.py serves it on granian, hits answered in front)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from services.counter.api import router
from services.counter.dashboard import router as dashboard_router
from services.counter.service import build_context
from services.counter.settings import CounterSettings
from shared.http import MetricsMiddleware, install_problem_handlers, ops_router
from shared.logging import configure_logging


async def _check_redis(request: Request) -> None:
    await request.app.state.ctx.redis.ping()


def create_app(settings: CounterSettings | None = None) -> FastAPI:
    settings = settings or CounterSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_json)
        app.state.ctx = await build_context(settings)
        # Everything built so far lives as long as the process: keep it out of the
        # collector's scans, whose pauses would otherwise show as the hit route's p99.
        gc.collect()
        gc.freeze()
        yield
        await app.state.ctx.aclose()

    app = FastAPI(title="Pressroom counter", version="1", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(router)
    app.include_router(dashboard_router)
    app.include_router(ops_router({"redis": _check_redis}))
    app.add_middleware(MetricsMiddleware, service="counter")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"]
        )
    # Hits are answered in front of this app (rsgi.create_rsgi_server): they never reach its
    # routing or its middlewares.
    return app
