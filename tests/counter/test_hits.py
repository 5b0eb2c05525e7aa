"""The hit route as the page script and the pixel use it, on a real counter process."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from services.counter.committer import Counted, GroupCommit
from services.counter.service import connect
from services.counter.settings import CounterSettings
from services.stack.run import Stack
from tests.counter.conftest import Counter, hit_together, reader, start_counter

HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/131.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_each_reader_raises_the_count_by_one_and_counts_agree(counter: Counter) -> None:
    article = counter.publish()
    with counter.client() as http:
        answers = [http.post(f"/v1/hits/{article}", headers=reader(n)) for n in range(5)]
        totals = http.get("/v1/counts", params={"ids": f"{article},{'0' * 20}"}).json()

    assert [a.json() for a in answers] == [{"id": article, "count": n} for n in range(1, 6)]
    assert answers[0].headers["cache-control"] == "no-store"
    assert totals == {"counts": {article: 5, "0" * 20: 0}}


def test_a_flood_of_unknown_ids_is_refused_and_grows_nothing(counter: Counter) -> None:
    counter.publish()  # the prefix holds something, so "nothing new" is a real comparison
    before = counter.prefixed_keys()
    fakes = [uuid.uuid4().hex[:20] for _ in range(200)] + ["not-an-id", "../etc/passwd"]
    with counter.client() as http:
        answers = [http.post(f"/v1/hits/{fake}", headers=reader(1)) for fake in fakes]
        pixel = http.get(f"/v1/hits/{fakes[0]}.gif")

    assert {a.status_code for a in answers} == {404}
    assert answers[0].headers["content-type"] == "application/problem+json"
    assert answers[0].json()["title"] == "Not a published article"
    assert pixel.status_code == 404
    assert counter.prefixed_keys() == before


def test_a_reader_reloading_within_the_window_counts_once(counter: Counter) -> None:
    article = counter.publish()
    with counter.client() as http:
        reloads = [http.post(f"/v1/hits/{article}", headers=reader(7)).json() for _ in range(4)]
        other = http.post(f"/v1/hits/{article}", headers=reader(8)).json()

    assert [r["count"] for r in reloads] == [1, 1, 1, 1]
    assert other["count"] == 2


def test_a_reader_counts_again_once_per_window_and_is_then_forgotten(
    stack: Stack, tmp_path: Path
) -> None:
    counter = start_counter(tmp_path, stack.urls["redis_url"], dedupe_seconds="1")
    try:
        article = counter.publish()

        # Timed from before the burst: the burst's count is the first window's start, so
        # 2.5 windows after it end before a fourth count could fall due, however slow it ran.
        started = time.monotonic()
        burst = hit_together(counter, [(article, reader(3))] * 8)  # reloads at once
        together = [answer.json()["count"] for answer in burst]
        with counter.client() as http:
            while time.monotonic() - started < 2.5:  # hammering reload for 2.5 windows
                assert http.post(f"/v1/hits/{article}", headers=reader(3)).status_code == 200
                time.sleep(0.05)
            total = http.get("/v1/counts", params={"ids": article}).json()["counts"][article]
        remembered = counter.redis.keys(counter.keys.dedupe("*"))
        ttls = [counter.redis.pttl(key) for key in remembered]
    finally:
        counter.server.stop()

    assert together == [1] * 8
    assert total == 3  # the burst's one, then one after 1 s and one after 2 s
    assert remembered
    assert all(0 < ttl <= 3000 for ttl in ttls)  # no reader remembered past two windows


def test_crawlers_and_headless_browsers_are_answered_but_not_counted(counter: Counter) -> None:
    article = counter.publish()
    with counter.client() as http:
        http.post(f"/v1/hits/{article}", headers=reader(1))
        robots = [
            http.post(f"/v1/hits/{article}", headers=reader(n, agent))
            for n, agent in enumerate([GOOGLEBOT, HEADLESS, "Baiduspider/2.0", "bingbot/2.0"], 2)
        ]

    assert {r.status_code for r in robots} == {200}
    assert [r.json()["count"] for r in robots] == [1, 1, 1, 1]
    assert int(counter.redis.get(counter.keys.hits(article)) or 0) == 1


def as_bytes(value: object) -> bytes:
    assert isinstance(value, bytes)
    return value


def test_no_reader_address_is_stored(counter: Counter) -> None:
    article = counter.publish()
    address = "203.0.113.77"
    with counter.client() as http:
        answer = http.post(f"/v1/hits/{article}", headers={"x-forwarded-for": address})
    assert answer.json()["count"] == 1

    raw = redis.Redis.from_url(counter.env["PRESSROOM_REDIS_URL"])
    stored: list[bytes] = []  # raw bytes: the uniques are binary HyperLogLogs
    for key in raw.scan_iter(f"{counter.keys.prefix}*".encode(), count=1000):
        stored.append(bytes(key))
        kind = raw.type(key)
        if kind == b"string":
            stored.append(as_bytes(raw.get(key)))
        elif kind == b"hash":
            stored.extend(as_bytes(k) + b"=" + as_bytes(v) for k, v in raw.hgetall(key).items())
    raw.close()
    assert stored
    assert not any(address.encode() in item for item in stored)


def test_the_pixel_counts_for_readers_without_javascript(counter: Counter) -> None:
    article = counter.publish()
    with counter.client() as http:
        pixel = http.get(f"/v1/hits/{article}.gif", headers=reader(3))
        total = http.get("/v1/counts", params={"ids": article}).json()["counts"][article]

    assert pixel.status_code == 200
    assert pixel.headers["content-type"] == "image/gif"
    assert pixel.content.startswith(b"GIF89a")
    assert total == 1


def test_only_the_site_origin_may_read_the_count_cross_origin(counter: Counter) -> None:
    article = counter.publish()
    with counter.client() as http:
        ours = http.post(f"/v1/hits/{article}", headers={"origin": "https://news.example.cn"})
        theirs = http.post(f"/v1/hits/{article}", headers={"origin": "https://evil.example"})
        preflights = [
            http.options(
                f"/v1/hits/{article}",
                headers={"origin": origin, "access-control-request-method": "POST"},
            )
            for origin in ("https://news.example.cn", "https://evil.example")
        ]
        pixel = http.get(f"/v1/hits/{article}.gif", headers={"origin": "https://news.example.cn"})

    assert ours.headers["access-control-allow-origin"] == "https://news.example.cn"
    assert ours.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in theirs.headers
    assert preflights[0].status_code == 200
    assert preflights[0].headers["access-control-allow-origin"] == "https://news.example.cn"
    assert "POST" in preflights[0].headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in preflights[1].headers
    assert pixel.headers["access-control-allow-origin"] == "https://news.example.cn"


def test_fastapi_documents_the_hit_route(counter: Counter) -> None:
    schema = httpx.get(f"{counter.url}/openapi.json").json()
    assert {"/v1/hits/{article_id}", "/v1/counts", "/v1/top", "/v1/stats/{article_id}"} <= set(
        schema["paths"]
    )


def test_the_largest_batch_on_one_article_counts_every_reader(
    counter: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PRESSROOM_MAX_BATCH at its maximum (4,096) and every hit on one article: one script
    call holds them all, though Lua can unpack only so many values at once."""
    article = counter.publish()
    for name, value in counter.env.items():  # the counter's own settings
        monkeypatch.setenv(name, value)
    settings = CounterSettings(max_batch=4096, commits_in_flight=1)

    async def hit_all() -> list[Counted]:
        redis = connect(settings)
        committer = GroupCommit(redis, counter.keys, settings)
        await committer.load_scripts()
        try:  # queued before the first commit runs: one batch
            return await asyncio.gather(*(committer.hit(article, f"{n:016x}") for n in range(4096)))
        finally:
            await committer.aclose()
            await redis.aclose()

    answers = asyncio.run(hit_all())

    assert [a.count for a in answers] == list(range(1, 4097))
    assert all(a.counted for a in answers)
