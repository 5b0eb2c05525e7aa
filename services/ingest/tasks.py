"""Ingest's periodic job: the reconciler that finishes what was accepted but not rendered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import redis
from celery import Task

from services.ingest.settings import IngestSettings
from shared.celery_app import app as celery_app
from shared.celery_app import pressroom_task
from shared.keys import Keys
from shared.logging import get_logger
from shared.models import article_key
from shared.redis_client import connect
from shared.storage import Storage

log = get_logger("pressroom.ingest.reconcile")
MS = timedelta(milliseconds=1)
BATCH = 500  # entries judged per Redis round trip
_clients: tuple[IngestSettings, Storage, redis.Redis, Keys] | None = None


def clients() -> tuple[IngestSettings, Storage, redis.Redis, Keys]:
    """Settings, buckets and Redis, built once per worker process (never at import time)."""
    global _clients
    if _clients is None:
        settings = IngestSettings()
        db = connect(settings, timeout=5)  # one server or a Redis Cluster
        _clients = settings, Storage.from_settings(settings), db, Keys(settings.key_prefix)
    return _clients


def reconcile(
    store: Storage,
    db: redis.Redis,
    keys: Keys,
    *,
    grace: timedelta,
    abandon_after: timedelta,
    hold: timedelta,
) -> dict[str, int]:
    """Finish each pending entry older than `grace`: retire it if Redis says its version is
    rendered (or failed), else re-enqueue it, at most once per `hold`.

    Reads only the `pending/` outbox, so its cost follows what is in flight, not the archive.
    An entry is retired with a conditional delete on the ETag it was judged by, so an entry
    ingest rewrote meanwhile for a newer version stays. An unfinished entry re-enqueued less
    than `hold` ago is skipped before its documents are read: a backlogged render queue gets
    no duplicate per run. An entry whose version never reached the article document was
    written by a request that failed before its 202; after `abandon_after` it is dropped.
    Last, a flush is sent if pages wait to be re-rendered and none is scheduled or running.
    """
    now = datetime.now(UTC)
    stats = dict.fromkeys(("retired", "changed", "requeued", "held", "abandoned", "young"), 0)
    old: list[tuple[str, datetime]] = []
    for key, modified in store.data.entries("pending/"):
        if now - modified < grace:
            stats["young"] += 1
        else:
            old.append((key, modified))
    for start in range(0, len(old), BATCH):
        chunk = old[start : start + BATCH]
        states = _states(db, keys, [key.removeprefix("pending/") for key, _ in chunk])
        for (key, modified), (done, held) in zip(chunk, states, strict=True):
            outcome = _finish(store, db, keys, key, done=done, held=held, hold=hold)
            if outcome == "unstored" and now - modified > abandon_after:
                store.data.delete(key)
                outcome = "abandoned"
            if outcome in stats:
                stats[outcome] += 1
    stats["flush"] = int(_flush_if_marked(db, keys, hold))
    if any(stats[k] for k in ("retired", "changed", "requeued", "abandoned", "flush")):
        log.info("ingest.reconcile.done", **stats)
    return stats


def _states(db: redis.Redis, keys: Keys, ids: list[str]) -> list[tuple[int, bool]]:
    """Per article: the newest version render finished (rendered or failed; 0: none), and
    whether the reconciler re-enqueued it less than a hold ago."""
    pipe = db.pipeline(transaction=False)
    for aid in ids:
        pipe.hmget(keys.article(aid), "rendered_version", "failed_version")
        pipe.exists(keys.requeued(aid))
    answers = pipe.execute()
    return [
        (max(int(rendered or 0), int(failed or 0)), bool(held))
        for (rendered, failed), held in zip(answers[::2], answers[1::2], strict=True)
    ]


def _finish(
    store: Storage, db: redis.Redis, keys: Keys, key: str, *, done: int, held: bool, hold: timedelta
) -> str:
    """Retire, re-enqueue or leave one old entry; returns what was done."""
    if held and not done:
        return "held"
    found = store.data.get_tagged(key)
    if found is None:
        return "gone"  # deleted by a flush meanwhile
    raw, etag = found
    pending = orjson.loads(raw)
    if done and done >= int(pending.get("version", 0)):
        return "retired" if store.data.delete_if(key, etag) else "changed"
    if held:
        return "held"
    article = store.data.get_json(article_key(str(pending.get("id", ""))))
    if article is None or int(article["version"]) < int(pending.get("version", 0)):
        return "unstored"
    aid, version = str(article["id"]), int(article["version"])
    # NX: two reconcilers running at once (a beat restarted mid-run) send it once
    if db.set(keys.requeued(aid), version, nx=True, px=max(1, int(hold / MS))):
        celery_app.send_task("render.article", args=[aid, version])
        return "requeued"
    return "held"


def _flush_if_marked(db: redis.Redis, keys: Keys, hold: timedelta) -> bool:
    """Send a flush if pages wait to be re-rendered (or entries to be cleared) and none is
    scheduled or running: its message may have been lost with the broker, or its worker
    killed after it took the marks. The flag it sets keeps the next runs from sending twins."""
    marked = db.exists(
        keys.dirty, keys.dirty_from, keys.flushing, keys.flushing_from, keys.outbox_done
    )
    if not marked or db.exists(keys.flush_scheduled, keys.flush_lock):
        return False
    if not db.set(keys.flush_scheduled, "1", nx=True, px=max(1, int(hold / MS))):
        return False
    celery_app.send_task("render.flush")
    return True


@pressroom_task("ingest.reconcile")
def reconcile_pending(self: Task[Any, Any]) -> dict[str, int]:
    settings, store, db, keys = clients()
    return reconcile(
        store,
        db,
        keys,
        grace=timedelta(seconds=settings.reconcile_grace_seconds),
        abandon_after=timedelta(seconds=settings.reconcile_abandon_seconds),
        hold=timedelta(seconds=settings.requeue_hold_seconds),
    )
