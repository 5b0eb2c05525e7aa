"""The channel index reaches every archive page in one click, and a publish that adds no
page leaves that list of pages as it was."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Isolated
from tests.render.conftest import Newsroom, RenderFactory

ARTICLES = 30


@pytest.fixture
def one_per_page(
    isolated: Isolated,
    make_render: RenderFactory,
    site_toml: Callable[[dict[str, str]], Path],
) -> Newsroom:
    """A newsroom whose lists hold one article a page: a long archive from few articles."""
    config = site_toml({"page_size = 20": "page_size = 1"})
    room = Newsroom(make_render(site_config=config, hot_refresh_seconds=0), isolated)
    room.ctx.schedule = lambda task, delay: None
    return room


def archive_links(index: str | None) -> list[int]:
    assert index is not None
    main = index.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    return [int(n) for n in re.findall(r'href="/news/list_(\d+)\.html"', main)]


def archive_pages_on_the_bucket(room: Newsroom) -> set[int]:
    keys = room.isolated.storage.site.keys("news/list_")
    return {int(m[1]) for key in keys if (m := re.fullmatch(r"news/list_(\d+)\.html", key))}


def test_the_index_links_every_archive_page_newest_first(one_per_page: Newsroom) -> None:
    for n in range(1, ARTICLES + 1):
        one_per_page.publish(n)
    one_per_page.flush()

    links = archive_links(one_per_page.page("news/index.html"))
    on_bucket = archive_pages_on_the_bucket(one_per_page)
    assert len(on_bucket) == ARTICLES - 1  # the index shows the newest article itself
    assert links == sorted(on_bucket, reverse=True)  # each page once, the newest first
    for page in (1, ARTICLES // 2, ARTICLES - 1):  # each link leads to that page's article
        assert f"稿件 {page}<" in (one_per_page.page(f"news/list_{page}.html") or "")


def test_the_page_list_changes_only_when_a_page_joins_the_archive(
    small_pages: Newsroom,
) -> None:
    for n in range(1, 16):  # pages 1 and 2 archived; the index shows 稿件 11-15
        small_pages.publish(n)
    small_pages.flush()
    before = small_pages.page("news/index.html")

    small_pages.publish(16)  # the index grows to 6 items: no new archive page
    written = small_pages.flush()
    after = small_pages.page("news/index.html")
    assert written["news/index.html"] is True
    assert "news/list_3.html" not in written
    assert archive_links(after) == archive_links(before) == [2, 1]

    for n in range(17, 21):  # 稿件 20 fills page 4: page 3 leaves the index
        small_pages.publish(n)
    small_pages.flush()
    assert archive_links(small_pages.page("news/index.html")) == [3, 2, 1]
