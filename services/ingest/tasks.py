"""Ingest's periodic job: the reconciler that finishes what was accepted but not rendered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Task

from services.ingest.settings import IngestSettings
from shared.celery_app import app as celery_app
from shared.celery_app import pressroom_task
from shared.logging import get_logger
from shared.models import article_key
from shared.storage import Storage

log = get_logger("pressroom.ingest.reconcile")
_storage: tuple[IngestSettings, Storage] | None = None


def storage() -> tuple[IngestSettings, Storage]:
    """Settings and buckets, built once per worker process (never at import time)."""
    global _storage
    if _storage is None:
        settings = IngestSettings()
        _storage = settings, Storage.from_settings(settings)
    return _storage


def reconcile(store: Storage, *, grace: timedelta, abandon_after: timedelta) -> dict[str, int]:
    """Re-enqueue every pending article older than `grace`.

    Reads only the `pending/` outbox, so its cost follows what is in flight, not the archive.
    An entry whose version never reached the article document was written by a request that
    failed before its 202; after `abandon_after` it is dropped.
    """
    now = datetime.now(UTC)
    stats = {"requeued": 0, "abandoned": 0, "young": 0}
    for key, modified in store.data.entries("pending/"):
        if now - modified < grace:
            stats["young"] += 1
            continue
        pending = store.data.get_json(key) or {}
        article = store.data.get_json(article_key(str(pending.get("id", ""))))
        if article is None or int(article["version"]) < int(pending.get("version", 0)):
            if now - modified > abandon_after:
                store.data.delete(key)
                stats["abandoned"] += 1
            continue
        celery_app.send_task("render.article", args=[article["id"], article["version"]])
        stats["requeued"] += 1
    if stats["requeued"] or stats["abandoned"]:
        log.info("ingest.reconcile.done", **stats)
    return stats


@pressroom_task("ingest.reconcile")
def reconcile_pending(self: Task[Any, Any]) -> dict[str, int]:
    settings, store = storage()
    return reconcile(
        store,
        grace=timedelta(seconds=settings.reconcile_grace_seconds),
        abandon_after=timedelta(seconds=settings.reconcile_abandon_seconds),
    )
