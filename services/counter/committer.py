"""Group commit: hits that arrive while one Redis pipeline is in flight ride the next one.

Each caller waits for the pipeline that carries its hit, so a hit is answered only once
Redis has counted it; a process killed at any moment loses only unanswered hits. Under
load one pipeline carries hundreds of hits in one script call on a single server (one per
article, then one ranking call, on a cluster), which is what lets one Python process keep
up.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Histogram
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError

from services.counter.link import CommitLink
from services.counter.settings import CounterSettings
from services.counter.visitors import SALT_TTL, new_salt
from shared.keys import Keys
from shared.logging import describe, get_logger

SCRIPTS = Path(__file__).parent
RANKING = (SCRIPTS / "ranking.lua").read_text()  # the `rank` function both scripts call
HIT_SCRIPT = RANKING + (SCRIPTS / "hit.lua").read_text()
RANK_SCRIPT = RANKING + (SCRIPTS / "rank.lua").read_text()
NO_RANKING = ("", "", "", "")  # hit.lua's ranking arguments when it must not rank
HOUR_RANKING_TTL = 50 * 3600  # the rolling 24h window and yesterday's daily ranking need 49h
log = get_logger("pressroom.counter")

AnyRedis = Redis | RedisCluster
HITS = Counter("pressroom_counter_hits_total", "Hits answered", ["outcome"])
BATCH = Histogram(
    "pressroom_counter_batch_hits",
    "Hits carried by one group commit",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)


class NotPublished(Exception):
    """The id is not a published article: answered 404, nothing stored."""


class CountUnavailable(Exception):
    """The pipeline carrying the hit failed: the hit is answered 503, not acknowledged."""


@dataclass(frozen=True)
class Counted:
    count: int
    counted: bool


Pending = tuple[str, str, "asyncio.Future[Counted]"]  # article id, visitor, answer


class GroupCommit:
    def __init__(self, redis: AnyRedis, keys: Keys, settings: CounterSettings) -> None:
        self.redis, self.keys, self.settings = redis, keys, settings
        self.hit_sha = self.rank_sha = ""
        self.queue: list[Pending] = []
        self.flushers: set[asyncio.Task[None]] = set()
        self.uniques_ttl = settings.hourly_retention_days * 86400
        # A single server ranks inside the hit script; a cluster keeps rankings on their
        # own slot and ranks in a second round trip.
        self.rank_inline = not isinstance(redis, RedisCluster)
        # A single server gets the commits' own pipelined connection (link.py), or the
        # counter does not start (LinkRefused): hits never fall back to a slower path.
        self.link: CommitLink | None = None
        if isinstance(redis, Redis):
            timeout = redis.connection_pool.connection_kwargs.get("socket_timeout") or 5.0
            self.link = CommitLink.for_client(redis, float(timeout))

    async def load_scripts(self) -> None:
        # On a cluster, redis-py sends SCRIPT LOAD to every primary.
        self.hit_sha = str(await self.redis.script_load(HIT_SCRIPT))
        self.rank_sha = str(await self.redis.script_load(RANK_SCRIPT))

    def hit(self, article_id: str, visitor: str) -> asyncio.Future[Counted]:
        """Queue one hit; the future resolves once the pipeline carrying it has returned."""
        answer: asyncio.Future[Counted] = asyncio.get_running_loop().create_future()
        self.queue.append((article_id, visitor, answer))
        if len(self.flushers) < self.settings.commits_in_flight:
            flusher = asyncio.create_task(self.flush_until_empty())
            self.flushers.add(flusher)
            flusher.add_done_callback(self.flushers.discard)
        return answer

    async def flush_until_empty(self) -> None:
        """Commit what is queued, batch after batch. Up to `commits_in_flight` of these run
        at once, so Redis executes one batch while the next is sent and the last answered."""
        while self.queue:
            batch = self.queue[: self.settings.max_batch]
            del self.queue[: self.settings.max_batch]
            await self.commit(batch)

    async def commit(self, batch: list[Pending]) -> None:
        by_article: dict[str, list[Pending]] = defaultdict(list)
        for pending in batch:
            by_article[pending[0]].append(pending)
        now = time.time()
        try:
            replies = await self.run_scripts(by_article, now)
        except Exception as exc:  # whatever it was, every waiting reader must get an answer
            log.warning("counter.commit.failed", hits=len(batch), error=describe(exc))
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(CountUnavailable(describe(exc)))
            return
        BATCH.observe(len(batch))
        self.answer(by_article, replies)

    async def run_scripts(self, by_article: dict[str, list[Pending]], now: float) -> list[Any]:
        """The hit script's reply for each article, in `by_article` order.

        A single server counts and ranks the whole batch in one script call. A cluster
        counts each article on its own slot, then ranks on the `{rank}` slot in a second
        round trip (the rankings need the channels and counted hits the first returns);
        both complete before anyone is answered.
        """
        hour = time.strftime("%Y%m%d%H", time.gmtime(now))
        day = hour[:8]
        if self.rank_inline:
            rank = (*self.rankings(hour), self.keys.top_channels)
            call = self.hit_call(by_article.items(), hour, day, rank, self.keys.dedupe(""))
            (replies,) = await self.pipeline([call])
            return list(replies)
        calls = [
            self.hit_call([article], hour, day, NO_RANKING, self.keys.seen(article[0], ""))
            for article in by_article.items()
        ]
        replies = [reply[0] for reply in await self.pipeline(calls)]
        ranked: list[str] = []
        for aid, reply in zip(by_article, replies, strict=True):
            if isinstance(reply, list) and int(reply[1]) > 0:
                channel, added, _, before, this_hour = reply
                ranked += [aid, str(channel), str(int(before) + int(added)), str(this_hour)]
        if ranked:
            rankings = (*self.rankings(hour), *ranked)
            await self.pipeline([("rank", 1, self.keys.top_channels, *rankings)])
        return replies

    def hit_call(
        self,
        articles: Iterable[tuple[str, list[Pending]]],
        hour: str,
        day: str,
        rank: tuple[Any, ...],
        seen: str,
    ) -> tuple[Any, ...]:
        """The hit script's arguments (hit.lua): `rank` is rankings() and the set of ranked
        channels when this call also ranks (a single server), else NO_RANKING; `seen` is the
        prefix of the dedupe hashes the call uses."""
        k = self.keys
        keys: list[str] = []
        each: list[str] = []
        for aid, hits in articles:
            keys += (k.article(aid), k.hits(aid), k.hourly(aid), k.uniques(aid, day))
            each += (aid, "".join(visitor for _, visitor, _ in hits))
        args = (hour, self.settings.dedupe_seconds, self.uniques_ttl, *rank, seen, *each)
        return ("hit", len(keys), *keys, *args)

    def rankings(self, hour: str) -> tuple[str, str, int]:
        """Ranking prefixes (all-time, this hour) and the hour rankings' TTL: once a batch."""
        return (self.keys.top("all")[:-1], self.keys.top_hour(hour)[:-1], HOUR_RANKING_TTL)

    async def pipeline(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        """EVALSHA each call; scripts lost to a Redis restart are loaded and run again."""
        replies = await self.send(calls)
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:
            await self.load_scripts()
            again = await self.send([calls[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def send(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        commands = [
            ("EVALSHA", self.hit_sha if script == "hit" else self.rank_sha, *rest)
            for script, *rest in calls
        ]
        if self.link is not None:
            return await self.link.execute(commands)
        pipe = self.redis.pipeline(transaction=False)
        for command in commands:
            # execute_command: redis-py's cluster pipeline refuses its evalsha() helper, but
            # routes a raw EVALSHA by its keys, which share one slot.
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))

    async def aclose(self) -> None:
        if self.link is not None:
            await self.link.aclose()

    def answer(self, by_article: dict[str, list[Pending]], replies: list[Any]) -> None:
        counted = ignored = refused = 0
        for hits, reply in zip(by_article.values(), replies, strict=True):
            if not isinstance(reply, list):
                refused += len(hits)
                for _, _, answer in hits:
                    if not answer.done():
                        answer.set_exception(NotPublished())
                continue
            flags, shown = str(reply[2]), int(reply[3])
            for n, (_, _, answer) in enumerate(hits):
                was_counted = flags[n] == "1"
                shown += was_counted
                counted += was_counted
                ignored += not was_counted
                if not answer.done():  # the reader may have gone away
                    answer.set_result(Counted(shown, was_counted))
        HITS.labels("counted").inc(counted)
        HITS.labels("not_counted").inc(ignored)
        HITS.labels("not_published").inc(refused)

    async def todays_salt(self, day: str) -> str:
        key = self.keys.visitor_salt(day)
        await self.redis.set(key, new_salt(), nx=True, ex=SALT_TTL)
        return str(await self.redis.get(key))
