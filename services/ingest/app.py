"""The ingest ASGI application: clients built in lifespan, routes, errors, operations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from services.ingest.api import router
from services.ingest.errors import IngestError
from services.ingest.feeds import FeedRegistry
from services.ingest.legacy_api import router as legacy_router
from services.ingest.media_api import router as media_router
from services.ingest.metrics import ARTICLES_REJECTED
from services.ingest.openapi import DESCRIPTION, install_openapi
from services.ingest.pages_api import router as pages_router
from services.ingest.service import IngestContext
from services.ingest.settings import IngestSettings
from shared.celery_app import configure_celery
from shared.http import MetricsMiddleware, install_problem_handlers, ops_router, problem_response
from shared.keys import Keys
from shared.logging import configure_logging, get_logger
from shared.redis_client import connect
from shared.site import load_site
from shared.storage import Storage

log = get_logger("pressroom.ingest")


def build_context(settings: IngestSettings) -> IngestContext:
    storage = Storage.from_settings(settings)
    return IngestContext(
        settings=settings,
        storage=storage,
        redis=connect(settings, timeout=5),
        feeds=FeedRegistry(storage.data, settings.feed_cache_seconds, settings.secret_box()),
        # PRESSROOM_SITE_BASE_URL wins over site.toml: the 202's url is the public one
        site=load_site(settings.site_config, settings.site_base_url),
        keys=Keys(settings.key_prefix),
    )


async def _check_redis(request: Request) -> None:
    await run_in_threadpool(request.app.state.ctx.redis.ping)


async def _check_storage(request: Request) -> None:
    await run_in_threadpool(request.app.state.ctx.storage.data.etag, "readyz")


async def _on_ingest_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IngestError)
    ARTICLES_REJECTED.labels(exc.reason).inc()
    log.info("ingest.request.rejected", path=request.url.path, status=exc.status, reason=exc.reason)
    return problem_response(exc)


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_json)
        configure_celery(settings)
        app.state.ctx = build_context(settings)
        yield
        app.state.ctx.redis.close()

    app = FastAPI(
        title="Pressroom ingest",
        version="1",
        summary="Upstream feeds publish, update and withdraw articles here.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.add_exception_handler(IngestError, _on_ingest_error)
    app.include_router(router)
    app.include_router(pages_router)
    app.include_router(legacy_router)
    app.include_router(media_router)
    app.include_router(ops_router({"redis": _check_redis, "s3": _check_storage}))
    app.add_middleware(MetricsMiddleware, service="ingest")
    install_openapi(app)
    return app
