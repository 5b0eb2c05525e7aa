"""Daily snapshots of every counted article's totals and series into the data bucket, and
`pressroom counter restore`, which rebuilds the counts from the latest one.

Articles to snapshot are the members of the all-time ranking (every counted article is
in it), so a snapshot never scans the keyspace, which a Redis Cluster would make awkward.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from services.counter.rollups import AnyRedis
from shared.keys import Keys
from shared.logging import get_logger
from shared.storage import Bucket

RESTORE_SCRIPT = (Path(__file__).parent / "restore.lua").read_text()
CHUNK = 500
RANKED_DAYS = 31  # daily rankings restored: enough to rebuild the 30-day window
log = get_logger("pressroom.counter.snapshots")


async def collect(redis: AnyRedis, keys: Keys) -> dict[str, dict[str, Any]]:
    articles: dict[str, dict[str, Any]] = {}
    ranked = [(str(aid), score) async for aid, score in redis.zscan_iter(keys.top("all"))]
    for start in range(0, len(ranked), CHUNK):
        pipe = redis.pipeline(transaction=False)
        chunk = ranked[start : start + CHUNK]
        for aid, _ in chunk:
            pipe.get(keys.hits(aid))
            pipe.hget(keys.article(aid), "channel")
            pipe.hgetall(keys.hourly(aid))
            pipe.hgetall(keys.daily(aid))
        replies = await pipe.execute()
        for n, (aid, ranked_hits) in enumerate(chunk):
            total, channel, hourly, daily = replies[4 * n : 4 * n + 4]
            articles[aid] = {
                "hits": int(total or 0),
                "ranked": round(float(ranked_hits)),
                "channel": channel or "",
                "hourly": {h: int(v) for h, v in hourly.items()},
                "daily": {d: int(v) for d, v in daily.items()},
            }
    return articles


def snapshot_name(prefix: str, at: datetime) -> str:
    return f"{prefix}{at.strftime('%Y%m%dT%H%M%SZ')}.json.gz"


async def take_snapshot(redis: AnyRedis, keys: Keys, data: Bucket, prefix: str) -> str:
    """Write one snapshot; returns its key. Names sort by time, so the latest is the last."""
    taken = datetime.now(UTC)
    articles = await collect(redis, keys)
    document = {"taken_at": taken.isoformat(), "articles": articles}
    name = snapshot_name(prefix, taken)
    body = gzip.compress(orjson.dumps(document))
    data.put(name, body, content_type="application/gzip")
    log.info("counter.snapshot.written", key=name, articles=len(articles), bytes=len(body))
    return name


def latest_snapshot(data: Bucket, prefix: str) -> str | None:
    names = [k for k in data.keys(prefix) if k.endswith(".json.gz")]
    return max(names) if names else None


def read_snapshot(data: Bucket, name: str) -> dict[str, Any]:
    raw = data.get(name)
    if raw is None:
        raise FileNotFoundError(name)
    document: dict[str, Any] = orjson.loads(gzip.decompress(raw))
    return document


async def restore(redis: AnyRedis, keys: Keys, document: dict[str, Any]) -> int:
    """Raise every article's counts and rankings to at least the snapshot's."""
    sha = str(await redis.script_load(RESTORE_SCRIPT))
    articles: dict[str, dict[str, Any]] = document["articles"]
    items = list(articles.items())
    for start in range(0, len(items), CHUNK):
        pipe = redis.pipeline(transaction=False)
        for aid, saved in items[start : start + CHUNK]:
            pipe.evalsha(sha, 3, *restore_args(keys, aid, saved))
        await pipe.execute()
        await restore_rankings(redis, keys, items[start : start + CHUNK])
    log.info("counter.restore.done", articles=len(items), taken_at=document.get("taken_at"))
    return len(items)


def restore_args(keys: Keys, aid: str, saved: dict[str, Any]) -> list[Any]:
    hourly = [x for pair in saved["hourly"].items() for x in pair]
    daily = [x for pair in saved["daily"].items() for x in pair]
    keys_ = [keys.hits(aid), keys.hourly(aid), keys.daily(aid)]
    return [*keys_, saved["hits"], len(saved["hourly"]), *hourly, *daily]


async def restore_rankings(
    redis: AnyRedis, keys: Keys, items: list[tuple[str, dict[str, Any]]]
) -> None:
    """All-time and recent daily rankings (the rolling windows are rebuilt from these)."""
    oldest = (datetime.now(UTC) - timedelta(days=RANKED_DAYS)).strftime("%Y%m%d")
    pipe = redis.pipeline(transaction=False)
    for aid, saved in items:
        rankings = [None, saved["channel"]] if saved["channel"] else [None]
        for channel in rankings:
            pipe.zadd(keys.top("all", channel), {aid: saved["hits"]}, gt=True)
            for day, hits in saved["daily"].items():
                if day >= oldest:
                    pipe.zadd(keys.top_day(day, channel), {aid: hits}, gt=True)
                    pipe.expire(keys.top_day(day, channel), (RANKED_DAYS + 2) * 86400)
        if saved["channel"]:
            pipe.sadd(keys.top_channels, saved["channel"])
    await pipe.execute()
