"""Channel lists, archive pages and previous/next links: numbered from the oldest, so a new
article touches the index, the newest archive page and its neighbour, never the whole channel."""

from __future__ import annotations

import re

from tests.render.conftest import Newsroom


def titles(page: str | None) -> list[str]:
    assert page is not None
    main = page.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    return re.findall(r'<a href="/news/\d{6}/[0-9a-f]{20}\.html">([^<]+)</a>', main)


def test_index_shows_the_newest_and_archive_pages_count_from_the_oldest(
    small_pages: Newsroom,
) -> None:
    for n in range(1, 13):
        small_pages.publish(n)
    small_pages.flush()

    # the index is the newest page: what no full archive page holds, newest first
    assert titles(small_pages.page("news/index.html")) == [f"稿件 {n}" for n in range(12, 5, -1)]
    assert titles(small_pages.page("news/list_1.html")) == [f"稿件 {n}" for n in (5, 4, 3, 2, 1)]
    assert small_pages.page("news/list_2.html") is None
    index = small_pages.page("news/index.html") or ""
    assert 'href="/news/list_1.html"' in index


def test_no_archive_page_repeats_the_index_and_the_index_links_them_newest_first(
    small_pages: Newsroom,
) -> None:
    for n in range(1, 24):
        small_pages.publish(n)
    small_pages.flush()

    index = small_pages.page("news/index.html") or ""
    shown = set(titles(index))
    archived = [titles(small_pages.page(f"news/list_{k}.html")) for k in (1, 2, 3)]
    assert small_pages.page("news/list_4.html") is None
    assert all(shown.isdisjoint(page) for page in archived)
    assert sorted(shown.union(*archived)) == sorted(f"稿件 {n}" for n in range(1, 24))
    links = re.findall(r'href="/news/list_(\d+)\.html"', index.split("</main>")[0])
    assert links == ["3", "2", "1"]


def test_one_new_article_rewrites_only_the_index_and_the_newest_archive_pages(
    small_pages: Newsroom,
) -> None:
    for n in range(1, 20):  # three full archive pages behind the index's 稿件 16-19
        small_pages.publish(n)
    small_pages.flush()
    assert small_pages.page("news/list_3.html") is None
    full_pages = {k: small_pages.page(f"news/list_{k}.html") for k in (1, 2)}

    small_pages.publish(20)  # page 4 fills: page 3 leaves the index for the archive
    written = small_pages.flush()

    assert written["news/index.html"] is True
    assert written["news/list_3.html"] is True  # the new newest archive page
    assert written["news/list_2.html"] is True  # its "newer" link now points to list_3
    assert "news/list_1.html" not in written
    assert small_pages.page("news/list_1.html") == full_pages[1]
    assert 'href="/news/list_3.html" rel="prev"' in (small_pages.page("news/list_2.html") or "")
    assert titles(small_pages.page("news/index.html")) == [
        f"稿件 {n}" for n in (20, 19, 18, 17, 16)
    ]


def test_article_pages_link_to_their_neighbours_in_the_channel(newsroom: Newsroom) -> None:
    first, second = newsroom.publish(1), newsroom.publish(2)
    newsroom.publish(3, channel="reviews")  # another channel is not a neighbour
    newsroom.flush()
    before = newsroom.renders()["article"]

    third = newsroom.publish(4)
    newsroom.flush()

    middle = newsroom.page(newsroom.url(second)) or ""
    assert f'上一篇:<a href="/{newsroom.url(first)}" rel="prev">稿件 1</a>' in middle
    assert f'下一篇:<a href="/{newsroom.url(third)}" rel="next">稿件 4</a>' in middle
    assert "下一篇:" not in (newsroom.page(newsroom.url(third)) or "")
    # the new article and the one before it, nothing older
    assert newsroom.renders()["article"] - before == 2


def test_a_burst_shares_one_flush_and_each_list_renders_once(newsroom: Newsroom) -> None:
    for n in range(1, 41):
        newsroom.publish(n)

    assert [task for task, _ in newsroom.scheduled] == ["render.flush"]
    newsroom.flush()
    renders = newsroom.renders()
    assert renders["home"] == 1
    # news once, and once each the empty channels, whose list pages were never written
    assert renders["channel"] == len(newsroom.ctx.site.channels)
    assert renders["sidebar"] == 1
    assert renders["archive"] == 1  # page 1 of 20; page 2 is the index
    assert titles(newsroom.page("news/index.html"))[0] == "稿件 40"

    newsroom.publish(41)
    assert [task for task, _ in newsroom.scheduled] == ["render.flush", "render.flush"]


def test_unpublishing_removes_the_page_from_every_list(small_pages: Newsroom) -> None:
    articles = [small_pages.publish(n) for n in range(1, 13)]
    small_pages.flush()
    gone = articles[2]  # 稿件 3, on list_1
    assert "稿件 3" in titles(small_pages.page("news/list_1.html"))

    small_pages.unpublish(gone)
    small_pages.flush()

    assert small_pages.page(small_pages.url(gone)) is None
    assert titles(small_pages.page("news/list_1.html")) == [f"稿件 {n}" for n in (6, 5, 4, 2, 1)]
    assert "稿件 6" not in titles(small_pages.page("news/index.html"))
    for key in ("feed.xml", "atom.xml", "news/feed.xml", "news/atom.xml", "sitemap.xml"):
        assert gone.id not in (small_pages.page(key) or ""), key
    neighbour = small_pages.page(small_pages.url(articles[3])) or ""
    assert "上一篇:" in neighbour
    assert "稿件 3" not in neighbour
    assert "稿件 2" in neighbour


def test_the_index_takes_back_an_archive_page_when_articles_leave(small_pages: Newsroom) -> None:
    articles = [small_pages.publish(n) for n in range(1, 11)]
    small_pages.flush()
    assert small_pages.page("news/list_1.html") is not None

    small_pages.unpublish(articles[0])
    small_pages.flush()

    assert small_pages.page("news/list_1.html") is None
    assert titles(small_pages.page("news/index.html")) == [f"稿件 {n}" for n in range(10, 1, -1)]
    assert "list_1.html" not in (small_pages.page("news/index.html") or "")
