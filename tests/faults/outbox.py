"""Waiting for the outbox to drain, with a failure that explains itself: every entry left,
what Redis says of its article, and the state of the flush and the reconciler."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from tests.faults.conftest import FaultStack

FIELDS = ("status", "version", "rendered_version", "failed_version", "error")


def drain_report(fs: FaultStack) -> str:
    """What is left in `pending/`, entry by entry, and what should be draining it."""
    now = datetime.now(UTC)
    keys, db = fs.keys, fs.redis
    lines = []
    for key, modified in fs.storage.data.entries("pending/"):
        aid = key.removeprefix("pending/")
        state = dict(zip(FIELDS, db.hmget(keys.article(aid), FIELDS), strict=True))
        lines.append(
            f"  {key} (written {(now - modified).total_seconds():.0f}s ago): "
            f"{(fs.storage.data.get(key) or b'').decode(errors='replace')}; redis {state}; "
            f"done-set={db.sismember(keys.outbox_done, aid)}, "
            f"requeued ttl={db.pttl(keys.requeued(aid))}ms"
        )
    flush = {
        "flag": db.pttl(keys.flush_scheduled),
        "lock": db.pttl(keys.flush_lock),
        "dirty": db.scard(keys.dirty),
        "flushing": db.scard(keys.flushing),
        "done-set": db.scard(keys.outbox_done),
    }
    tasks = ("ingest.reconcile", "render.flush", "render.article")
    runs = {task: (fs.task_outcomes(task), fs.task_outcomes(task, "raised")) for task in tasks}
    reconciled = re.findall(
        r"Task ingest\.reconcile\[[^\]]+\] succeeded[^{]*(\{[^}]*\})", fs.workers_log()
    )
    return "\n".join(
        [
            f"{len(lines)} entries left:",
            *lines,
            f"flush (ttl ms, sizes): {flush}",
            f"task runs (succeeded, raised): {runs}; restarted: {fs.restarted}",
            f"beat sent ingest.reconcile {fs.log('scheduler').count('(ingest.reconcile)')} times; "
            f"last reconcile: {reconciled[-1] if reconciled else None}",
        ]
    )


def wait_drained(fs: FaultStack, timeout: float) -> None:
    """Poll until `pending/` is empty; else fail with drain_report."""
    deadline = time.monotonic() + timeout
    while list(fs.storage.data.keys("pending/")):
        if time.monotonic() > deadline:
            raise AssertionError(f"outbox not drained within {timeout:.0f}s\n{drain_report(fs)}")
        time.sleep(0.2)
