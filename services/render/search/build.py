"""A search index for many documents at once (a whole archive): frozen-size segments
written side by side, without going through the flush's one-segment-per-burst path."""

from __future__ import annotations

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
    on_threads,
    publish_manifest,
    put_object,
    write_segment,
)
from services.render.search.segments import Postings, Segment
from services.render.search.tokens import tokens


def build_index(ctx: RenderContext, documents: Iterable[SearchDocument]) -> list[Segment]:
    """Index the documents beside the live segments; returns the new segments."""
    added = build_segments(ctx, documents)
    publish_manifest(ctx, current_segments(ctx) + added)
    return added


def replace_index(ctx: RenderContext, documents: Iterable[SearchDocument]) -> list[Segment]:
    """Index the documents (a whole archive) in place of every live segment, which retire
    (a reindex: the documents come from the data bucket, the source of truth)."""
    old = current_segments(ctx)
    added = build_segments(ctx, documents)
    publish_manifest(ctx, added)
    if old:
        ctx.redis.zadd(ctx.keys.search_retired, {f"{s.id}:{s.shards}": time.time() for s in old})
    return added


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
        pipe.srem(ctx.keys.search_gone, *part.values())
        pipe.execute()
    return numbers
