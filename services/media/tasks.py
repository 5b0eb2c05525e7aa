"""Media's Celery tasks: media.fetch (one picture), media.sweep (daily) and media.reconcile
(often), both sent by beat."""

from __future__ import annotations

import random
from typing import Any

from celery import Task
from celery.schedules import crontab
from celery.signals import beat_init, worker_process_init

from services.media.service import resend_lost_fetches, run_fetch, sweep
from services.media.settings import MediaSettings
from services.media.store import MediaContext, build_context
from shared.celery_app import pressroom_task

FETCH_SECONDS = 120
SWEEP_TASK = "media.sweep"
RECONCILE_TASK = "media.reconcile"
_context: MediaContext | None = None


@worker_process_init.connect
def _init_worker_process(**_: Any) -> None:
    global _context
    _context = build_context(MediaSettings())


def context() -> MediaContext:
    global _context
    if _context is None:  # solo/threads pools never send worker_process_init
        _context = build_context(MediaSettings())
    return _context


@beat_init.connect
def _schedule_sweep(sender: Any, **_: Any) -> None:
    """Have the one beat send media.sweep daily and media.reconcile often (the media
    service owns its schedule)."""
    sender.scheduler.update_from_dict(
        {
            "media-sweep": {"task": SWEEP_TASK, "schedule": crontab(hour="3", minute="17")},
            "media-reconcile": {
                "task": RECONCILE_TASK,
                "schedule": MediaSettings().media_reconcile_seconds,
            },
        }
    )


@pressroom_task("media.fetch", soft_time_limit=FETCH_SECONDS)
def media_fetch(self: Task[Any, Any], ref: str) -> str:
    """Fetch and render one picture; every outcome ends in a state, never a stuck ref."""
    attempt = self.request.retries + 1
    outcome = run_fetch(context(), ref, attempt)
    if outcome == "retry":
        raise self.retry(countdown=min(60.0, 2.0**attempt) * random.uniform(0.5, 1.0))
    return outcome


@pressroom_task(SWEEP_TASK, soft_time_limit=600)
def media_sweep(self: Task[Any, Any]) -> int:
    return sweep(context())


@pressroom_task(RECONCILE_TASK, soft_time_limit=60)
def media_reconcile(self: Task[Any, Any]) -> int:
    ctx = context()
    return resend_lost_fetches(ctx.redis, ctx.keys)
