"""Ingest's periodic job: the reconciler that finishes what was accepted but not rendered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
    """Re-enqueue each pending article older than `grace`, at most once per `hold`.

    Reads only the `pending/` outbox, so its cost follows what is in flight, not the archive.
    An entry re-enqueued less than `hold` ago is skipped before its documents are read: a
    backlogged render queue gets no duplicate per run, and a held entry costs one Redis call.
    An entry whose version never reached the article document was written by a request that
    failed before its 202; after `abandon_after` it is dropped.
    """
    now = datetime.now(UTC)
    stats = {"requeued": 0, "held": 0, "abandoned": 0, "young": 0}
    for key, modified in store.data.entries("pending/"):
        if now - modified < grace:
            stats["young"] += 1
            continue
        if db.exists(keys.requeued(key.removeprefix("pending/"))):
            stats["held"] += 1
            continue
        pending = store.data.get_json(key) or {}
        article = store.data.get_json(article_key(str(pending.get("id", ""))))
        if article is None or int(article["version"]) < int(pending.get("version", 0)):
            if now - modified > abandon_after:
                store.data.delete(key)
                stats["abandoned"] += 1
            continue
        aid, version = str(article["id"]), int(article["version"])
        # NX: two reconcilers running at once (a beat restarted mid-run) send it once
        if db.set(keys.requeued(aid), version, nx=True, px=max(1, int(hold / MS))):
            celery_app.send_task("render.article", args=[aid, version])
            stats["requeued"] += 1
    if stats["requeued"] or stats["abandoned"]:
        log.info("ingest.reconcile.done", **stats)
    return stats


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
