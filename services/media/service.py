"""Media logic: picture refs, their states in Redis, article links, uploads and the sweep.

Render calls `request_pictures` for each article version it renders and `pictures` to
read their states; `media.fetch` (tasks.py) does the fetching and rendering.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

import redis

from services.media.schemas import Picture, PictureState
from shared.celery_app import app as celery_app
from shared.keys import Keys
from shared.logging import get_logger

FETCH_TASK = "media.fetch"
READY_TASK = "render.pictures_ready"
# Long enough to cover a fetch with its retries; a worker that dies lets it expire.
FETCHING_TTL_SECONDS = 15 * 60

log = get_logger("pressroom.media")


def picture_ref(source: str) -> str:
    """The stable id of a remote picture: a hash of its URL (same URL, same picture)."""
    return hashlib.sha256(b"url:" + source.encode()).hexdigest()[:32]


def upload_ref(sha256: str) -> str:
    """The media id of uploaded bytes: the same bytes uploaded twice get the same id."""
    return hashlib.sha256(b"upload:" + sha256.encode()).hexdigest()[:32]


def request_pictures(
    redis_client: redis.Redis, keys: Keys, article_id: str, sources: dict[str, str]
) -> None:
    """Link the article to exactly these pictures and queue a fetch of each one neither
    ready, failed nor already in flight. Unlinked pictures stay for other articles."""
    refs = sorted(sources)
    pipe = redis_client.pipeline(transaction=False)
    pipe.smembers(keys.article_pictures(article_id))
    for ref in refs:
        pipe.get(keys.picture(ref))
    answers = pipe.execute()
    linked: set[str] = set(answers[0])
    records = dict(zip(refs, answers[1:], strict=True))
    _relink(redis_client, keys, article_id, linked, refs)
    unknown = [ref for ref in refs if records[ref] is None]
    if unknown:
        _write_pending(redis_client, keys, {ref: sources[ref] for ref in unknown})
    waiting = [ref for ref in refs if _needs_fetch(records[ref])]
    for ref in _claim_fetches(redis_client, keys, waiting):
        celery_app.send_task(FETCH_TASK, args=[ref])
        log.info("media.fetch.queued", ref=ref, article=article_id)


def unlink_article(redis_client: redis.Redis, keys: Keys, article_id: str) -> None:
    """The article shows no picture any more (unpublished or killed)."""
    linked = {str(ref) for ref in redis_client.smembers(keys.article_pictures(article_id))}
    _relink(redis_client, keys, article_id, linked, [])


def pictures(redis_client: redis.Redis, keys: Keys, refs: list[str]) -> dict[str, Picture]:
    """The records of these refs in one round trip; a ref never requested is left out."""
    pipe = redis_client.pipeline(transaction=False)
    for ref in refs:
        pipe.get(keys.picture(ref))
    found: dict[str, Picture] = {}
    for ref, raw in zip(refs, pipe.execute(), strict=True):
        if raw is not None:
            found[ref] = Picture.model_validate_json(raw)
    return found


def _relink(
    redis_client: redis.Redis,
    keys: Keys,
    article_id: str,
    linked: set[str],
    refs: Iterable[str],
) -> None:
    wanted = set(refs)
    dropped = sorted(linked - wanted)
    pipe = redis_client.pipeline(transaction=False)
    for ref in sorted(wanted):
        pipe.sadd(keys.picture_articles(ref), article_id)
        pipe.zrem(keys.unlinked_pictures, ref)
    for ref in dropped:
        pipe.srem(keys.picture_articles(ref), article_id)
    if wanted != linked:
        pipe.delete(keys.article_pictures(article_id))
        if wanted:
            pipe.sadd(keys.article_pictures(article_id), *sorted(wanted))
    for ref in dropped:
        pipe.scard(keys.picture_articles(ref))
    answers = pipe.execute()
    orphans = {
        ref: time.time()
        for ref, count in zip(dropped, answers[len(answers) - len(dropped) :], strict=True)
        if count == 0
    }
    if orphans:
        # NX: a picture already waiting for the sweep keeps its first unlinking time.
        redis_client.zadd(keys.unlinked_pictures, orphans, nx=True)


def _write_pending(redis_client: redis.Redis, keys: Keys, sources: dict[str, str]) -> None:
    pipe = redis_client.pipeline(transaction=False)
    for ref, source in sources.items():
        record = Picture(ref=ref, source=source, state=PictureState.pending)
        pipe.set(keys.picture(ref), record.model_dump_json(), nx=True)
    pipe.execute()


def _needs_fetch(raw: str | None) -> bool:
    if raw is None:
        return True
    return Picture.model_validate_json(raw).state == PictureState.pending


def _claim_fetches(redis_client: redis.Redis, keys: Keys, refs: list[str]) -> list[str]:
    """The refs this caller queues: at most one fetch in flight per picture."""
    if not refs:
        return []
    pipe = redis_client.pipeline(transaction=False)
    for ref in refs:
        pipe.set(keys.picture_fetching(ref), "1", nx=True, ex=FETCHING_TTL_SECONDS)
    return [ref for ref, claimed in zip(refs, pipe.execute(), strict=True) if claimed]
