"""Site pages, the site's own files and empty channels: what a new site shows before its
first article, and the rebuild's report of links that lead nowhere."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from services.render.site_files import dead_links, publish_site, rebuild_site
from services.render.site_pages import render_site_page
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
