"""The outbox: `pending/` entries in the data bucket, removed in bulk once rendered."""

from __future__ import annotations

from services.render.context import RenderContext
from shared.models import pending_etag, pending_key

BATCH = 1000  # one DeleteObjects request


def clear_outbox(ctx: RenderContext) -> int:
    """Delete the `pending/` entries of rendered articles, unless a newer version waits.

    Ingest records the version in Redis before it enqueues, so Redis tells which entries
    are finished without reading them; a version marked failed is finished too, since
    rendering it again would fail the same way. Each entry is deleted only if it still holds
    the version judged finished (its ETag), so an entry ingest rewrote meanwhile for a newer
    version stays. Ids leave the done-set only after their entries are deleted, so a failure
    of Redis or the store anywhere in between leaves them for the next flush. An id whose
    newer version waits leaves too: that version's render adds it again (if it finished
    meanwhile, the reconciler retires its entry).
    """
    ids: list[str] = ctx.redis.srandmember(ctx.keys.outbox_done, BATCH) or []  # type: ignore[assignment]
    if not ids:
        return 0
    pipe = ctx.redis.pipeline(transaction=False)
    for aid in ids:
        pipe.hmget(ctx.keys.article(aid), "version", "rendered_version", "failed_version")
    finished: dict[str, str] = {}
    for aid, (version, rendered, failed) in zip(ids, pipe.execute(), strict=True):
        done = max(int(rendered or 0), int(failed or 0))
        if done and done >= int(version or 0):
            finished[pending_key(aid)] = pending_etag(aid, int(version or done))
    kept = ctx.storage.data.delete_many(list(finished), etags=finished)
    ctx.redis.srem(ctx.keys.outbox_done, *ids)
    return len(finished) - len(kept)
