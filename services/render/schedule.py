"""Scheduled publishing: embargoed articles wait in a due-time sorted set for their instant.

Render puts an article there whenever it finds the article's embargo still ahead (and keeps
it off every surface); the scheduler polls the set by time range (ZRANGEBYSCORE with a
LIMIT, so a tick costs the same at 10 or 50,000 scheduled) and sends render.article for
what has come due. Celery ETA messages are not used: the Redis transport re-delivers them
after the visibility timeout and a flushed broker loses them, while this set is rebuilt
from the data bucket by `pressroom reindex`.

A claim moves due ids to a lease set in one script, so two schedulers never both send an
article; render removes the lease once it has rendered the article, and a lease that runs
out (its scheduler died between claim and send, or the message was lost) is claimed again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from redis.client import Pipeline

from shared.keys import Keys
from shared.logging import describe, get_logger
from shared.models import Article

log = get_logger("pressroom.render.schedule")

RENDER_TASK = "render.article"
# KEYS: due set, lease set. ARGV: now, lease end, most ids per call.
# Returns the ids claimed: due ones (moved to the lease set) and ones whose lease ran out.
CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local claimed, seen = {}, {}
for _, list in ipairs({due, lapsed}) do
  for _, id in ipairs(list) do
    if not seen[id] then
      seen[id] = true
      claimed[#claimed + 1] = id
    end
  end
end
for i = 1, #due, 500 do
  redis.call('ZREM', KEYS[1], unpack(due, i, math.min(i + 499, #due)))
end
for _, id in ipairs(claimed) do
  redis.call('ZADD', KEYS[2], ARGV[2], id)
end
return claimed
"""

Send = Callable[[str, list[object]], object]


def track(keys: Keys, pipe: Pipeline, article: Article, held: bool) -> None:
    """Queued on render's finishing pipeline: a held article waits in the due set for its
    instant; any other outcome takes it off the schedule. Either way its lease is done."""
    if held and article.embargoed is not None:
        pipe.zadd(keys.due, {article.id: article.embargoed.timestamp()})
    else:
        pipe.zrem(keys.due, article.id)
    pipe.zrem(keys.releasing, article.id)


def claim(db: Redis, keys: Keys, *, now: float, lease: float, limit: int) -> list[str]:
    """Atomically take up to `limit` articles due at `now` (and lapsed leases)."""
    claimed: list[str | bytes] = db.eval(
        CLAIM, 2, keys.due, keys.releasing, now, now + lease, limit
    )
    return [c.decode() if isinstance(c, bytes) else str(c) for c in claimed]


def release_due(
    db: Redis, keys: Keys, send: Send, *, now: float, lease: float, limit: int = 500
) -> list[str]:
    """One scheduler tick: claim what is due and ask render for each page."""
    ids = claim(db, keys, now=now, lease=lease, limit=limit)
    if not ids:
        return ids
    pipe = db.pipeline(transaction=False)
    for aid in ids:
        pipe.hget(keys.article(aid), "version")
    for aid, version in zip(ids, pipe.execute(), strict=True):
        send(RENDER_TASK, [aid, int(version or 0)])
    log.info("render.schedule.released", articles=len(ids))
    return ids


def scheduled(
    db: Redis, keys: Keys, *, since: float, until: float, limit: int
) -> list[tuple[str, float]]:
    """What is scheduled between two instants (epoch s), soonest first: the operator's view."""
    found: list[tuple[str, float]] = db.zrangebyscore(  # type: ignore[assignment]
        keys.due, since, until, start=0, num=limit, withscores=True
    )
    return [(str(aid), float(score)) for aid, score in found]


@dataclass
class Releaser:
    """The scheduler's loop: a tick every `poll` seconds on a thread of the beat process,
    until stopped. A failed tick (Redis or the broker away) is logged and tried again."""

    db: Redis
    keys: Keys
    send: Send
    poll: float
    lease: float
    stopping: threading.Event
    thread: threading.Thread | None = None

    def start(self) -> Releaser:
        self.thread = threading.Thread(target=self._run, name="pressroom-releaser", daemon=True)
        self.thread.start()
        log.info("render.schedule.started", poll=self.poll, lease=self.lease)
        return self

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                release_due(self.db, self.keys, self.send, now=time.time(), lease=self.lease)
            except Exception as exc:  # Redis, or kombu's own: the loop outlives either
                log.warning("render.schedule.tick_failed", error=describe(exc))
            self.stopping.wait(self.poll)
