"""The outbox: `pending/` entries in the data bucket, removed in bulk once rendered."""

from __future__ import annotations

from services.render.context import RenderContext
from shared.models import pending_key


def clear_outbox(ctx: RenderContext) -> int:
    """Delete the `pending/` entries of rendered articles, unless a newer version waits.

    Ingest records the version in Redis before it enqueues, so Redis tells which entries
    are finished without reading them; a version marked failed is finished too, since
    rendering it again would fail the same way.
    """
    ids: list[str] = ctx.redis.spop(ctx.keys.outbox_done, 1000) or []  # type: ignore[assignment]
    if not ids:
        return 0
    pipe = ctx.redis.pipeline(transaction=False)
    for aid in ids:
        pipe.hmget(ctx.keys.article(aid), "version", "rendered_version", "failed_version")
    finished = [
        aid
        for aid, (version, rendered, failed) in zip(ids, pipe.execute(), strict=True)
        if max(int(rendered or 0), int(failed or 0)) >= int(version or 0)
    ]
    try:
        ctx.storage.data.delete_many([pending_key(aid) for aid in finished])
    except Exception:
        ctx.redis.sadd(ctx.keys.outbox_done, *ids)
        raise
    return len(finished)
