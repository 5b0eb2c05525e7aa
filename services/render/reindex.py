"""Rebuild the Redis indexes (article hashes, channel/published/headline sets) from the data
bucket, the source of truth, e.g. after Redis lost its data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.client import Pipeline

from services.render.articles import parse_document
from services.render.context import RenderContext
from services.render.pictures import link_pictures
from services.render.rebuild import article_documents, batches
from services.render.search.build import replace_index
from services.render.search.documents import SearchDocument
from services.render.service import index_fields
from shared.models import Article, article_key


@dataclass
class Indexes:
    """The sorted sets being rebuilt, in memory until they replace the live ones at once."""

    sets: dict[str, dict[str, float]] = field(default_factory=dict)
    published: int = 0
    unpublished: int = 0
    scheduled: int = 0
    failed: int = 0
    searchable: list[SearchDocument] = field(default_factory=list)

    def add(self, key: str, article: Article) -> None:
        self.sets.setdefault(key, {})[article.id] = article.published_at.timestamp()


def reindex(ctx: RenderContext, advance: Callable[[int], None] = lambda _: None) -> Indexes:
    """Read every current document (PRESSROOM_REBUILD_THREADS at a time, as a rebuild does)
    and index it; the sorted sets replace the live ones at the end."""
    documents = article_documents(ctx)
    indexes = Indexes(sets={ctx.keys.published: {}, ctx.keys.headlines: {}})
    for channel in ctx.site.channels:
        indexes.sets[ctx.keys.channel(channel.slug)] = {}
    asyncio.run(_read_and_index(ctx, [aid for aid, _ in documents], indexes, advance))
    _replace_sets(ctx, indexes.sets)
    replace_index(ctx, indexes.searchable)  # its segment list lives in Redis too
    return indexes


async def _read_and_index(
    ctx: RenderContext, ids: list[str], indexes: Indexes, advance: Callable[[int], None]
) -> None:
    # AsyncObjects keeps at most `in_flight` requests open; the rest of a batch waits there.
    async with ctx.storage.async_client(in_flight=ctx.settings.rebuild_threads) as objects:

        async def read(article_id: str) -> Article | None:
            raw = await objects.get(ctx.storage.data.name, article_key(article_id))
            return None if raw is None else parse_document(raw)[0]

        for batch in batches(ids, 500):
            loaded = await asyncio.gather(*(read(article_id) for article_id in batch))
            _index_batch(ctx, [a for a in loaded if a is not None], indexes)
            indexes.failed += sum(1 for article in loaded if article is None)
            advance(len(batch))


def _index_batch(ctx: RenderContext, articles: list[Article], indexes: Indexes) -> None:
    pipe = ctx.redis.pipeline(transaction=False)
    shown: list[Article] = []
    for article in articles:
        url = ctx.article_url(article.id, article.channel, article.published_at)
        held = article.held_at(ctx.clock())
        status = "scheduled" if held else "unpublished" if article.unpublished else "published"
        fields = index_fields(article, url) | {"status": status, "version": article.version}
        pipe.hset(ctx.keys.article(article.id), mapping=fields)
        if held and article.embargoed is not None:  # the due set comes back with the indexes
            pipe.zadd(ctx.keys.due, {article.id: article.embargoed.timestamp()})
            indexes.scheduled += 1
            continue
        if article.unpublished:
            indexes.unpublished += 1
            continue
        indexes.published += 1
        shown.append(article)
        indexes.searchable.append(SearchDocument.of(article, url))
        indexes.add(ctx.keys.channel(article.channel), article)
        indexes.add(ctx.keys.published, article)
        if article.headline:
            indexes.add(ctx.keys.headlines, article)
    pipe.execute()
    link_pictures(ctx, shown)


def _replace_sets(ctx: RenderContext, sets: dict[str, dict[str, float]]) -> None:
    """Fill each set under a scratch name, then swap them in.

    The scratch name hashes like its set (`{key}` as hash tag), so RENAME works on a Redis
    Cluster; there the swaps are atomic one set at a time, on one server all at once.
    """
    for key, members in sets.items():
        scratch = scratch_name(key)
        ctx.redis.delete(scratch)
        items = list(members.items())
        for start in range(0, len(items), 5000):
            ctx.redis.zadd(scratch, dict(items[start : start + 5000]))
    # redis-py refuses RENAME in a cluster pipeline: there, one command per set
    swap = ctx.redis if ctx.settings.redis_cluster else ctx.redis.pipeline(transaction=True)
    for key, members in sets.items():
        if members:
            swap.rename(scratch_name(key), key)
        else:
            swap.delete(key)
    if isinstance(swap, Pipeline):
        swap.execute()


def scratch_name(key: str) -> str:
    return f"{{{key}}}:reindex"
