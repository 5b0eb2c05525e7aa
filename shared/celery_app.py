"""The Celery app and the one decorator every Pressroom task is declared with.

Messages carry ids, never objects; tasks are idempotent, acknowledged late and
re-queued if their worker dies, and retry transient storage/Redis faults with
exponential backoff and jitter.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import redis
from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import (
    beat_init,
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_shutdown,
    worker_ready,
)
from prometheus_client import Counter, Histogram, multiprocess, start_http_server

from shared.http import metrics_registry
from shared.logging import get_logger
from shared.settings import CommonSettings
from shared.storage import StorageUnavailable
from shared.tracing import configure_tracing, flush_spans

app = Celery("pressroom")

RENDER_QUEUE = "render"
PERIODIC_QUEUE = "periodic"
# Pictures: fetched and rendered by the render workers, beside (not behind) page renders.
MEDIA_QUEUE = "media"
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    StorageUnavailable,
    redis.ConnectionError,
    redis.TimeoutError,
)

F = TypeVar("F", bound=Callable[..., Any])
log = get_logger("pressroom.tasks")

# Every task's count, run time and queue wait, recorded here once for all of them.
TASKS = Counter("pressroom_tasks_total", "Tasks run, by outcome", ["task", "state"])
TASK_SECONDS = Histogram(
    "pressroom_task_seconds",
    "Time a task ran",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 240),
)
TASK_QUEUE_WAIT = Histogram(
    "pressroom_task_queue_wait_seconds",
    "Time from a task's sending (or its ETA, if later) to its start",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
# Wall-clock seconds at publication: the sender and the worker are different processes.
SENT_AT_HEADER = "pressroom_sent_at"
_started: dict[str, float] = {}
_worker_settings: CommonSettings | None = None


def configure_celery(settings: CommonSettings, *, visibility_timeout: int = 300) -> Celery:
    """Point the app at the broker named by settings: once per process, before use (a
    later call for another broker, as tests make, drops the connections made for the first)."""
    if app.conf.broker_url and app.conf.broker_url != settings.celery_broker_url:
        app._after_fork()  # type: ignore[attr-defined]  # Celery's reset of its cached pools
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
            "media.*": {"queue": queue_name(settings, MEDIA_QUEUE)},
        },
    )
    return app


# Modules whose import registers tasks; a worker (and beat) imports them all. Names, not
# imports, so that shared/ stays free of service imports.
TASK_MODULES = (
    "services.render.tasks",
    "services.ingest.tasks",
    "services.counter.tasks",
    "services.media.tasks",
)


@setup_logging.connect
def _keep_pressroom_logging(**_: Any) -> None:
    """Connected, this stops Celery from installing its own plain-text handlers: worker and
    beat log through shared.logging like every other process."""


def worker_app(settings: CommonSettings, *, visibility_timeout: int = 300) -> Celery:
    """The app configured for a worker or beat process, with every task registered."""
    from shared.logging import configure_logging

    global _worker_settings
    _worker_settings = settings
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


@before_task_publish.connect
def _stamp_sent_at(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers[SENT_AT_HEADER] = time.time()


@task_prerun.connect
def _task_started(task_id: str, task: Task[Any, Any], **_: Any) -> None:
    _started[task_id] = time.perf_counter()
    sent_at = getattr(task.request, SENT_AT_HEADER, None)
    if isinstance(sent_at, int | float):
        due = max(float(sent_at), _eta_timestamp(task.request.eta))
        TASK_QUEUE_WAIT.labels(task.name).observe(max(0.0, time.time() - due))


@task_postrun.connect
def _task_finished(task_id: str, task: Task[Any, Any], state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id, None)
    TASKS.labels(task.name, (state or "unknown").lower()).inc()
    if started is not None:
        TASK_SECONDS.labels(task.name).observe(time.perf_counter() - started)


def _eta_timestamp(eta: object) -> float:
    if isinstance(eta, datetime):
        return eta.timestamp()
    if isinstance(eta, str):
        return datetime.fromisoformat(eta).timestamp()
    return 0.0


@worker_init.connect
def _worker_starting(sender: Any, **_: Any) -> None:
    """Before the pool forks: tracing (its batch exporter re-arms in each child) and the
    metrics directory's leftovers from earlier runs."""
    configure_tracing("pressroom-worker")
    port = _worker_settings.worker_metrics_port if _worker_settings else None
    if port is None:
        return
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        _forget_dead_processes(Path(directory))
    elif "prefork" in str(getattr(sender, "pool_cls", "")).lower():
        log.error(
            "worker.metrics.refused",
            reason="PRESSROOM_WORKER_METRICS_PORT with the prefork pool needs "
            "PROMETHEUS_MULTIPROC_DIR (a directory of this worker's own): the tasks run in "
            "child processes whose counts this process could not see otherwise",
        )
        raise SystemExit(2)  # a signal handler's Exception would only be logged by Celery


def _forget_dead_processes(directory: Path) -> None:
    """Values of a previous run's processes would be summed in for ever: drop their files
    (this process's own, possibly open already, stay)."""
    mine = f"_{os.getpid()}.db"
    for stale in directory.glob("*.db"):
        if not stale.name.endswith(mine):
            stale.unlink(missing_ok=True)


@worker_ready.connect
def _serve_worker_metrics(**_: Any) -> None:
    """The worker's /metrics, served by its main process over every pool process's values."""
    port = _worker_settings.worker_metrics_port if _worker_settings else None
    if port is not None:
        start_http_server(port, registry=metrics_registry())
        log.info("worker.metrics.serving", port=port)


@worker_process_shutdown.connect
def _pool_process_exiting(**_: Any) -> None:
    flush_spans()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


@beat_init.connect
def _beat_starting(**_: Any) -> None:
    configure_tracing("pressroom-scheduler")
