"""The search page in Chromium, through the edge: a query typed again on the page (or one
sharing its words) reuses the index it already read instead of fetching it again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from services.stack.run import Stack
from tests.render.test_search_browser import publish, result_titles, until

pytestmark = pytest.mark.browser
SHARD_REQUESTS = """() => performance.getEntriesByType("resource")
  .filter(e => e.name.includes("/search/seg/")).length"""


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def ask(page: Page, query: str) -> list[str]:
    page.locator("#search-q").fill(query)
    page.locator("#search-q").press("Enter")
    page.locator("#search-results[data-search-ms]").wait_for(state="attached")
    return result_titles(page)


def test_a_query_asked_again_on_the_page_fetches_no_index_shard(
    live: Stack, ingest: httpx.Client, site: httpx.Client, page: Page
) -> None:
    tag = str(time.time_ns())
    title = f"蹴鞠表演赛开幕 {tag}"
    publish(ingest, site, title=title, body_html="<p>古代球戏的表演。</p>")
    page.goto(f"{live.urls['site_url'].rstrip('/')}/query.html?q=蹴鞠")
    first = until(page, lambda t: title in t)
    assert page.evaluate(SHARD_REQUESTS) > 0

    assert title in ask(page, "蹴鞠表演")  # shares 蹴鞠 with the first query
    page.evaluate("performance.clearResourceTimings()")

    assert ask(page, "蹴鞠") == first
    assert page.evaluate(SHARD_REQUESTS) == 0
