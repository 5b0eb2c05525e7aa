"""The counter on granian's RSGI interface (hits natively, the rest through the
RSGI-to-ASGI bridge): what reaches FastAPI (query strings, bodies, headers, the lifespan),
what comes back (whole and streamed answers, errors) and what the server logs.

Behaviours other modules test are not repeated here: hits, the pixel and CORS
(test_hits.py), 422s and the dashboard (test_reports.py).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.stack import servers
from services.stack.run import Stack
from tests.counter.conftest import Counter, reader, start_counter
from tests.stack import harness


def test_query_strings_reach_fastapi_as_sent(counter: Counter) -> None:
    article, other = counter.publish(), counter.publish()
    with counter.client() as http:
        http.post(f"/v1/hits/{article}", headers=reader(1))
        counts = http.get(f"/v1/counts?ids={article}%2C{other}")
        # "+" in a query string is a space; only %2B is a plus sign, as the offset needs.
        stats = http.get(
            f"/v1/stats/{article}",
            params={"from": "2026-07-01T10:00:00+08:00", "to": "2026-07-01T12:00:00+08:00"},
        )
        bad = http.get("/v1/top", params={"window": "24h", "limit": "0"})

    assert counts.json() == {"counts": {article: 1, other: 0}}
    assert stats.status_code == 200
    assert (stats.json()["from"], stats.json()["to"]) == (
        "2026-07-01T02:00:00Z",
        "2026-07-01T04:00:00Z",
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert "limit" in bad.json()["detail"]


def test_what_is_not_a_hit_is_answered_by_fastapi(counter: Counter) -> None:
    article = counter.publish()
    with counter.client() as http:
        nowhere = http.get("/v1/nowhere")
        not_gif = http.get(f"/v1/hits/{article}")  # the pixel is .gif; POST is the hit
        deeper = http.post(f"/v1/hits/{article}/more")
        counted = http.get("/v1/counts", params={"ids": article}).json()["counts"][article]

    assert (nowhere.status_code, not_gif.status_code, deeper.status_code) == (404, 405, 404)
    assert {r.headers["content-type"] for r in (nowhere, not_gif, deeper)} == {
        "application/problem+json"
    }
    assert counted == 0


def test_health_readiness_metrics_and_docs(counter: Counter) -> None:
    article = counter.publish()
    with counter.client() as http:
        http.post(f"/v1/hits/{article}", headers=reader(1))
        health, ready = http.get("/healthz"), http.get("/readyz")
        docs, metrics = http.get("/docs"), http.get("/metrics")

    assert health.json() == {"status": "ok"}
    assert ready.json() == {"status": "ok", "checks": {"redis": "ok"}}
    assert docs.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in docs.text
    assert metrics.headers["content-type"].startswith("text/plain")
    # The middlewares ran for what FastAPI answered; hits are counted per batch.
    served = (
        r'pressroom_http_requests_total\{route="/healthz",service="counter",status="200"\} 1\.0'
    )
    assert re.search(served, metrics.text)
    assert re.search(r'pressroom_counter_hits_total\{outcome="counted"\} [1-9]', metrics.text)


def test_readers_are_told_apart_across_several_forwarded_for_lines(counter: Counter) -> None:
    """Several X-Forwarded-For lines are one list: what a reader wrote before the hop our
    edge appended is not believed, whichever line it is on."""
    article = counter.publish()
    lines = [("198.51.100.1", "203.0.113.9"), ("198.51.100.2", "203.0.113.9")]
    lines.append(("198.51.100.1", "203.0.113.10, 127.0.0.1"))
    with counter.client() as http:
        counts = [
            http.post(
                f"/v1/hits/{article}",
                headers=[("x-forwarded-for", first), ("x-forwarded-for", last)],
            ).json()["count"]
            for first, last in lines
        ]
    assert counts == [1, 1, 2]


def counter_exit_status(tmp_path: Path, redis_url: str) -> tuple[int, servers.Server]:
    """Start a counter on `redis_url` and wait for it to exit (it must not serve)."""
    argv = [sys.executable, "-m", "services", "counter", "--port", str(harness.free_port())]
    env = {
        "PRESSROOM_ENVIRONMENT": "test",
        "PRESSROOM_REDIS_URL": redis_url,
        "PRESSROOM_LOG_JSON": "true",
    }
    counter = servers.Server("counter", argv, tmp_path / "log", env=env).start()
    assert counter.process is not None
    try:
        return counter.process.wait(30), counter
    finally:
        counter.kill()


def test_a_counter_that_cannot_reach_valkey_does_not_start(tmp_path: Path) -> None:
    """It exits, so that its supervisor sees it, rather than serving 500s."""
    status, _ = counter_exit_status(tmp_path, f"redis://127.0.0.1:{harness.free_port()}/0")
    assert status != 0


def test_a_counter_asked_for_tls_on_a_single_server_refuses_to_start(tmp_path: Path) -> None:
    """The group commit's own connection speaks no TLS: the counter says so and exits,
    rather than count hits some other way."""
    status, counter = counter_exit_status(tmp_path, f"rediss://127.0.0.1:{harness.free_port()}/0")
    assert status != 0
    failures = [
        json.loads(line)
        for line in counter.log_path.read_text().splitlines()
        if "counter.startup.failed" in line
    ]
    assert failures
    assert "PRESSROOM_REDIS_URL asks for TLS" in failures[0]["error"]


def test_every_line_the_counter_logs_is_json_granians_included(
    stack: Stack, tmp_path: Path
) -> None:
    """An operator's log pipeline parses each line: granian's own start and stop lines come
    through Pressroom's logging, not granian's plain-text handlers."""
    running = start_counter(tmp_path, stack.urls["redis_url"], log_json="true")
    with running.client() as http:
        http.post(f"/v1/hits/{'0' * 20}")
    running.server.stop()
    running.redis.close()

    lines = [line for line in running.server.log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    granian = [r for r in records if r.get("logger") == "_granian"]
    assert any("Listening at" in r["event"] for r in granian), lines
    assert all({"level", "timestamp"} <= r.keys() for r in records)


@dataclass
class Bridged:
    """tests/counter/bridged.py served by one server, and where it leaves its marks."""

    server: servers.Server
    url: str
    marks: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


def serve_bridged(home: Path) -> Bridged:
    """Granian serves it as the counter is served: RSGI, through the bridge."""
    port = harness.free_port()
    argv = [
        "granian", "--interface", "rsgi", "--factory", "--loop", "uvloop", "--no-ws",
        "--port", str(port), "tests.counter.bridged:create_rsgi",
    ]  # fmt: skip
    marks = home / "marks"
    marks.mkdir()
    process = servers.Server(
        f"bridged:{port}",
        [sys.executable, "-m", *argv],
        home / f"bridged-{port}.log",
        env={"BRIDGED_MARKS": str(marks)},
    ).start()
    url = f"http://127.0.0.1:{port}"
    servers.wait_until(
        lambda: httpx.get(f"{url}/stream?lines=1", timeout=1).is_success, "bridged", 30, process
    )
    return Bridged(process, url, marks)


@pytest.fixture(scope="module")
def bridged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridged]:
    running = serve_bridged(tmp_path_factory.mktemp("bridged"))
    yield running
    running.server.stop()


def test_a_body_query_and_path_reach_the_app_as_sent(bridged: Bridged) -> None:
    body = random.randbytes(300_000)
    with bridged.client() as http:
        answer = http.post(
            "/echo/a%20b?q=%E4%B8%AD%2B1&q=x&empty=",
            content=body,
            headers={"content-type": "application/octet-stream"},
        )

    assert answer.json() == {
        "name": "a b",
        "raw_path": "/echo/a%20b",
        "query": [["q", "中+1"], ["q", "x"], ["empty", ""]],
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_type": "application/octet-stream",
        "client": "127.0.0.1",
        "started": "yes",  # the lifespan's state, in every request's
    }


def test_a_streamed_answer_arrives_whole(bridged: Bridged) -> None:
    with bridged.client() as http, http.stream("GET", "/stream?lines=5000") as answer:
        chunks = list(answer.iter_raw())

    assert answer.headers["transfer-encoding"] == "chunked"
    assert b"".join(chunks) == b"".join(b"%05d\n" % n for n in range(5000))


def test_the_app_hears_that_its_client_left(bridged: Bridged) -> None:
    with bridged.client() as http, pytest.raises(httpx.ReadTimeout):
        http.get("/wait", timeout=0.5)
    servers.wait_until(lambda: (bridged.marks / "client gone").exists(), "the app", 10)


def test_failures_are_answered_500_and_the_server_goes_on(bridged: Bridged) -> None:
    # One connection each, as a client would reconnect after a 500.
    crash, silent = httpx.get(f"{bridged.url}/crash"), httpx.get(f"{bridged.url}/silent")
    after = httpx.get(f"{bridged.url}/stream?lines=3")

    assert crash.status_code == 500
    assert crash.headers["content-type"] == "application/problem+json"
    assert crash.json()["title"] == "Internal error"
    assert silent.status_code == 500  # the app answered nothing: the server answers
    assert after.text == "00000\n00001\n00002\n"


def test_stopping_the_server_runs_the_apps_shutdown(tmp_path: Path) -> None:
    bridged = serve_bridged(tmp_path)
    bridged.server.stop()  # SIGTERM, as compose and `pressroom run` stop the counter
    assert (bridged.marks / "shut down").exists()
