"""No dead link: a crawler walks every page reachable from home, the feeds and the sitemap of
a running site (articles in every channel but an empty one, the seeded site pages and one
put through the edge) and fails naming every internal link that does not answer 200. The
edge answers a missing page with the site's own 404 page, status 404.

The site runs on a stack of its own: the session stack's channels all get articles from
other tests, and this one needs a channel that stays empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.stack.run import Stack
from tests.conftest import FRESH_PAGES
from tests.stack import harness
from tests.stack.crawler import crawl

EMPTY = ("special", "专题")
STARTS = ("/", "/feed.xml", "/atom.xml", "/sitemap.xml", "/robots.txt", "/favicon.ico")
STORIES = [  # (channel, title, headline)
    ("news", "新闻一", True),
    ("news", "新闻二", False),
    ("notices", "公告一", False),
    ("reviews", "评论一", False),
]


def poll(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:g} s: {what}")


def answers_200(client: httpx.Client, path: str) -> bool:
    return client.get(path).status_code == 200


def site_config(tmp: Path) -> Path:
    """The repo's site with one more channel, in the nav, that nobody publishes to."""
    text = (Path(__file__).resolve().parents[2] / "config" / "site.toml").read_text()
    slug, name = EMPTY
    nav = '  { title = "文艺评论", url = "/reviews/" },\n'
    assert nav in text
    text = text.replace(nav, nav + f'  {{ title = "{name}", url = "/{slug}/" }},\n')
    assert "channels = [\n" in text
    text = text.replace(
        "channels = [\n", f'channels = [\n  {{ slug = "{slug}", name = "{name}" }},\n'
    )
    (tmp / "site.toml").write_text(text)
    (tmp / "pages.toml").write_text(
        (Path(__file__).resolve().parents[2] / "config" / "pages.toml").read_text()
    )
    return tmp / "site.toml"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("crawl")
    env = {**FRESH_PAGES, "PRESSROOM_SITE_CONFIG": str(site_config(home))}
    stack = Stack(home / "stack", prefix="crawl:", extra_env=env)
    try:
        harness.start_on_free_ports(stack)
        stack.extra_env["PRESSROOM_FEED_KEY"] = stack.start_apps()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def edge(portal: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=portal.urls["site_url"], timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def feed(portal: Stack) -> Iterator[httpx.Client]:
    """The ingest API through the edge, as a feed reaches it."""
    key = portal.extra_env["PRESSROOM_FEED_KEY"]
    with httpx.Client(
        base_url=portal.urls["edge_ingest_url"],
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def published(feed: httpx.Client, edge: httpx.Client) -> list[str]:
    """The stories and a site page of the operator's, published; their paths."""
    paths = []
    for n, (channel, title, headline) in enumerate(STORIES):
        story = {
            "external_id": f"crawl-{n}",
            "title": title,
            "body_html": f"<p>{title}的正文。</p>",
            "channel": channel,
            "headline": headline,
            "published_at": f"2024-05-0{n + 1}T08:00:00+08:00",
        }
        answer = feed.post("/v1/articles", json=story)
        assert answer.status_code == 202, answer.text
        paths.append(httpx.URL(answer.json()["url"]).path)
    page = feed.put("/v1/pages/contact-us", json={"title": "联系我们", "body_html": "<p>电话</p>"})
    assert page.status_code == 202, page.text
    paths.append("/contact-us.html")
    for path in paths:
        poll(partial(answers_200, edge, path), f"{path} published")
    # the sitemap is the last page a flush writes: once it lists everything, the site is whole
    poll(lambda: all(p in edge.get("/sitemap.xml").text for p in paths), "the sitemap complete")
    return paths


def test_every_link_reachable_from_home_feeds_and_sitemap_answers_200(
    portal: Stack, edge: httpx.Client, published: list[str]
) -> None:
    origin = portal.urls["site_url"].rstrip("/")

    walked = crawl(edge, origin, STARTS)

    assert walked.broken == {}, "dead links:\n" + walked.report()
    reached = set(walked.pages())
    for path in [*published, "/about.html", "/disclaimer.html", "/ads.html", "/query.html"]:
        assert origin + path in reached, path
    for channel in ("news", "notices", "reviews", EMPTY[0]):
        assert f"{origin}/{channel}/" in reached, channel
    assert "暂无文章" in edge.get(f"/{EMPTY[0]}/").text


def test_a_missing_page_is_the_sites_404_page_with_status_404(
    edge: httpx.Client, published: list[str]
) -> None:
    for path in ("/no-such-page.html", "/news/209901/0123456789abcdef0123.html", "/nowhere/"):
        answer = edge.get(path)

        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html"), path
        assert "页面不存在" in answer.text
        assert '<a href="/">' in answer.text  # a way home
        assert "中国通俗文艺研究会" in answer.text  # the site's header
    assert edge.head("/no-such-page.html").status_code == 404


def test_a_deleted_site_page_leaves_the_site_and_the_sitemap(
    feed: httpx.Client, edge: httpx.Client, published: list[str]
) -> None:
    put = feed.put("/v1/pages/leaving", json={"title": "临时页面", "body_html": "<p>暂时</p>"})
    assert put.status_code == 202
    poll(lambda: edge.get("/leaving.html").status_code == 200, "the page published")

    assert feed.delete("/v1/pages/leaving").status_code == 202

    poll(lambda: edge.get("/leaving.html").status_code == 404, "the page removed")
    poll(lambda: "/leaving.html" not in edge.get("/sitemap.xml").text, "the sitemap without it")
    assert "页面不存在" in edge.get("/leaving.html").text
