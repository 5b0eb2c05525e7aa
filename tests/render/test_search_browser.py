"""In a real headless Chromium, through the edge: a reader types a two-character word into
the header's search box and finds the article; once it is withdrawn, it is gone."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from services.stack.run import Stack
from tests.conftest import sample
from tests.test_end_to_end import page_path, wait_for_page

pytestmark = pytest.mark.browser
FRESH_SECONDS = 60  # the promise: findable, or gone, within a minute of the 202


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def publish(ingest: httpx.Client, site: httpx.Client, **fields: Any) -> dict[str, Any]:
    article = json.loads(sample()) | {"external_id": f"search-{time.time_ns()}"} | fields
    accepted: dict[str, Any] = ingest.post("/v1/articles", json=article).json()
    assert wait_for_page(site, page_path(accepted["url"])).status_code == 200
    return accepted


def result_titles(page: Page) -> list[str]:
    page.locator("#search-status").filter(has_not_text="正在查询").wait_for()
    return [t.strip() for t in page.locator("#search-results h2").all_inner_texts()]


def until(page: Page, check: Callable[[list[str]], bool]) -> list[str]:
    """Reload the results until `check` holds (the index follows the page by a flush)."""
    deadline = time.monotonic() + FRESH_SECONDS
    while True:
        titles = result_titles(page)
        if check(titles):
            return titles
        assert time.monotonic() < deadline, titles
        page.reload()


def test_a_reader_finds_an_article_by_a_two_character_word_until_it_is_withdrawn(
    live: Stack, ingest: httpx.Client, site: httpx.Client, page: Page
) -> None:
    tag = str(time.time_ns())
    # The word in one title (older) and in another's text (newer): the title match leads.
    older = datetime.now(UTC) - timedelta(days=3)
    in_title = f"鼋鼍纹铜鼓修复完成 {tag}"
    in_text = f"博物馆年度报告 {tag}"
    found = publish(ingest, site, title=in_title, published_at=older.isoformat())
    publish(ingest, site, title=in_text, body_html="<p>展厅新增鼋鼍纹样专题。</p>")

    assert wait_for_page(site, "/query.html").status_code == 200  # written by the first flush
    page.goto(live.urls["site_url"].rstrip("/") + "/")
    page.get_by_role("search", name="站内搜索").get_by_role("searchbox").fill("鼋鼍")
    page.get_by_role("search", name="站内搜索").get_by_role("button").click()
    page.wait_for_url("**/query.html?q=*")
    expect(page.locator("#search-q")).to_have_value("鼋鼍")  # the query stays linkable

    titles = until(page, lambda t: in_title in t and in_text in t)
    assert titles.index(in_title) < titles.index(in_text)
    first = page.locator("#search-results li").first
    expect(first.locator("mark").first).to_have_text("鼋鼍")
    assert first.locator("a").get_attribute("href") == page_path(found["url"])

    page.locator("#search-q").fill("博物馆")  # a new query from the page: the address follows
    page.locator("#search-q").press("Enter")
    page.wait_for_url("**/query.html?q=%E5%8D%9A%E7%89%A9%E9%A6%86")
    assert until(page, lambda t: bool(t))[0] == in_text
    page.go_back()
    expect(page.locator("#search-q")).to_have_value("鼋鼍")

    withdrawn = ingest.delete(f"/v1/articles/{found['id']}")
    assert withdrawn.status_code == 202, withdrawn.text
    titles = until(page, lambda t: in_title not in t)
    assert in_text in titles
