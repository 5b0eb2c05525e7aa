"""A search index for many documents at once (a whole archive): frozen-size segments
written side by side, without going through the flush's one-segment-per-burst path."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from services.render.context import RenderContext
from services.render.search.documents import (
    SearchDocument,
    fragment,
    fragment_key,
    minute_of,
)
from services.render.search.index import (
    FROZEN,
    current_segments,
    forget_withdrawn,
    on_threads,
    publish_manifest,
    put_object,
    write_segment,
)
from services.render.search.segments import Postings, Segment
from services.render.search.tokens import tokens

SEARCH_PREFIX = "search/"
LISTED = re.compile(r"search/(?:doc/(?P<doc>\d+)|seg/(?P<seg>[0-9a-f]+)/(?P<shard>\d+))\.json")


def build_index(ctx: RenderContext, documents: Iterable[SearchDocument]) -> list[Segment]:
    """Index the documents beside the live segments; returns the new segments."""
    added = build_segments(ctx, documents)
    publish_manifest(ctx, current_segments(ctx) + added)
    return added


def replace_index(ctx: RenderContext, documents: Iterable[SearchDocument]) -> list[Segment]:
    """Index the documents (a whole archive) in place of everything the bucket held under
    search/ (a reindex: the documents come from the data bucket, the source of truth).

    What the new index does not name goes: numbers of articles no longer searchable,
    their fragments, and every segment the new manifest does not list (retired, so that a
    query begun before still finds its shards)."""
    documents = list(documents)
    before = list(ctx.storage.site.keys(SEARCH_PREFIX))  # what older indexes left
    forget_numbers(ctx, {doc.id for doc in documents})
    added = build_segments(ctx, documents)
    publish_manifest(ctx, added)
    remove_unnamed(ctx, before)
    forget_withdrawn(ctx, added)
    return added


def forget_numbers(ctx: RenderContext, keep: set[str]) -> None:
    """Drop the numbers of articles outside `keep` (withdrawn while Redis was away, say)."""
    held: dict[str, str] = ctx.redis.hgetall(ctx.keys.search_numbers)  # type: ignore[assignment]
    owners: dict[str, str] = ctx.redis.hgetall(ctx.keys.search_owners)  # type: ignore[assignment]
    stale_ids = [aid for aid in held if aid not in keep]
    stale_numbers = [n for n, aid in owners.items() if aid not in keep]
    pipe = ctx.redis.pipeline(transaction=False)
    for start in range(0, max(len(stale_ids), len(stale_numbers)), 10_000):
        if part := stale_ids[start : start + 10_000]:
            pipe.hdel(ctx.keys.search_numbers, *part)
        if part := stale_numbers[start : start + 10_000]:
            pipe.hdel(ctx.keys.search_owners, *part)
    pipe.execute()


def remove_unnamed(ctx: RenderContext, listed: list[str]) -> None:
    """Delete listed fragments whose number nobody holds; retire listed segments the
    manifest does not name (the sweep deletes them RETIRE_SECONDS later)."""
    owned = set(ctx.redis.hkeys(ctx.keys.search_owners))
    live = {s.id for s in current_segments(ctx)}
    fragments: list[str] = []
    shards: dict[str, int] = {}
    for key in listed:
        match = LISTED.fullmatch(key)
        if match and match["doc"] is not None and match["doc"] not in owned:
            fragments.append(key)
        elif match and match["seg"] is not None and match["seg"] not in live:
            shards[match["seg"]] = max(shards.get(match["seg"], 0), int(match["shard"]) + 1)
    if fragments:
        ctx.storage.site.delete_many(fragments)
    if shards:
        now = time.time()
        retired = {f"{seg}:{count}": now for seg, count in shards.items()}
        ctx.redis.zadd(ctx.keys.search_retired, retired, nx=True)


def build_segments(ctx: RenderContext, documents: Iterable[SearchDocument]) -> list[Segment]:
    """The documents' fragments and segments (oldest first, FROZEN to a segment), written."""
    ordered = sorted(documents, key=lambda d: d.published_at)
    numbers = allocate(ctx, ordered)
    added = []
    cache = ctx.settings.search_cache_control
    for start in range(0, len(ordered), FROZEN):
        postings = Postings()
        fragments = []
        for doc in ordered[start : start + FROZEN]:
            number = numbers[doc.id]
            postings.add(number, tokens(doc.text), tokens(doc.title, singles=True))
            fragments.append((fragment_key(number), fragment(ctx, doc), cache))
        on_threads(ctx, lambda o: put_object(ctx, *o), fragments)
        added.append(write_segment(ctx, postings))
    return added


def allocate(ctx: RenderContext, documents: list[SearchDocument]) -> dict[str, int]:
    """Every document's number, kept if it has one: the whole table in two round trips."""
    held: dict[str, str] = ctx.redis.hgetall(ctx.keys.search_numbers)  # type: ignore[assignment]
    owners: dict[str, str] = ctx.redis.hgetall(ctx.keys.search_owners)  # type: ignore[assignment]
    taken = {int(n) for n in owners}
    numbers: dict[str, int] = {}
    for doc in documents:
        if doc.id in held:
            numbers[doc.id] = int(held[doc.id])
            continue
        number = minute_of(doc.published_at)
        while number in taken:
            number += 1
        taken.add(number)
        numbers[doc.id] = number
    pipe = ctx.redis.pipeline(transaction=False)
    fresh = {aid: n for aid, n in numbers.items() if aid not in held}
    for start in range(0, len(fresh), 10_000):
        part = dict(list(fresh.items())[start : start + 10_000])
        pipe.hset(ctx.keys.search_numbers, mapping=part)  # type: ignore[arg-type]
        pipe.hset(ctx.keys.search_owners, mapping={str(n): a for a, n in part.items()})
        pipe.zrem(ctx.keys.search_gone, *part.values())
        pipe.execute()
    return numbers
