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
from playwright.sync_api import Browser, ConsoleMessage, Request, Response
from typer.testing import CliRunner, Result

from services.cli import cli
from services.stack.run import Stack
from tests.conftest import FRESH_PAGES
from tests.media.pictures import photo
from tests.stack import harness
from tests.stack.crawler import crawl
from tests.test_pictures_end_to_end import Agency, agency

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
    env = {
        **FRESH_PAGES,
        "PRESSROOM_SITE_CONFIG": str(site_config(home)),
        "PRESSROOM_MEDIA_WIDTHS": "320,640",  # pictures are not what this walk is about
    }
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
def pictures() -> Iterator[Agency]:
    with agency() as server:
        server.pictures["/lead.jpg"] = photo(640, 427)
        server.pictures["/inline.jpg"] = photo(480, 320)
        yield server


@pytest.fixture(scope="module")
def published(feed: httpx.Client, edge: httpx.Client, pictures: Agency) -> list[str]:
    """The stories (one with pictures) and a site page of the operator's; their paths."""
    illustrated = {
        "body_html": f'<p>图文</p><p><img src="{pictures.url("/inline.jpg")}" alt="会场"></p>',
        "images": [{"href": pictures.url("/lead.jpg"), "caption": "现场", "credit": "本站"}],
    }
    paths = []
    for n, (channel, title, headline) in enumerate(STORIES):
        story = {
            "external_id": f"crawl-{n}",
            "title": title,
            "body_html": f"<p>{title}的正文。</p>",
            "channel": channel,
            "headline": headline,
            "published_at": f"2024-05-0{n + 1}T08:00:00+08:00",
        } | (illustrated if n == 0 else {})
        answer = feed.post("/v1/articles", json=story)
        assert answer.status_code == 202, answer.text
        paths.append(httpx.URL(answer.json()["url"]).path)
    page = feed.put("/v1/pages/contact-us", json={"title": "联系我们", "body_html": "<p>电话</p>"})
    assert page.status_code == 202, page.text
    paths.append("/contact-us.html")
    for path in paths:
        poll(partial(answers_200, edge, path), f"{path} published")
    poll(lambda: edge.get(paths[0]).text.count("<picture>") == 2, "the pictures on the page")
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
    assert walked.pages(f"{origin}/media/"), "the walk reached no picture"


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


def rebuild(portal: Stack) -> Result:
    """`pressroom rebuild` against the portal, in this process (no interpreter to start)."""
    return CliRunner().invoke(cli, ["rebuild"], env={**portal.env, "COLUMNS": "400"})


def test_the_rebuild_fails_naming_each_page_the_site_links_to_that_is_gone(
    portal: Stack, feed: httpx.Client, published: list[str]
) -> None:
    whole = rebuild(portal)
    assert whole.exit_code == 0, whole.output
    assert "dead link" not in whole.output

    assert feed.delete("/v1/pages/disclaimer").status_code == 202
    broken = rebuild(portal)
    feed.put("/v1/pages/disclaimer", json={"title": "免责声明", "body_html": "<p>声明</p>"})

    assert broken.exit_code == 1
    dead = [line for line in broken.output.splitlines() if "dead link" in line]
    assert len(dead) == 1, broken.output
    assert "/disclaimer.html" in dead[0]
    assert "PUT /v1/pages/disclaimer" in dead[0]


def test_no_page_logs_a_console_error_or_asks_for_a_missing_file(
    browser: Browser, portal: Stack, published: list[str]
) -> None:
    """Chromium on each kind of page (the icons, styles, scripts, fragment and counter they
    ask for included); the 404 page's only error is its own status."""
    origin = portal.urls["site_url"].rstrip("/")
    kinds = ["/", "/news/", f"/{EMPTY[0]}/", published[0], "/about.html", "/no-such-page.html"]
    problems: dict[str, list[str]] = {}
    for path in kinds:
        page = browser.new_page()
        seen: list[str] = []

        def console(message: ConsoleMessage, seen: list[str] = seen) -> None:
            if message.type == "error":
                seen.append(message.text)

        def answered(response: Response, seen: list[str] = seen) -> None:
            if response.status >= 400:
                seen.append(f"{response.status} {response.url}")

        def failed(request: Request, seen: list[str] = seen) -> None:
            seen.append(f"failed {request.url}")

        page.on("console", console)
        page.on("response", answered)
        page.on("requestfailed", failed)
        page.goto(origin + path, wait_until="networkidle")
        page.close()
        if path == "/no-such-page.html":
            own = (f"404 {origin}{path}", "status of 404")
            seen = [s for s in seen if not any(o in s for o in own)]
        if seen:
            problems[path] = seen
    assert problems == {}
