"""The Celery app and the one decorator every Pressroom task is declared with.

Messages carry ids, never objects; tasks are idempotent, acknowledged late and
re-queued if their worker dies, and retry transient storage/Redis faults with
exponential backoff and jitter.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import setup_logging

from shared.settings import CommonSettings
from shared.storage import StorageUnavailable

app = Celery("pressroom")

RENDER_QUEUE = "render"
PERIODIC_QUEUE = "periodic"
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    StorageUnavailable,
    redis.ConnectionError,
    redis.TimeoutError,
)

F = TypeVar("F", bound=Callable[..., Any])


def configure_celery(settings: CommonSettings, *, visibility_timeout: int = 300) -> Celery:
    """Point the app at the broker named by settings. Call once per process, before use."""
    app.conf.update(
        broker_url=settings.celery_broker_url,
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        # A message taken by a worker that dies is redelivered after this many seconds.
        broker_transport_options={"visibility_timeout": visibility_timeout},
        task_default_queue=queue_name(settings, RENDER_QUEUE),
        # Routing by name keeps producers (ingest sends by name) and workers in step.
        task_routes={
            "render.*": {"queue": queue_name(settings, RENDER_QUEUE)},
            "counter.*": {"queue": queue_name(settings, PERIODIC_QUEUE)},
            "ingest.*": {"queue": queue_name(settings, PERIODIC_QUEUE)},
        },
    )
    return app


# Modules whose import registers tasks; a worker (and beat) imports them all. Names, not
# imports, so that shared/ stays free of service imports.
TASK_MODULES = ("services.render.tasks", "services.ingest.tasks", "services.counter.tasks")


@setup_logging.connect
def _keep_pressroom_logging(**_: Any) -> None:
    """Connected, this stops Celery from installing its own plain-text handlers: worker and
    beat log through shared.logging like every other process."""


def worker_app(settings: CommonSettings, *, visibility_timeout: int = 300) -> Celery:
    """The app configured for a worker or beat process, with every task registered."""
    from shared.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    configure_celery(settings, visibility_timeout=visibility_timeout)
    for module in TASK_MODULES:
        importlib.import_module(module)
    return app


def queue_name(settings: CommonSettings, queue: str) -> str:
    return f"{settings.queue_prefix}{queue}"


def pressroom_task(
    name: str,
    *,
    soft_time_limit: int = 60,
    max_retries: int = 20,
) -> Callable[[F], Task[Any, Any]]:
    """Declare a task with Pressroom's defaults: explicit dotted name, late ack, retries."""

    def decorate(fn: F) -> Task[Any, Any]:
        return app.task(
            name=name,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            autoretry_for=TRANSIENT_ERRORS,
            retry_backoff=1,
            retry_backoff_max=60,
            retry_jitter=True,
            max_retries=max_retries,
            soft_time_limit=soft_time_limit,
            time_limit=soft_time_limit + 30,
        )(fn)

    return decorate


def install_schedule(celery: Celery, *, reconcile_seconds: float = 30.0) -> None:
    """The periodic jobs Celery beat sends (run exactly one beat)."""
    celery.conf.beat_schedule = {
        "reconcile-pending-articles": {"task": "ingest.reconcile", "schedule": reconcile_seconds},
        # counter: rolling rankings each minute; hourly -> daily every 5 minutes (idempotent)
        "counter-refresh-rankings": {"task": "counter.refresh_rankings", "schedule": 60.0},
        "counter-roll-up": {"task": "counter.roll_up", "schedule": 300.0},
        "counter-prune": {"task": "counter.prune", "schedule": crontab(hour="1", minute="5")},
        "counter-snapshot": {"task": "counter.snapshot", "schedule": crontab(hour="0", minute="9")},
    }
