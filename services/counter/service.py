"""Counting logic: one script per hit checks publication and counts atomically."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from services.counter.settings import CounterSettings
from shared.http import Problem
from shared.ids import is_article_id
from shared.keys import Keys

HIT_SCRIPT = (Path(__file__).parent / "hit.lua").read_text()


class CounterError(Problem):
    """Base of every error the counter answers with."""


class NotPublished(CounterError):
    def __init__(self, article_id: str) -> None:
        super().__init__(404, "Not a published article", f"{article_id[:64]!r} is not counted")


@dataclass
class CounterContext:
    settings: CounterSettings
    redis: Redis
    keys: Keys
    hit_script: AsyncScript


def hour_bucket(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%d%H")


async def record_hit(ctx: CounterContext, article_id: str) -> int:
    if not is_article_id(article_id):
        raise NotPublished(article_id)
    keys = [ctx.keys.article(article_id), ctx.keys.hits(article_id), ctx.keys.hourly(article_id)]
    count = int(await ctx.hit_script(keys=keys, args=[hour_bucket()]))
    if count < 0:
        raise NotPublished(article_id)
    await ctx.redis.zincrby(ctx.keys.top("all"), 1, article_id)
    return count


async def counts(ctx: CounterContext, ids: list[str]) -> dict[str, int]:
    valid = [i for i in dict.fromkeys(ids) if is_article_id(i)]
    values = [await ctx.redis.get(ctx.keys.hits(i)) for i in valid]
    return {i: int(v or 0) for i, v in zip(valid, values, strict=True)}
