"""The render pipeline's promises: headers, the outbox, the flush lock, gone articles."""

from __future__ import annotations

from services.render.coalesce import refresh_hot_list
from services.render.service import publish_article
from shared.models import pending_key
from tests.render.conftest import Newsroom
from tests.shared.reader import boto3_client


def test_pages_carry_short_cache_headers_and_assets_long_ones(newsroom: Newsroom) -> None:
    story = newsroom.publish(1)
    newsroom.flush()
    ctx = newsroom.ctx
    ctx.theme.publish_assets(ctx.storage.site, ctx.settings.asset_cache_control)
    s3, bucket = boto3_client(ctx.settings), ctx.storage.site.name

    page = s3.head_object(Bucket=bucket, Key=newsroom.url(story))
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert page["CacheControl"] == "public, max-age=60"
    feed = s3.head_object(Bucket=bucket, Key="feed.xml")
    assert feed["ContentType"] == "application/rss+xml; charset=utf-8"
    css_key = ctx.theme.asset_url("site.css").lstrip("/")
    assert css_key.startswith("static/site.")
    assert css_key != "static/site.css"
    css = s3.head_object(Bucket=bucket, Key=css_key)
    assert css["CacheControl"] == "public, max-age=31536000, immutable"
    assert css["ContentType"] == "text/css; charset=utf-8"


def test_the_flush_clears_the_outbox_but_keeps_a_newer_version_waiting(
    newsroom: Newsroom,
) -> None:
    data, db, keys = newsroom.isolated.storage.data, newsroom.ctx.redis, newsroom.ctx.keys
    done, waiting = newsroom.file(1), newsroom.file(2)
    for story in (done, waiting):
        data.put_json(pending_key(story.id), {"id": story.id, "version": 1})
    newsroom.publish(1)
    newsroom.publish(2)
    db.hset(keys.article(waiting.id), "version", 2)  # ingest accepted v2 meanwhile

    newsroom.flush()

    assert data.get(pending_key(done.id)) is None
    assert data.get(pending_key(waiting.id)) is not None


def test_a_flush_that_finds_another_running_waits_its_turn(newsroom: Newsroom) -> None:
    newsroom.publish(1)
    newsroom.ctx.redis.set(newsroom.ctx.keys.flush_lock, "someone-else")

    assert newsroom.flush() == {}
    assert newsroom.scheduled[-1][0] == "render.flush"
    assert newsroom.page("news/index.html") is None

    newsroom.ctx.redis.delete(newsroom.ctx.keys.flush_lock)
    assert newsroom.flush()["news/index.html"] is True


def test_a_task_for_an_article_that_is_gone_logs_and_returns(newsroom: Newsroom) -> None:
    assert publish_article(newsroom.ctx, "0" * 20, 3) == "missing"
    assert newsroom.scheduled == []


def test_the_hot_list_refresh_brings_the_counters_ranking_to_home_and_sidebar(
    newsroom: Newsroom,
) -> None:
    quiet, popular = newsroom.publish(1), newsroom.publish(2)
    newsroom.flush()
    assert "稿件 2" not in (newsroom.page("fragments/sidebar.html") or "").split("点击排行")[1]

    ranking = newsroom.ctx.keys.top(newsroom.ctx.settings.hot_window)
    newsroom.ctx.redis.zadd(ranking, {popular.id: 50, quiet.id: 3})  # as the counter does
    refresh_hot_list(newsroom.ctx)
    newsroom.flush()

    for key in ("fragments/sidebar.html", "index.html"):
        hot = (newsroom.page(key) or "").split("点击排行", 1)[1]
        assert hot.index("稿件 2") < hot.index("稿件 1"), key
