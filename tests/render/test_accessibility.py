"""axe-core finds nothing on any page kind, at phone and desktop widths, in the light and
the dark colour scheme, in headless Chromium through the edge (its CSP included)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from services.stack.run import Stack
from tests.conftest import sample
from tests.test_end_to_end import page_path, wait_for_page

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("PRESSROOM_AXE_JS", REPO / ".venv/axe/node_modules/axe-core/axe.min.js"))
WIDTHS = {"phone": 390, "desktop": 1280}
COLOUR_RULES = ["color-contrast", "link-in-text-block"]


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make test`")
    return AXE.read_text()


@pytest.fixture(scope="module")
def pages(live: Stack, ingest_module: httpx.Client, site_module: httpx.Client) -> dict[str, str]:
    """Every page kind of a site with a headline, a notice and an article with neighbours."""
    stamp = time.time_ns()
    urls = []
    for n, name in enumerate(["01-seed-article.json", "02-notice.json", "01-seed-article.json"]):
        article = json.loads(sample(name)) | {"external_id": f"a11y-{stamp}-{n}"}
        accepted = ingest_module.post("/v1/articles", json=article)
        assert accepted.status_code == 202, accepted.text
        urls.append(page_path(accepted.json()["url"]))
    slug = f"a11y-{stamp}"
    body = "<p>中国通俗文艺研究会融媒体中心。</p><h2>联系我们</h2><p>电话:010-53657566</p>"
    stored = ingest_module.put(f"/v1/pages/{slug}", json={"title": "关于本站", "body_html": body})
    assert stored.status_code in (200, 201, 202), stored.text
    urls.append(f"/{slug}.html")
    for path in urls:
        assert wait_for_page(site_module, path).status_code == 200, path
    kinds = {
        "home": "/",
        "list": "/news/",
        "empty list": "/reviews/",
        "article": urls[0],
        "notice": urls[1],
        "site page": urls[3],
        "search": "/query.html?q=教育",
    }
    kinds["404"] = f"/no-such-page-{stamp}.html"
    return kinds


@pytest.fixture
def reader(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": request.param, "height": 900}, color_scheme="light", locale="zh-CN"
    )
    yield context.new_page()
    context.close()


def axe_violations(page: Page, *, colours_only: bool) -> list[dict[str, Any]]:
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if colours_only:  # the dark scheme changes colours only: the rest is checked in light
        options["runOnly"] = {"type": "rule", "values": COLOUR_RULES}
    result: dict[str, Any] = page.evaluate("o => axe.run(document, o)", options)
    return [
        {
            "rule": v["id"],
            "help": v["help"],
            "where": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]


@pytest.mark.parametrize("reader", WIDTHS.values(), ids=WIDTHS.keys(), indirect=True)
def test_axe_finds_no_violation_on_any_page_kind(
    live: Stack, pages: dict[str, str], reader: Page, axe_source: str
) -> None:
    errors: list[str] = []
    reader.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    reader.on("pageerror", lambda e: errors.append(str(e)))
    base = live.urls["site_url"].rstrip("/")
    found = {}
    for kind, path in pages.items():
        reader.emulate_media(color_scheme="light")
        answer = reader.goto(base + path, wait_until="load")
        assert answer is not None
        assert answer.status == (404 if kind == "404" else 200), kind
        if kind != "404":
            # nothing on a page fails to load or breaks the CSP (JSON-LD is not a script run)
            assert errors == [], (kind, errors)
        errors.clear()
        if kind == "search":  # its results (with highlighted words) are part of the page
            reader.locator("#search-results li mark").first.wait_for(timeout=15_000)
        # evaluated over the DevTools protocol: the page's CSP does not apply to it
        reader.evaluate(axe_source)
        found[kind] = axe_violations(reader, colours_only=False)
        reader.emulate_media(color_scheme="dark")
        found[f"{kind} (dark)"] = axe_violations(reader, colours_only=True)
    failing = {kind: v for kind, v in found.items() if v}
    assert failing == {}, json.dumps(failing, ensure_ascii=False, indent=1)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def shown(page: Page, selector: str) -> bool:
    return bool(
        page.eval_on_selector(
            selector, "e => getComputedStyle(e).display !== 'none' && e.offsetHeight > 0"
        )
    )


def test_paper_has_the_article_without_navigation_sidebar_footer_or_search(
    live: Stack, pages: dict[str, str], page: Page
) -> None:
    page.goto(live.urls["site_url"].rstrip("/") + pages["article"])
    around = [".site-nav", ".site-search", "#sidebar", ".site-footer", ".prev-next"]
    assert all(shown(page, s) for s in around)  # on screen, all there

    page.emulate_media(media="print")

    assert [s for s in around if shown(page, s)] == []
    assert shown(page, ".site-name")
    assert shown(page, ".article h1")
    assert shown(page, ".article .body")
    article_width = page.eval_on_selector(".article", "e => e.getBoundingClientRect().width")
    assert article_width > 1000  # the whole sheet, not the screen's column beside the sidebar


def test_a_reader_who_prefers_dark_gets_light_text_on_a_dark_page(
    live: Stack, pages: dict[str, str], page: Page
) -> None:
    colours = "() => ['backgroundColor', 'color'].map(p => getComputedStyle(document.body)[p])"
    page.goto(live.urls["site_url"].rstrip("/") + pages["article"])
    assert page.evaluate(colours) == ["rgba(0, 0, 0, 0)", "rgb(34, 34, 34)"]

    page.emulate_media(color_scheme="dark")

    assert page.evaluate(colours) == ["rgb(18, 18, 18)", "rgb(232, 232, 232)"]
