"""The walking skeleton, as a user meets it: POST an article, see the page, watch it count."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import redis

from services.stack.run import Stack
from shared.keys import Keys
from tests.conftest import sample


def wait_for_page(site: httpx.Client, path: str, timeout: float = 10.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        page = site.get(path)
        if page.status_code == 200 or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


def page_path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def published_sample(
    ingest: httpx.Client, site: httpx.Client, tag: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Publish the sample under a new external_id: the article sent and ingest's answer,
    once its page is up."""
    article = json.loads(sample()) | {"external_id": f"e2e-{tag}-{time.time_ns()}"}
    accepted: dict[str, Any] = ingest.post("/v1/articles", json=article).json()
    assert wait_for_page(site, page_path(accepted["url"])).status_code == 200
    return article, accepted


def test_posted_article_is_live_through_the_edge(ingest: httpx.Client, site: httpx.Client) -> None:
    article = json.loads(sample())
    article["external_id"] = f"e2e-{time.time_ns()}"
    answer = ingest.post("/v1/articles", json=article)
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["status"] == "queued"
    assert len(accepted["id"]) == 20

    page = wait_for_page(site, page_path(accepted["url"]))

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert article["title"] in page.text
    status = ingest.get(f"/v1/articles/{accepted['id']}").json()
    assert status["status"] == "published"
    assert status["rendered_version"] == 1


def test_click_count_goes_up_by_one_per_hit_through_the_edge(
    ingest: httpx.Client, site: httpx.Client
) -> None:
    _, accepted = published_sample(ingest, site, "count")

    first = site.post(f"/api/counter/v1/hits/{accepted['id']}")
    second = site.post(f"/api/counter/v1/hits/{accepted['id']}")

    assert first.status_code == 200
    assert second.json() == {"id": accepted["id"], "count": first.json()["count"] + 1}


def test_unknown_article_is_not_counted_and_creates_no_key(live: Stack, site: httpx.Client) -> None:
    db = redis.Redis.from_url(live.urls["redis_url"])
    article_keys = f"{live.prefix}a:*"
    before = sum(1 for _ in db.scan_iter(article_keys))

    fake_ids = [f"{n:020x}" for n in range(50)]
    answers = [site.post(f"/api/counter/v1/hits/{fake}") for fake in fake_ids]

    assert {a.status_code for a in answers} == {404}
    assert answers[0].headers["content-type"] == "application/problem+json"
    assert sum(1 for _ in db.scan_iter(article_keys)) == before
    keys = Keys(live.prefix)
    assert not any(db.exists(keys.hits(fake), keys.article(fake)) for fake in fake_ids)


def test_run_file_names_a_working_stack(live: Stack) -> None:
    run_file = json.loads(live.write_run_file("k").read_text())
    assert set(run_file) >= {"site_url", "ingest_url", "counter_url", "feed", "key"}
    assert httpx.get(run_file["ingest_url"] + "/readyz").json()["status"] == "ok"
    assert httpx.get(run_file["counter_url"] + "/readyz").json()["status"] == "ok"


def test_a_replay_of_a_published_article_says_published(
    ingest: httpx.Client, site: httpx.Client
) -> None:
    article, _ = published_sample(ingest, site, "replay")

    replay = ingest.post("/v1/articles", json=article)

    assert replay.status_code == 200
    assert replay.json()["changed"] is False
    assert replay.json()["status"] == "published"
