"""`pressroom render-worker`: the Celery worker for rendering and periodic jobs."""

from __future__ import annotations

from typing import Annotated

import typer

from services.render.settings import RenderSettings
from services.render.tasks import build_context
from shared.celery_app import PERIODIC_QUEUE, RENDER_QUEUE, queue_name, worker_app


def render_worker(
    concurrency: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    name: Annotated[str, typer.Option(help="Node name")] = "render",
    pool: Annotated[str, typer.Option(help="prefork, threads or solo")] = "prefork",
) -> None:
    """Run a Celery worker for rendering and the periodic jobs."""
    settings = RenderSettings()
    app = worker_app(settings, visibility_timeout=settings.visibility_timeout)
    ctx = build_context(settings)
    ctx.theme.publish_assets(ctx.storage.site, settings.asset_cache_control)
    queues = ",".join(queue_name(settings, q) for q in (RENDER_QUEUE, PERIODIC_QUEUE))
    app.worker_main(
        [
            "worker",
            f"--hostname={name}@%h",
            f"--queues={queues}",
            f"--pool={pool}",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )
