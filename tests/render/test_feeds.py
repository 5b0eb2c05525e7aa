"""Feeds parse cleanly in feedparser with every required element; the sitemap validates
against the sitemaps.org schema, as one file or as an index over numbered files."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest
from lxml import etree

from tests.render.conftest import Newsroom

DATA = Path(__file__).parent / "data"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / name)))


def valid(document: str | None, xsd: str) -> etree._Element:
    assert document is not None
    root = etree.fromstring(document.encode())
    checker = schema(xsd)
    assert checker.validate(root), checker.error_log
    return root


@pytest.fixture
def desk(newsroom: Newsroom) -> Newsroom:
    for n in range(1, 4):
        newsroom.publish(n, headline=n == 2)
    newsroom.publish(4, channel="notices", summary="", author="秘书处")
    newsroom.flush()
    return newsroom


@pytest.mark.parametrize(("key", "count"), [("feed.xml", 4), ("news/feed.xml", 3)])
def test_rss_feeds_have_every_required_element(desk: Newsroom, key: str, count: int) -> None:
    feed = feedparser.parse(desk.page(key))

    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "rss20"
    assert all(feed.feed.get(f) for f in ("title", "link", "description"))
    assert len(feed.entries) == count
    for entry in feed.entries:
        assert all(entry.get(f) for f in ("title", "link", "id", "published_parsed"))
        assert entry.link.startswith("http://127.0.0.1:8000/")
        assert entry.summary
    assert feed.entries[0].title == ("稿件 4" if key == "feed.xml" else "稿件 3")


@pytest.mark.parametrize(("key", "count"), [("atom.xml", 4), ("notices/atom.xml", 1)])
def test_atom_feeds_have_every_required_element(desk: Newsroom, key: str, count: int) -> None:
    feed = feedparser.parse(desk.page(key))

    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert all(feed.feed.get(f) for f in ("id", "title", "updated_parsed"))
    assert feed.feed.author  # required when entries carry none
    assert len(feed.entries) == count
    for entry in feed.entries:
        assert all(entry.get(f) for f in ("id", "title", "updated_parsed", "link"))
    assert feed.entries[0].title == "稿件 4"


def test_a_channel_without_articles_still_has_valid_feeds(desk: Newsroom) -> None:
    desk.ctx.redis.sadd(desk.ctx.keys.dirty, "feeds:reviews")
    desk.flush()
    for key in ("reviews/feed.xml", "reviews/atom.xml"):
        feed = feedparser.parse(desk.page(key))
        assert not feed.bozo, key
        assert feed.entries == []


def test_small_site_has_one_valid_sitemap_with_every_page(desk: Newsroom) -> None:
    root = valid(desk.page("sitemap.xml"), "sitemap.xsd")

    locs = root.xpath("//sm:loc/text()", namespaces=NS)
    assert "http://127.0.0.1:8000/" in locs
    assert "http://127.0.0.1:8000/news/" in locs
    assert len(locs) == 4 + 1 + len(desk.ctx.site.channels)


def test_large_site_gets_a_valid_sitemap_index_whose_full_files_never_change(
    small_pages: Newsroom,
) -> None:
    for n in range(1, 26):  # 10 URLs per file: articles-1, -2 full, -3 partial
        small_pages.publish(n)
    small_pages.flush()

    index = valid(small_pages.page("sitemap.xml"), "siteindex.xsd")
    files = index.xpath("//sm:loc/text()", namespaces=NS)
    assert [f.rsplit("/", 1)[1] for f in files] == [
        "pages.xml",
        "articles-1.xml",
        "articles-2.xml",
        "articles-3.xml",
    ]
    urls = 0
    for name in ("pages", "articles-1", "articles-2", "articles-3"):
        chunk = valid(small_pages.page(f"sitemaps/{name}.xml"), "sitemap.xsd")
        urls += len(chunk.xpath("//sm:url", namespaces=NS))
    assert urls == 25 + 1 + len(small_pages.ctx.site.channels)

    small_pages.publish(26)
    written = small_pages.flush()

    assert written["sitemaps/articles-3.xml"] is True
    assert "sitemaps/articles-1.xml" not in written
    assert written.get("sitemaps/articles-2.xml") is not True
