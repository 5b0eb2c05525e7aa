"""Site pages, the site's own files and empty channels: what a new site shows before its
first article, and the rebuild's report of links that lead nowhere."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from services.render.site_files import dead_links, publish_site, rebuild_site
from services.render.site_pages import missing_list_pages, published_slugs, render_site_page
from shared.site_pages import SitePage, page_key
from tests.render.conftest import Newsroom


def store_page(room: Newsroom, slug: str, title: str, body: str = "<p>正文</p>") -> None:
    page = SitePage(
        slug=slug, title=title, body_html=body, feed="desk", updated_at=datetime.now(UTC)
    )
    room.isolated.storage.data.put(
        page_key(slug), orjson.dumps(page.model_dump(mode="json")), content_type="application/json"
    )


def test_a_site_page_is_published_in_the_theme_and_the_sitemap_then_removed(
    newsroom: Newsroom,
) -> None:
    store_page(newsroom, "about", "关于我们", "<p>本站简介</p>")

    assert render_site_page(newsroom.ctx, "about") == "published"
    newsroom.flush()

    page = newsroom.page("about.html") or ""
    assert "<h1>关于我们</h1>" in page
    assert "<p>本站简介</p>" in page
    assert newsroom.ctx.site.name in page  # the site's header and footer around it
    about = newsroom.ctx.theme.absolute("about.html")
    assert f"<loc>{about}</loc>" in (newsroom.page("sitemap.xml") or "")

    newsroom.isolated.storage.data.delete(page_key("about"))
    assert render_site_page(newsroom.ctx, "about") == "removed"
    newsroom.flush()

    assert newsroom.page("about.html") is None
    assert about not in (newsroom.page("sitemap.xml") or "")


def test_a_page_changed_again_is_published_as_last_stored(newsroom: Newsroom) -> None:
    store_page(newsroom, "ads", "广告报价", "<p>旧价</p>")
    render_site_page(newsroom.ctx, "ads")
    store_page(newsroom, "ads", "广告报价", "<p>新价</p>")

    render_site_page(newsroom.ctx, "ads")

    assert "新价" in (newsroom.page("ads.html") or "")
    assert "旧价" not in (newsroom.page("ads.html") or "")


def test_a_new_site_has_every_list_page_robots_404_and_icons(newsroom: Newsroom) -> None:
    publish_site(newsroom.ctx)

    assert missing_list_pages(newsroom.ctx) == set()  # a flush finds nothing more to add

    for channel in newsroom.ctx.site.channels:
        listing = newsroom.page(f"{channel.slug}/index.html")
        assert listing is not None, channel.slug
        assert "暂无文章" in listing
        assert newsroom.page(f"{channel.slug}/feed.xml") is not None
    assert newsroom.page("index.html") is not None
    robots = newsroom.page("robots.txt") or ""
    assert f"Sitemap: {newsroom.ctx.theme.absolute('sitemap.xml')}" in robots
    not_found = newsroom.page("404.html") or ""
    assert "页面不存在" in not_found
    assert '<a href="/">' in not_found
    assert all(link.title in not_found for link in newsroom.ctx.site.nav)
    for icon in ("favicon.ico", "apple-touch-icon.png"):
        assert newsroom.isolated.storage.site.get(icon) == newsroom.ctx.theme.static[icon][1]


def test_every_page_links_its_icons_and_they_exist(newsroom: Newsroom) -> None:
    publish_site(newsroom.ctx)
    newsroom.ctx.theme.publish_assets(newsroom.isolated.storage.site, "no-cache")
    home = newsroom.page("index.html") or ""

    for name in ("favicon.ico", "icon.svg", "apple-touch-icon.png"):
        url = newsroom.ctx.theme.asset_url(name)
        assert f'href="{url}"' in home
        assert newsroom.isolated.storage.site.get(url.lstrip("/")) is not None


def test_the_rebuild_names_each_page_the_site_links_to_that_does_not_exist(
    newsroom: Newsroom,
) -> None:
    publish_site(newsroom.ctx)
    assert {str(link.url) for link in dead_links(newsroom.ctx)} >= {
        "/about.html",
        "/disclaimer.html",
        "/ads.html",
    }

    for slug, title in (("about", "关于我们"), ("disclaimer", "免责声明"), ("ads", "广告报价")):
        store_page(newsroom, slug, title)
    newsroom.isolated.storage.site.put("query.html", b"<!doctype html>", content_type="text/html")
    newsroom.ctx.theme.publish_assets(newsroom.isolated.storage.site, "no-cache")
    rebuild_site(newsroom.ctx)

    assert dead_links(newsroom.ctx) == []
    newsroom.isolated.storage.data.delete(page_key("ads"))
    rebuild_site(newsroom.ctx)
    dead = dead_links(newsroom.ctx)
    assert [link.url for link in dead] == ["/ads.html"]
    assert "PUT /v1/pages/ads" in str(dead[0])


class SitePagesInAnyOrder(RuleBasedStateMachine):
    """Puts, deletes, renders and flushes of a few pages in any order: once a page's last
    change is rendered, the site shows exactly what the data bucket holds, and the sitemap
    lists exactly the pages shown."""

    room: Newsroom

    def __init__(self) -> None:
        super().__init__()
        tag = uuid.uuid4().hex[:8]
        self.slugs = [f"{name}-{tag}" for name in ("about", "ads", "contact")]
        self.stored: dict[str, str] = {}  # slug -> the text of its last version
        self.unrendered: set[str] = set()

    @rule(n=st.integers(0, 2), text=st.sampled_from(["甲版", "乙版", "丙版"]))
    def put(self, n: int, text: str) -> None:
        store_page(self.room, self.slugs[n], f"页面{n}", f"<p>{text}</p>")
        self.stored[self.slugs[n]] = text
        self.unrendered.add(self.slugs[n])

    @rule(n=st.integers(0, 2))
    def delete(self, n: int) -> None:
        self.room.isolated.storage.data.delete(page_key(self.slugs[n]))
        self.stored.pop(self.slugs[n], None)
        self.unrendered.add(self.slugs[n])

    @rule(n=st.integers(0, 2))
    def render(self, n: int) -> None:
        render_site_page(self.room.ctx, self.slugs[n])
        self.unrendered.discard(self.slugs[n])

    @rule()
    def flush(self) -> None:
        self.room.flush()
        sitemap = self.room.page("sitemap.xml") or ""
        for slug in set(self.slugs) - self.unrendered:
            assert (f"/{slug}.html</loc>" in sitemap) == (slug in self.stored), slug

    @invariant()
    def the_site_shows_what_is_stored(self) -> None:
        published = published_slugs(self.room.ctx)
        for slug in set(self.slugs) - self.unrendered:
            page = self.room.page(f"{slug}.html")
            assert (page is not None) == (slug in self.stored), slug
            assert (slug in published) == (slug in self.stored), slug
            if page is not None:
                assert f"<p>{self.stored[slug]}</p>" in page


def test_site_pages_changed_in_any_order_end_as_last_stored(newsroom: Newsroom) -> None:
    SitePagesInAnyOrder.room = newsroom
    run_state_machine_as_test(
        SitePagesInAnyOrder,
        settings=settings(
            max_examples=8,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_the_apple_touch_icon_is_180_pixels_square(newsroom: Newsroom) -> None:
    png = newsroom.ctx.theme.static["apple-touch-icon.png"][1]

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (180, 180)
