"""Media logic: picture refs, their states in Redis, article links, uploads and the sweep.

Render calls `request_pictures` for each article version it renders and `pictures` to
read their states; `media.fetch` (tasks.py) does the fetching and rendering.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

import redis
from celery.exceptions import SoftTimeLimitExceeded

from services.media import images
from services.media.fetch import FetchRefused, UpstreamDown
from services.media.schemas import MediaUploaded, Picture, PictureState
from services.media.store import (
    DIGESTS,
    UPLOAD_SCHEME,
    MediaContext,
    load_record,
    original_key,
    record_key,
    render_picture,
    rendition_key,
    save_record,
)
from shared.celery_app import TRANSIENT_ERRORS
from shared.celery_app import app as celery_app
from shared.keys import Keys
from shared.logging import get_logger

FETCH_TASK = "media.fetch"
# How an article names an upload (`media:<id>`, shared/models.py ArticleImage.source).
ARTICLE_UPLOAD_SCHEME = "media:"
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
    claimed = [ref for ref, won in zip(refs, pipe.execute(), strict=True) if won]
    if claimed:
        lapses = time.time() + FETCHING_TTL_SECONDS
        redis_client.zadd(keys.pictures_in_flight, dict.fromkeys(claimed, lapses))
    return claimed


def resend_lost_fetches(
    redis_client: redis.Redis, keys: Keys, now: float | None = None, limit: int = 500
) -> int:
    """media.reconcile: queue again each picture still pending whose fetch claim lapsed (its
    message was lost with a worker or the broker), so no picture stays pending for good.
    Returns how many were queued again."""
    now = time.time() if now is None else now
    lapsed: list[str] = redis_client.zrangebyscore(  # type: ignore[assignment]
        keys.pictures_in_flight, 0, now, start=0, num=limit
    )
    if not lapsed:
        return 0
    pipe = redis_client.pipeline(transaction=False)
    for ref in lapsed:
        pipe.get(keys.picture(ref))
    waiting = [ref for ref, raw in zip(lapsed, pipe.execute(), strict=True) if _pending(raw)]
    finished = set(lapsed) - set(waiting)
    if finished:
        redis_client.zrem(keys.pictures_in_flight, *finished)
    again = _claim_fetches(redis_client, keys, waiting)
    for ref in again:
        celery_app.send_task(FETCH_TASK, args=[ref])
    if again:
        log.warning("media.fetch.requeued", pictures=len(again))
    return len(again)


def _pending(raw: str | None) -> bool:
    return raw is not None and Picture.model_validate_json(raw).state == PictureState.pending


# --- media.fetch ------------------------------------------------------------------------


def fetch_picture(ctx: MediaContext, ref: str) -> Picture | None:
    """Fetch (or read the upload of) a pending picture and render it; None for a ref no
    one requested. Raises FetchError or BadPicture; the task turns them into states."""
    record = load_record(ctx, ref)
    if record is None:
        log.warning("media.fetch.unknown", ref=ref)
        return None
    if record.state == PictureState.pending:
        record = _durable_record(ctx, record)
    if record.state != PictureState.pending:
        return record
    started = time.perf_counter()
    data = _original_bytes(ctx, record.source)
    picture = render_picture(ctx, record, data)
    save_record(ctx, picture)
    log.info(
        "media.fetch.ready",
        ref=ref,
        sha256=picture.sha256,
        bytes=len(data),
        renditions=len(picture.renditions),
        ms=round((time.perf_counter() - started) * 1000),
    )
    return picture


def _durable_record(ctx: MediaContext, pending: Picture) -> Picture:
    """The data bucket's record where it knows more than Redis's pending one (Redis lost
    its copy): a picture already ready or failed, or an upload's own source."""
    stored = ctx.storage.data.get(record_key(pending.ref))
    if stored is None:
        return pending
    durable = Picture.model_validate_json(stored)
    if durable.state == PictureState.pending and not durable.source.startswith(UPLOAD_SCHEME):
        return pending
    ctx.redis.set(ctx.keys.picture(pending.ref), stored)
    return durable


def _original_bytes(ctx: MediaContext, source: str) -> bytes:
    if source.startswith(UPLOAD_SCHEME):
        data = ctx.storage.data.get(original_key(source.removeprefix(UPLOAD_SCHEME)))
        if data is None:
            raise images.BadPicture("the uploaded original is gone")
        return data
    if source.startswith(ARTICLE_UPLOAD_SCHEME):
        raise images.BadPicture(f"no uploaded picture has the id {source.split(':', 1)[1]!r}")
    return ctx.fetcher.fetch(source).body


def run_fetch(ctx: MediaContext, ref: str, attempt: int) -> str:
    """One try of media.fetch: "done" (ready or failed, render told), "retry" (upstream
    down, tries left) or "unknown". Every failure of the picture ends in its failed state;
    only the store's or Redis's own faults escape, for the task's retry policy."""
    try:
        picture = fetch_picture(ctx, ref)
    except UpstreamDown as exc:
        if attempt < ctx.settings.media_fetch_attempts:
            log.info("media.fetch.retrying", ref=ref, attempt=attempt, reason=str(exc))
            return "retry"
        fail_picture(ctx, ref, f"{exc} (after {attempt} tries)")
    except (FetchRefused, images.BadPicture) as exc:
        fail_picture(ctx, ref, str(exc))
    except SoftTimeLimitExceeded:
        fail_picture(ctx, ref, "fetching and rendering took longer than the time limit")
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:  # a decoder's or encoder's own bug must not leave it pending
        log.exception("media.fetch.crashed", ref=ref)
        fail_picture(ctx, ref, f"internal error while rendering: {type(exc).__name__}")
    else:
        if picture is None:
            pipe = ctx.redis.pipeline(transaction=False)
            pipe.delete(ctx.keys.picture_fetching(ref))
            pipe.zrem(ctx.keys.pictures_in_flight, ref)
            pipe.execute()
            return "unknown"
    finish_fetch(ctx, ref)
    return "done"


def fail_picture(ctx: MediaContext, ref: str, reason: str) -> None:
    """Record a picture's failure and why (the article shows it without the picture)."""
    record = load_record(ctx, ref)
    if record is None:
        return
    save_record(ctx, record.model_copy(update={"state": PictureState.failed, "error": reason}))
    log.warning("media.fetch.failed", ref=ref, source=record.source[:300], reason=reason)


def finish_fetch(ctx: MediaContext, ref: str) -> None:
    """The fetch is over (ready or failed): let the next request claim it, and have render
    show the outcome on the pages that name the picture."""
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.delete(ctx.keys.picture_fetching(ref))
    pipe.zrem(ctx.keys.pictures_in_flight, ref)
    pipe.execute()
    celery_app.send_task(READY_TASK, args=[ref])


# --- POST /v1/media ---------------------------------------------------------------------


def upload_picture(ctx: MediaContext, data: bytes) -> MediaUploaded:
    """Check and store uploaded bytes; their renditions are made by media.fetch. Raises
    BadPicture for bytes that are no picture we render (before storing anything)."""
    header = images.inspect(data, ctx.settings.media_max_pixels)
    sha256 = hashlib.sha256(data).hexdigest()
    ref = upload_ref(sha256)
    widths = images.rendition_widths(header.width, ctx.settings.media_widths)
    largest = max(widths)
    height = max(1, round(header.height * largest / header.width))
    answer = MediaUploaded(
        id=ref,
        url="/" + rendition_key(sha256, largest, "jpeg", ctx.settings),
        width=largest,
        height=height,
    )
    record = load_record(ctx, ref)
    if record is not None and record.state == PictureState.ready:
        return answer
    ctx.storage.data.put(original_key(sha256), data, content_type=f"image/{header.kind}")
    save_record(ctx, Picture(ref=ref, source=UPLOAD_SCHEME + sha256))
    # An upload no article ever names is swept like a picture every article let go of.
    ctx.redis.zadd(ctx.keys.unlinked_pictures, {ref: time.time()}, nx=True)
    if _claim_fetches(ctx.redis, ctx.keys, [ref]):
        celery_app.send_task(FETCH_TASK, args=[ref])
    log.info("media.upload.stored", ref=ref, sha256=sha256, bytes=len(data), kind=header.kind)
    return answer


# --- media.sweep ------------------------------------------------------------------------


def sweep(ctx: MediaContext, now: float | None = None) -> int:
    """Remove the pictures no article has shown for the grace period: records, and the
    original and renditions once no other ref has the same bytes. Returns refs removed."""
    cutoff = (time.time() if now is None else now) - ctx.settings.media_sweep_grace_seconds
    removed = 0
    for ref in [
        str(r) for r in ctx.redis.zrangebyscore(ctx.keys.unlinked_pictures, "-inf", cutoff)
    ]:
        if ctx.redis.scard(ctx.keys.picture_articles(ref)):
            ctx.redis.zrem(ctx.keys.unlinked_pictures, ref)  # linked again meanwhile
            continue
        _remove_picture(ctx, ref)
        removed += 1
    if removed:
        log.info("media.sweep.removed", pictures=removed)
    return removed


def _remove_picture(ctx: MediaContext, ref: str) -> None:
    record = load_record(ctx, ref)
    ctx.storage.data.delete(record_key(ref))
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.delete(ctx.keys.picture(ref), ctx.keys.picture_articles(ref))
    if record is not None and record.sha256:
        pipe.srem(ctx.keys.digest_pictures(record.sha256), ref)
        pipe.scard(ctx.keys.digest_pictures(record.sha256))
    answers = pipe.execute()
    if record is not None and record.sha256 and answers[-1] == 0:
        _remove_original(ctx, record.sha256)
    ctx.redis.zrem(ctx.keys.unlinked_pictures, ref)


def _remove_original(ctx: MediaContext, sha256: str) -> None:
    """The original, and the renditions and digest of every recipe it was rendered with."""
    digests = list(ctx.storage.data.keys(f"{DIGESTS}{sha256}"))
    renditions = []
    for key in digests:
        digest = ctx.storage.data.get(key)
        renditions += Picture.model_validate_json(digest).renditions if digest else []
    ctx.storage.site.delete_many([r.url.removeprefix("/") for r in renditions])
    ctx.storage.data.delete_many([original_key(sha256), *digests])
    log.info("media.sweep.original_removed", sha256=sha256, renditions=len(renditions))
