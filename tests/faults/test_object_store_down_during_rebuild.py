"""SeaweedFS SIGKILLed in the middle of `pressroom rebuild`, then started again: the rebuild
says which pages it could not write and exits 1 without a traceback, soon rather than after
every page has retried on its own; the next run resumes where the first stopped and leaves
every article page in the bucket."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from services.stack.run import Stack
from shared.keys import Keys
from shared.models import Article, article_key
from shared.settings import CommonSettings
from shared.site import load_site
from shared.storage import Storage
from tests.faults.conftest import wait_for
from tests.faults.figures import record
from tests.render.test_rebuild import summary
from tests.stack import harness

ARTICLES = 1_000
KILL_AFTER = 250  # articles recorded as done: the first batch
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def infra(tmp_path: Path) -> Iterator[Stack]:
    """Valkey and SeaweedFS of the test's own: killing the store harms no other test."""
    stack = Stack(tmp_path)
    harness.start_on_free_ports(stack)
    try:
        yield stack
    finally:
        stack.stop()


def environment(stack: Stack) -> dict[str, str]:
    return {
        "PRESSROOM_ENVIRONMENT": "test",
        "PRESSROOM_REDIS_URL": stack.urls["redis_url"],
        "PRESSROOM_S3_ENDPOINT_URL": stack.urls["s3_url"],
        "PRESSROOM_KEY_PREFIX": "rebuild-fault:",
        "PRESSROOM_SITE_BUCKET": "fault-site",
        "PRESSROOM_DATA_BUCKET": "fault-data",
        "PRESSROOM_REBUILD_PROCESSES": "1",
        "PRESSROOM_REBUILD_THREADS": "8",  # slow enough for the kill to land mid-run
        "PRESSROOM_HOT_REFRESH_SECONDS": "0",
        "PRESSROOM_LOG_JSON": "false",
        "COLUMNS": "120",
    }


def pressroom(env: dict[str, str], *argv: str) -> tuple[int, str]:
    """The command as an operator runs it: a process of its own, configured by env alone."""
    result = subprocess.run(
        [sys.executable, "-m", "services", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def archive(storage: Storage) -> list[Article]:
    articles = [
        Article(
            id=f"{n:020x}",
            feed="fault",
            external_id=f"fault-{n}",
            version=1,
            title=f"第{n}号稿件",
            body_html="<p>总台记者今天从教育部获悉。</p>",
            source="央视新闻",
            channel=("news", "reviews", "notices")[n % 3],
            published_at=START + timedelta(minutes=n),
            received_at=START + timedelta(minutes=n),
        )
        for n in range(1, ARTICLES + 1)
    ]
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda a: storage.data.put_json(article_key(a.id), a.model_dump(mode="json")),
                articles,
            )
        )
    return articles


def test_a_rebuild_cut_short_by_the_store_resumes_and_completes(infra: Stack) -> None:
    env = environment(infra)
    settings = CommonSettings(
        environment="test",
        s3_endpoint_url=env["PRESSROOM_S3_ENDPOINT_URL"],
        site_bucket=env["PRESSROOM_SITE_BUCKET"],
        data_bucket=env["PRESSROOM_DATA_BUCKET"],
    )
    storage = Storage.from_settings(settings)
    storage.ensure_buckets()
    articles = archive(storage)
    assert pressroom(env, "init")[0] == 0  # the site pages its nav and footer link to
    assert pressroom(env, "reindex")[0] == 0
    db = redis.Redis.from_url(env["PRESSROOM_REDIS_URL"])
    done = Keys(env["PRESSROOM_KEY_PREFIX"]).rebuild_done("all")
    killed: list[float] = []

    def kill_the_store_mid_run() -> None:
        wait_for(lambda: db.scard(done) >= KILL_AFTER, "first batch recorded", 60)
        infra.infra["s3"].kill()  # SIGKILL: no graceful end to the requests in flight
        killed.append(time.monotonic())

    killer = threading.Thread(target=kill_the_store_mid_run, daemon=True)
    killer.start()
    first_code, first = pressroom(env, "rebuild")
    ended = time.monotonic()
    killer.join(5)
    done_when_killed = db.scard(done)

    assert killed, "the store was not killed during the rebuild"
    assert first_code == 1, first
    assert "Traceback" not in first
    assert "run rebuild again to retry" in first
    cut = summary(first)
    assert cut["failed"] > 0
    assert KILL_AFTER <= cut["pages written"] < ARTICLES

    harness.restart_infra(infra, "s3")
    second_code, second = pressroom(env, "rebuild")

    assert second_code == 0, second
    assert summary(second)["failed"] == 0
    resumed = re.search(r"resumed after\s*│\s*(\d+) articles already done", second)
    assert resumed, second
    assert int(resumed.group(1)) == done_when_killed
    site = load_site(settings.site_config)
    pages = set(storage.site.keys(""))
    missing = [
        a.id for a in articles if site.article_path(a.id, a.channel, a.published_at) not in pages
    ]
    assert missing == [], f"{len(missing)} article pages missing"
    record(
        "store SIGKILLed mid-rebuild",
        articles=ARTICLES,
        written_before_kill=cut["pages written"],
        failed_first_run=cut["failed"],
        first_run_ended_s=round(ended - killed[0], 1),
        resumed_after=done_when_killed,
    )
