"""Counter logic behind the read routes: totals, rankings and per-article series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis, RedisCluster

from services.counter import rollups
from services.counter.committer import GroupCommit
from services.counter.schemas import Granularity, Point, Ranked, Stats, Top, Window
from services.counter.settings import CounterSettings
from services.counter.visitors import Visitors
from shared.http import Problem
from shared.ids import is_article_id
from shared.keys import Keys

AnyRedis = Redis | RedisCluster
MAX_POINTS = 2000
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class CounterError(Problem):
    """Base of every error the counter answers with."""


class NotPublished(CounterError):
    def __init__(self, article_id: str) -> None:
        super().__init__(404, "Not a published article", f"{article_id[:64]!r} is not counted")


class Unavailable(CounterError):
    def __init__(self) -> None:
        detail = "The count store did not answer; the hit was not counted."
        super().__init__(503, "Counter unavailable", detail, headers={"retry-after": "1"})


class BadRange(CounterError):
    def __init__(self, field: str, message: str) -> None:
        errors = [{"field": field, "message": message}]
        super().__init__(422, "Invalid request", f"{field}: {message}", errors=errors)


@dataclass
class CounterContext:
    settings: CounterSettings
    redis: AnyRedis
    keys: Keys
    committer: GroupCommit
    visitors: Visitors
    cors_origins: frozenset[str]

    async def aclose(self) -> None:
        await self.committer.aclose()
        await self.redis.aclose()


def connect(settings: CounterSettings) -> AnyRedis:
    """A single server, or a Redis Cluster reached through one seed node."""
    if settings.redis_cluster:
        return RedisCluster.from_url(settings.redis_url, decode_responses=True)
    return Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5)


async def build_context(settings: CounterSettings) -> CounterContext:
    client = connect(settings)
    keys = Keys(settings.key_prefix)
    committer = GroupCommit(client, keys, settings)
    await committer.load_scripts()
    visitors = Visitors(settings, keys)
    return CounterContext(
        settings, client, keys, committer, visitors, frozenset(settings.cors_origins)
    )


async def counts(ctx: CounterContext, ids: list[str]) -> dict[str, int]:
    valid = [i for i in dict.fromkeys(ids) if is_article_id(i)]
    pipe = ctx.redis.pipeline(transaction=False)
    for aid in valid:
        pipe.get(ctx.keys.hits(aid))
    values = await pipe.execute() if valid else []
    return {i: int(v or 0) for i, v in zip(valid, values, strict=True)}


async def top(ctx: CounterContext, window: Window, channel: str | None, limit: int) -> Top:
    """The ranking of a window; a rolling one beat has not computed lately is computed now."""
    key = ctx.keys.top(window, channel)
    if window != "all" and not await ctx.redis.exists(key):
        await rollups.refresh_window(ctx.redis, ctx.keys, window, channel, datetime.now(UTC))
    # Unpublished articles keep their counts but leave the lists: ask for a few spare.
    ranked: list[tuple[str, float]] = await ctx.redis.zrevrange(  # type: ignore[assignment]
        key, 0, limit + 19, withscores=True
    )
    pipe = ctx.redis.pipeline(transaction=False)
    for aid, _ in ranked:
        pipe.hmget(ctx.keys.article(aid), "status", "title", "url", "channel")
    items = []
    for (aid, score), (status, title, url, ch) in zip(ranked, await pipe.execute(), strict=True):
        if status == "published" and rollups.score(score) > 0:
            items.append(
                Ranked(
                    id=aid,
                    count=rollups.score(score),
                    title=title or "",
                    url=url or "",
                    channel=ch or "",
                )
            )
    return Top(window=window, channel=channel, items=items[:limit])


def as_utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def instant(field: str, at: datetime | None) -> datetime | None:
    """A from/to bound in UTC, refused (422 naming it) outside the years a count can have:
    arithmetic near the ends of datetime's range would overflow."""
    message = f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC)"
    try:
        utc = as_utc(at)
    except OverflowError:
        raise BadRange(field, message) from None
    if utc is not None and not EARLIEST <= utc < LATEST:
        raise BadRange(field, message)
    return utc


def series_range(
    granularity: Granularity, start: datetime | None, end: datetime | None
) -> list[datetime]:
    step = timedelta(hours=1) if granularity == "hour" else timedelta(days=1)
    now = datetime.now(UTC)
    start, end = instant("from", start), instant("to", end)
    last = end or now
    first = start or last - (47 * step if granularity == "hour" else 29 * step)
    last = last.replace(minute=0, second=0, microsecond=0)
    first = first.replace(minute=0, second=0, microsecond=0)
    if granularity == "day":
        last, first = last.replace(hour=0), first.replace(hour=0)
    if first > last:
        raise BadRange("from", "must not be after 'to'")
    if (last - first) / step >= MAX_POINTS:
        raise BadRange("from", f"at most {MAX_POINTS} points per request")
    points = int((last - first) / step) + 1
    return [first + i * step for i in range(points)]


async def stats(
    ctx: CounterContext,
    article_id: str,
    granularity: Granularity,
    start: datetime | None,
    end: datetime | None,
) -> Stats:
    if not is_article_id(article_id):
        raise NotPublished(article_id)
    slots = series_range(granularity, start, end)
    k = ctx.keys
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.exists(k.article(article_id))
    pipe.get(k.hits(article_id))
    pipe.hgetall(k.hourly(article_id))
    pipe.hgetall(k.daily(article_id))
    known, total, hourly, daily = await pipe.execute()
    if not known and total is None:
        raise NotPublished(article_id)
    if granularity == "hour":
        points = [Point(at=at, count=int(hourly.get(rollups.hour_of(at), 0))) for at in slots]
    else:
        points = await day_points(ctx, article_id, slots, hourly, daily)
    return Stats(
        id=article_id,
        granularity=granularity,
        start=slots[0],
        end=slots[-1],
        total=int(total or 0),
        points=points,
    )


async def day_points(
    ctx: CounterContext,
    article_id: str,
    days: list[datetime],
    hourly: dict[str, str],
    daily: dict[str, str],
) -> list[Point]:
    """Days still held hourly are summed live (the rollup may lag); older ones come from
    the daily series."""
    by_day: dict[str, int] = {}
    for hour, n in hourly.items():
        by_day[hour[:8]] = by_day.get(hour[:8], 0) + int(n)
    pipe = ctx.redis.pipeline(transaction=False)
    for at in days:
        pipe.pfcount(ctx.keys.uniques(article_id, rollups.day_of(at)))
    uniques = await pipe.execute()
    return [
        Point(
            at=at,
            count=by_day.get(rollups.day_of(at), int(daily.get(rollups.day_of(at), 0))),
            uniques=int(u),
        )
        for at, u in zip(days, uniques, strict=True)
    ]
