"""`pressroom rebuild` and `pressroom reindex`, run as an operator runs them."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from services.cli import cli
from shared.models import article_key
from tests.render.conftest import Newsroom

# In one process, and shared out to two processes four articles at a time (the 12 articles
# of `archive` then take three shares, as a large archive does).
POOLS: dict[str, dict[str, str]] = {
    "one process": {},
    "two processes": {"PRESSROOM_REBUILD_PROCESSES": "2", "PRESSROOM_REBUILD_SHARE": "4"},
}


def run(newsroom: Newsroom, *argv: str, pool: str = "one process") -> tuple[int, str]:
    settings = newsroom.ctx.settings
    env = {
        "PRESSROOM_REBUILD_PROCESSES": "1",
        **POOLS[pool],
        "PRESSROOM_ENVIRONMENT": "test",
        "PRESSROOM_REDIS_URL": settings.redis_url,
        "PRESSROOM_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "PRESSROOM_KEY_PREFIX": settings.key_prefix,
        "PRESSROOM_SITE_BUCKET": settings.site_bucket,
        "PRESSROOM_DATA_BUCKET": settings.data_bucket,
        "PRESSROOM_SITE_CONFIG": str(settings.site_config),
        "PRESSROOM_HOT_REFRESH_SECONDS": "0",
        "PRESSROOM_LOG_JSON": "false",
        "COLUMNS": "120",
    }
    result = CliRunner().invoke(cli, list(argv), env=env)
    return result.exit_code, result.output


def summary(output: str) -> dict[str, int]:
    found = dict(re.findall(r"(pages written|unchanged|failed)\s*│\s*(\d+)", output))
    return {k: int(v) for k, v in found.items()}


@pytest.fixture
def archive(newsroom: Newsroom) -> Newsroom:
    for n in range(1, 13):
        newsroom.publish(n, channel="news" if n % 2 else "reviews")
    newsroom.flush()
    assert run(newsroom, "init")[0] == 0  # the site pages its nav and footer link to
    return newsroom


@pytest.mark.parametrize("pool", POOLS)
def test_rebuild_restores_lost_pages_then_finds_nothing_to_do(archive: Newsroom, pool: str) -> None:
    lost = archive.url(archive.file(3))
    archive.isolated.storage.site.delete(lost)
    archive.isolated.storage.site.delete("news/index.html")

    code, output = run(archive, "rebuild", "--force", pool=pool)
    assert code == 0, output
    assert summary(output)["failed"] == 0
    assert summary(output)["pages written"] >= 2
    assert "稿件 3" in (archive.page(lost) or "")
    assert "稿件 11" in (archive.page("news/index.html") or "")

    code, output = run(archive, "rebuild", pool=pool)
    assert code == 0, output
    assert summary(output)["pages written"] == 0
    assert summary(output)["unchanged"] >= 12


@pytest.mark.parametrize("pool", POOLS)
def test_rebuild_reports_a_bad_document_and_resumes_after_it_is_fixed(
    archive: Newsroom, pool: str
) -> None:
    data = archive.isolated.storage.data
    good = data.get(article_key(f"{5:020x}"))
    assert good is not None
    data.put(article_key(f"{5:020x}"), b"{not json", content_type="application/json")

    code, output = run(archive, "rebuild", "--force", pool=pool)
    assert code == 1
    assert summary(output)["failed"] == 1
    assert "00000000000000000005" in output

    data.put(article_key(f"{5:020x}"), good, content_type="application/json")
    code, output = run(archive, "rebuild", pool=pool)
    assert code == 0, output
    assert "resumed after" in output
    assert summary(output)["failed"] == 0


def test_rebuild_of_one_channel_leaves_the_others_alone(archive: Newsroom) -> None:
    archive.ctx.redis.delete(archive.ctx.keys.page_inputs)
    before = archive.renders()

    code, output = run(archive, "rebuild", "--channel", "reviews")

    assert code == 0, output
    after = archive.renders()
    assert after["article"] - before["article"] == 6  # the six reviews
    code, output = run(archive, "rebuild", "--channel", "nope")
    assert code != 0
    assert "unknown channel" in output


def test_reindex_rebuilds_lost_indexes_from_the_data_bucket(archive: Newsroom) -> None:
    keys, db = archive.ctx.keys, archive.ctx.redis
    wanted = {k: db.zrange(k, 0, -1) for k in (keys.channel("news"), keys.published)}
    archive.unpublish(archive.file(1))
    for key in db.scan_iter(f"{keys.prefix}*"):
        db.delete(key)

    code, output = run(archive, "reindex")

    assert code == 0, output
    assert "11 published, 1 unpublished" in output
    assert db.zrange(keys.channel("news"), 0, -1) == wanted[keys.channel("news")][1:]
    assert db.zrange(keys.published, 0, -1) == wanted[keys.published][1:]
    assert db.hget(keys.article(f"{2:020x}"), "title") == "稿件 2"
    assert db.hget(keys.article(f"{1:020x}"), "status") == "unpublished"
