"""In a real headless Chromium, through the edge: 点击量 shows a count that rises per reload."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from services.stack.run import Stack
from tests.conftest import sample
from tests.test_end_to_end import page_path, wait_for_page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def shown_count(page: Page) -> int:
    hits = page.locator(".hits")
    hits.wait_for(state="visible", timeout=10_000)
    match = re.fullmatch(r"点击量:(\d+)", hits.inner_text().strip())
    assert match, hits.inner_text()
    return int(match.group(1))


def test_click_count_rises_by_one_on_each_reload(
    live: Stack, ingest: httpx.Client, site: httpx.Client, page: Page
) -> None:
    article = json.loads(sample())
    article["external_id"] = f"browser-{time.time_ns()}"
    accepted = ingest.post("/v1/articles", json=article).json()
    url = live.urls["site_url"].rstrip("/") + page_path(accepted["url"])
    assert wait_for_page(site, page_path(accepted["url"])).status_code == 200

    page.goto(url)
    first = shown_count(page)
    page.reload()
    second = shown_count(page)

    assert first >= 1
    assert second == first + 1
    assert page.title().startswith(article["title"])


def test_sidebar_fragment_replaces_the_server_rendered_one(
    live: Stack, ingest: httpx.Client, site: httpx.Client, page: Page
) -> None:
    article = json.loads(sample())
    article["external_id"] = f"browser-sidebar-{time.time_ns()}"
    article["title"] = f"侧栏测试 {time.time_ns()}"
    article["published_at"] = datetime.now(UTC).isoformat()  # the newest headline
    accepted = ingest.post("/v1/articles", json=article).json()
    served = wait_for_page(site, page_path(accepted["url"]))
    sidebar_html = served.text.split('id="sidebar"', 1)[1]
    assert article["title"] not in sidebar_html  # rendered before it was indexed
    deadline = time.monotonic() + 10
    while article["title"] not in site.get("/fragments/sidebar.html").text:
        assert time.monotonic() < deadline, "sidebar fragment never showed the new headline"
        time.sleep(0.1)

    page.goto(live.urls["site_url"].rstrip("/") + page_path(accepted["url"]))

    headlines = page.locator("#sidebar section").first
    expect(headlines.locator("h2")).to_have_text("头条")
    expect(headlines).to_contain_text(article["title"])  # only the fragment has it
