"""One article can fail only itself: whatever a stored document holds, every other article
keeps rendering, and the bad one is marked failed with its reason and left out of lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree
from prometheus_client import REGISTRY

from services.render.service import publish_article
from shared.models import Article
from tests.render.conftest import Newsroom

# Every page a publish makes dirty that lists articles (a new article is on the channel
# index, not yet on an archive page), and the feeds' XML among them.
LISTS = ("index.html", "news/index.html")
FEEDS = ("feed.xml", "atom.xml", "news/feed.xml", "news/atom.xml", "sitemap.xml")
EXTREME_DATES = [
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(9999, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))),
    datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(1, 1, 1, 3, 0, tzinfo=UTC),
]


def well_formed(room: Newsroom, key: str) -> etree._Element:
    body = room.page(key)
    assert body is not None, key
    return etree.fromstring(body.encode())


def shows(room: Newsroom, article: Article) -> dict[str, bool]:
    """Whether each list and feed links to the article."""
    return {key: room.url(article) in (room.page(key) or "") for key in LISTS + FEEDS}


def failures_counted(stage: str) -> float:
    value = REGISTRY.get_sample_value("pressroom_render_articles_failed_total", {"stage": stage})
    return value or 0.0


def status(room: Newsroom, article: Article) -> dict[str, str]:
    return room.ctx.redis.hgetall(room.ctx.keys.article(article.id))  # type: ignore[return-value]


@pytest.mark.parametrize("published_at", EXTREME_DATES, ids=str)
def test_a_date_at_the_ends_of_time_fails_only_its_article(
    newsroom: Newsroom, published_at: datetime
) -> None:
    before = newsroom.publish(1)
    newsroom.flush()
    poison = newsroom.file(2, title="万年以后", published_at=published_at)
    counted = failures_counted("article")

    assert publish_article(newsroom.ctx, poison.id, poison.version) == "failed"
    assert failures_counted("article") == counted + 1
    assert newsroom.renders()["failed"] == 1
    after = newsroom.publish(3)
    newsroom.flush()

    assert all(shows(newsroom, after).values()), shows(newsroom, after)
    assert all(shows(newsroom, before).values())
    assert not any(shows(newsroom, poison).values())
    state = status(newsroom, poison)
    assert state["status"] == "failed"
    assert "published_at" in state["error"]
    assert not state.get("rendered_version")


def test_an_indexed_article_that_cannot_be_shown_is_skipped_by_the_flush(
    newsroom: Newsroom,
) -> None:
    """What an older release let into the indexes: the flush skips it and marks it failed."""
    poison = newsroom.publish(1, title="旧版漏网")
    newsroom.ctx.redis.hset(
        newsroom.ctx.keys.article(poison.id), "published_at", "9999-12-31T23:59:59+00:00"
    )
    newsroom.ctx.redis.sadd(newsroom.ctx.keys.dirty, "home", "feeds:site", "channel:news")
    fine = newsroom.publish(2)
    newsroom.flush()
    newsroom.flush()  # the one the skip asked for: every list forgets the bad article

    assert all(shows(newsroom, fine).values()), shows(newsroom, fine)
    assert not any(shows(newsroom, poison).values()), shows(newsroom, poison)
    assert status(newsroom, poison)["status"] == "failed"
    assert "published_at" in status(newsroom, poison)["error"]


def test_a_neighbour_that_cannot_be_rendered_does_not_stop_the_flush(newsroom: Newsroom) -> None:
    """A flush re-renders the neighbours of what it publishes; a bad document among them
    is marked failed, and the rest of the flush goes on."""
    older = newsroom.publish(1)
    newsroom.flush()
    newsroom.file(1, published_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC), version=2)
    newsroom.ctx.redis.delete(newsroom.ctx.keys.document_cache(older.id))
    fine = newsroom.publish(2)
    newsroom.flush()

    assert all(shows(newsroom, fine).values()), shows(newsroom, fine)
    assert status(newsroom, older)["status"] == "failed"


@pytest.mark.parametrize("field", ["title", "summary"])
@pytest.mark.parametrize("bad", ["\x0b", "\x01", "\ufffe", "\x00"])
def test_control_characters_in_a_stored_document_never_break_a_feed(
    newsroom: Newsroom, field: str, bad: str
) -> None:
    article = newsroom.publish(1, **{field: f"前{bad}后"})
    newsroom.flush()

    for key in FEEDS:
        root = well_formed(newsroom, key)
        assert root is not None
    feed = well_formed(newsroom, "feed.xml")
    assert feed.findtext(f"channel/item/{'title' if field == 'title' else 'description'}") == (
        "前后"
    )
    assert newsroom.url(article) in (newsroom.page("news/index.html") or "")


def test_a_document_that_is_not_an_article_is_marked_failed(newsroom: Newsroom) -> None:
    newsroom.isolated.storage.data.put(
        "articles/00000000000000000009.json", b'{"id": "x"}', content_type="application/json"
    )

    assert publish_article(newsroom.ctx, "00000000000000000009", 1) == "failed"
    state = newsroom.ctx.redis.hgetall(newsroom.ctx.keys.article("00000000000000000009"))
    assert state["status"] == "failed"
    assert state["error"]


def test_a_good_version_after_a_failed_one_publishes_again(newsroom: Newsroom) -> None:
    poison = newsroom.file(1, published_at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
    assert publish_article(newsroom.ctx, poison.id, 1) == "failed"

    fixed = newsroom.publish(1, version=2)
    newsroom.flush()

    assert status(newsroom, fixed)["status"] == "published"
    assert status(newsroom, fixed)["error"] == ""
    assert all(shows(newsroom, fixed).values())
