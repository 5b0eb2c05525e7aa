"""The counter's periodic jobs, sent by Celery beat (see shared.celery_app.install_schedule)
and run by any worker on the periodic queue. Each one is idempotent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from celery import Task

from services.counter import rollups, snapshots
from services.counter.service import connect
from services.counter.settings import CounterSettings
from shared.celery_app import pressroom_task
from shared.keys import Keys
from shared.storage import Storage

T = TypeVar("T")
Job = Callable[[rollups.AnyRedis, Keys, CounterSettings], Awaitable[T]]


def run_job(job: Job[T]) -> T:
    """Run one async job with its own client: a Celery task owns no event loop."""
    settings = CounterSettings()

    async def with_client() -> T:
        redis = connect(settings)
        try:
            return await job(redis, Keys(settings.key_prefix), settings)
        finally:
            await redis.aclose()

    return asyncio.run(with_client())


@pressroom_task("counter.roll_up")
def roll_up(self: Task[Any, Any]) -> int:
    """Hourly buckets into the daily series and daily rankings (yesterday and today)."""
    return run_job(lambda r, k, s: rollups.roll_up(r, k, s.hourly_retention_days))


@pressroom_task("counter.refresh_rankings")
def refresh_rankings(self: Task[Any, Any]) -> int:
    """The rolling 1h/24h/7d/30d rankings, overall and per channel."""
    return run_job(lambda r, k, s: rollups.refresh_rankings(r, k))


@pressroom_task("counter.prune")
def prune(self: Task[Any, Any]) -> int:
    """Hourly buckets past the retention go (their days stay in the daily series)."""
    return run_job(lambda r, k, s: rollups.prune_hours(r, k, s.hourly_retention_days))


@pressroom_task("counter.snapshot", soft_time_limit=600)
def snapshot(self: Task[Any, Any]) -> str:
    """Totals and series of every counted article, into the data bucket."""

    async def job(redis: rollups.AnyRedis, keys: Keys, settings: CounterSettings) -> str:
        data = Storage.from_settings(settings).data
        return await snapshots.take_snapshot(redis, keys, data, settings.snapshot_prefix)

    return run_job(job)
