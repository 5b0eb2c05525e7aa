"""Media's Celery tasks: media.fetch (one picture) and media.sweep (daily, on beat)."""

from __future__ import annotations

import random
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.schedules import crontab
from celery.signals import beat_init, worker_process_init

from services.media.fetch import FetchRefused, PictureFetcher, UpstreamDown
from services.media.images import BadPicture
from services.media.service import fail_picture, fetch_picture, finish_fetch, sweep
from services.media.settings import MediaSettings
from services.media.store import MediaContext
from shared.celery_app import TRANSIENT_ERRORS, pressroom_task
from shared.keys import Keys
from shared.logging import get_logger
from shared.redis_client import connect
from shared.storage import Storage

FETCH_SECONDS = 120
SWEEP_TASK = "media.sweep"
log = get_logger("pressroom.media")
_context: MediaContext | None = None


def build_context(settings: MediaSettings) -> MediaContext:
    return MediaContext(
        settings=settings,
        storage=Storage.from_settings(settings),
        redis=connect(settings),
        keys=Keys(settings.key_prefix),
        fetcher=PictureFetcher(settings),
    )


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
    """Have the one beat send media.sweep daily (the media service owns its schedule)."""
    sender.scheduler.update_from_dict(
        {"media-sweep": {"task": SWEEP_TASK, "schedule": crontab(hour="3", minute="17")}}
    )


@pressroom_task("media.fetch", soft_time_limit=FETCH_SECONDS)
def media_fetch(self: Task[Any, Any], ref: str) -> str:
    """Fetch and render one picture; every outcome ends in a state, never a stuck ref."""
    ctx = context()
    try:
        picture = fetch_picture(ctx, ref)
    except UpstreamDown as exc:
        attempt = self.request.retries + 1
        if attempt < ctx.settings.media_fetch_attempts:
            countdown = min(60.0, 2.0**attempt) * random.uniform(0.5, 1.0)
            log.info("media.fetch.retrying", ref=ref, attempt=attempt, reason=str(exc))
            raise self.retry(countdown=countdown, exc=exc) from exc
        fail_picture(ctx, ref, f"{exc} (after {attempt} tries)")
    except (FetchRefused, BadPicture) as exc:
        fail_picture(ctx, ref, str(exc))
    except SoftTimeLimitExceeded:
        fail_picture(ctx, ref, f"fetching and rendering took longer than {FETCH_SECONDS} s")
    except TRANSIENT_ERRORS:
        raise  # the store or Redis: retried by the task's policy, the claim expires meanwhile
    except Exception as exc:  # a decoder's or encoder's own bug must not leave it pending
        log.exception("media.fetch.crashed", ref=ref)
        fail_picture(ctx, ref, f"internal error while rendering: {type(exc).__name__}")
    else:
        if picture is None:
            ctx.redis.delete(ctx.keys.picture_fetching(ref))
            return "unknown"
    finish_fetch(ctx, ref)
    return "done"


@pressroom_task(SWEEP_TASK, soft_time_limit=600)
def media_sweep(self: Task[Any, Any]) -> int:
    return sweep(context())
