"""The counter ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from redis.asyncio import Redis

from services.counter.api import router
from services.counter.service import HIT_SCRIPT, CounterContext
from services.counter.settings import CounterSettings
from shared.http import MetricsMiddleware, install_problem_handlers, ops_router
from shared.keys import Keys
from shared.logging import configure_logging


async def _check_redis(request: Request) -> None:
    await request.app.state.ctx.redis.ping()


def create_app(settings: CounterSettings | None = None) -> FastAPI:
    settings = settings or CounterSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_json)
        client = Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5)
        app.state.ctx = CounterContext(
            settings=settings,
            redis=client,
            keys=Keys(settings.key_prefix),
            hit_script=client.register_script(HIT_SCRIPT),
        )
        yield
        await client.aclose()

    app = FastAPI(title="Pressroom counter", version="1", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(router)
    app.include_router(ops_router({"redis": _check_redis}))
    app.add_middleware(MetricsMiddleware, service="counter")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"]
        )
    return app
