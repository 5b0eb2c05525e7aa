"""The flush's search step: index what render.article queued, merge small segments.

Each flush writes the burst's documents as one new small segment (its cost is the burst's,
not the archive's) and the manifest listing the live segments. Segments of similar size
are merged FANOUT at a time, so a query reads a few segments; a segment of FROZEN
documents or more is never merged again, so no merge grows with the archive. Merged-away
segments stay on the bucket for RETIRE_SECONDS, for queries that began before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

import orjson
from redis.client import Pipeline

from services.render.context import RenderContext
from services.render.search.documents import (
    SearchDocument,
    assign_number,
    fragment,
    fragment_key,
    release_number,
)
from services.render.search.segments import Postings, Segment, encode
from services.render.search.tokens import tokens
from shared.logging import get_logger
from shared.models import Article

log = get_logger("pressroom.render.search")

MANIFEST = "search/manifest.json"
FANOUT = 8
FROZEN = 4_096
RETIRE_SECONDS = 600
SHARD_CACHE = "public, max-age=31536000, immutable"  # a shard's name is its content's hash
JSON = "application/json"
# Remove a queued document only if it is still the one indexed (a newer one waits otherwise).
DEQUEUE = """
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    n = n + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return n
"""
T = TypeVar("T")


def queue_document(
    ctx: RenderContext, pipe: Pipeline, article: Article, url: str, *, published: bool
) -> None:
    """Hand the article's searchable text (or its withdrawal) to the next flush."""
    doc = SearchDocument.of(article, url).to_json() if published else b""
    pipe.hset(ctx.keys.search_queue, article.id, doc)


def on_threads(ctx: RenderContext, work: Callable[[T], object], items: Iterable[T]) -> None:
    items = list(items)
    if len(items) == 1:
        work(items[0])
    elif items:
        with ThreadPoolExecutor(min(ctx.settings.rebuild_threads, len(items))) as pool:
            list(pool.map(work, items))


def update_index(ctx: RenderContext) -> dict[str, bool]:
    """Index the queued documents; returns bucket key -> written, as the flush counts."""
    queued: dict[str, str] = ctx.redis.hgetall(ctx.keys.search_queue)  # type: ignore[assignment]
    if not queued:
        return {}
    started = time.perf_counter()
    postings = Postings()
    fragments: dict[str, bytes] = {}
    gone: list[str] = []
    for article_id, raw in queued.items():
        if not raw:
            number = release_number(ctx, article_id)
            if number is not None:
                gone.append(fragment_key(number))
            continue
        doc = SearchDocument.from_json(raw)
        number, moved = assign_number(ctx, doc)
        if moved is not None:
            gone.append(fragment_key(moved))
        postings.add(number, tokens(doc.text), tokens(doc.title, singles=True))
        fragments[fragment_key(number)] = fragment(ctx, doc)
    objects = [(key, body, ctx.settings.search_cache_control) for key, body in fragments.items()]
    segments = current_segments(ctx)
    if postings.body:
        segment, shards = encode(postings)
        segment = stamped(ctx, segment)
        objects += [(segment.shard_key(n), body, SHARD_CACHE) for n, body in enumerate(shards)]
        segments.append(segment)
    on_threads(ctx, lambda o: put_object(ctx, *o), objects)  # fragments and shards at once
    if gone:
        ctx.storage.site.delete_many(gone)
    segments = compact(ctx, segments)
    publish_manifest(ctx, segments)
    forget_withdrawn(ctx, segments)
    ctx.redis.eval(DEQUEUE, 1, ctx.keys.search_queue, *[x for kv in queued.items() for x in kv])
    sweep_retired(ctx)
    log.info(
        "render.search.indexed",
        documents=len(fragments),
        withdrawn=len(queued) - len(fragments),
        segments=len(segments),
        ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return dict.fromkeys([*fragments, MANIFEST], True)


def put_object(ctx: RenderContext, key: str, body: bytes, cache_control: str) -> None:
    ctx.storage.site.put(key, body, content_type=JSON, cache_control=cache_control)


def write_segment(ctx: RenderContext, postings: Postings) -> Segment:
    segment, shards = encode(postings)
    segment = stamped(ctx, segment)
    on_threads(
        ctx,
        lambda n: put_object(ctx, segment.shard_key(n), shards[n], SHARD_CACHE),
        range(segment.shards),
    )
    return segment


def stamped(ctx: RenderContext, segment: Segment) -> Segment:
    """The segment with the next search epoch: it holds no number withdrawn before it."""
    return replace(segment, epoch=int(ctx.redis.incr(ctx.keys.search_epoch)))


def forget_withdrawn(ctx: RenderContext, segments: list[Segment]) -> None:
    """Drop the withdrawals no merge can meet any more: only a mergeable segment written
    at or before a withdrawal's epoch may hold its number (frozen ones are never merged,
    and the page drops a number whose fragment is gone)."""
    mergeable = [s.epoch for s in segments if s.docs < FROZEN]
    below = f"({min(mergeable)}" if mergeable else "+inf"
    ctx.redis.zremrangebyscore(ctx.keys.search_gone, "-inf", below)


def current_segments(ctx: RenderContext) -> list[Segment]:
    raw = ctx.redis.get(ctx.keys.search_manifest)
    return [Segment.of(s) for s in orjson.loads(raw)["segments"]] if raw else []


def publish_manifest(ctx: RenderContext, segments: list[Segment]) -> None:
    """Write the manifest readers start from, and remember it."""
    body = orjson.dumps({"version": 1, "segments": [s.as_json() for s in segments]})
    put_object(ctx, MANIFEST, body, ctx.settings.search_cache_control)
    ctx.redis.set(ctx.keys.search_manifest, body)


def tier(segment: Segment) -> int:
    return int(math.log(max(segment.docs, 1), FANOUT))


def compact(ctx: RenderContext, segments: list[Segment]) -> list[Segment]:
    """Merge FANOUT segments of one size tier until no tier below FROZEN has that many."""
    while True:
        tiers: dict[int, list[Segment]] = {}
        for segment in segments:
            if segment.docs < FROZEN:
                tiers.setdefault(tier(segment), []).append(segment)
        full = [group for _, group in sorted(tiers.items()) if len(group) >= FANOUT]
        if not full:
            return segments
        merged = merge(ctx, full[0][:FANOUT])
        segments = [s for s in segments if s not in full[0][:FANOUT]]
        segments.append(merged)


def merge(ctx: RenderContext, parts: list[Segment]) -> Segment:
    withdrawn: list[str] = ctx.redis.zrange(ctx.keys.search_gone, 0, -1)  # type: ignore[assignment]
    gone = {int(n) for n in withdrawn}
    postings = Postings()
    keys = [key for part in parts for key in part.shard_keys()]
    shards: dict[str, bytes] = {}

    def read(key: str) -> None:
        body = ctx.storage.site.get(key)
        if body is None:
            raise LookupError(f"search shard {key} is missing")
        shards[key] = body

    on_threads(ctx, read, keys)
    for key in keys:
        postings.merge_shard(orjson.loads(shards.pop(key)), gone)
    merged = write_segment(ctx, postings)
    now = time.time()
    ctx.redis.zadd(ctx.keys.search_retired, {f"{p.id}:{p.shards}": now for p in parts})
    log.info("render.search.merged", parts=len(parts), docs=merged.docs, shards=merged.shards)
    return merged


def sweep_retired(ctx: RenderContext) -> None:
    """Delete segments merged away more than RETIRE_SECONDS ago."""
    old: list[str] = ctx.redis.zrangebyscore(  # type: ignore[assignment]
        ctx.keys.search_retired, 0, time.time() - RETIRE_SECONDS
    )
    if not old:
        return
    keys = []
    for member in old:
        segment_id, _, shards = member.partition(":")
        keys += Segment(segment_id, int(shards), 0).shard_keys()
    ctx.storage.site.delete_many(keys)
    ctx.redis.zrem(ctx.keys.search_retired, *old)
