"""Hostile article content, from POST to the page in the site bucket: none of it survives."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.ingest.conftest import article
from tests.ingest.hostile import corpus, dangers

pytestmark = pytest.mark.slow


def as_markup(entry: dict[str, str]) -> str:
    """The payload as a browser would meet it without sanitizing (in a page, or an attribute)."""
    if entry.get("context") == "attribute":
        return f"<span title='{entry['payload']}'></span>"
    return f"<p>{entry['payload']}</p><p>after</p>"


def hostile_article(n: int, entry: dict[str, str], run: str) -> dict[str, Any]:
    field, payload = entry["field"], entry["payload"]
    value: Any = [payload] if field == "tags" else payload
    body = {"title": f"XSS {n} {entry['name']}", "summary": "摘要", "body_html": "<p>正文</p>"}
    return article(f"xss-{run}-{n}", **(body | {field: value}))


def wait_for_pages(site: httpx.Client, urls: list[str], timeout: float = 60.0) -> dict[str, str]:
    pages: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(pages) < len(urls) and time.monotonic() < deadline:
        for url in urls:
            if url not in pages:
                answer = site.get("/" + url.split("/", 3)[3])
                if answer.status_code == 200:
                    pages[url] = answer.text
        time.sleep(0.2)
    return pages


def test_corpus_is_hostile_and_large_enough() -> None:
    entries = [e for e in corpus() if not e.get("legacy")]
    assert len(entries) >= 30
    missed = [e["name"] for e in entries if not dangers(as_markup(e))]
    assert missed == [], "the check must catch every payload before sanitizing"


def test_no_payload_survives_from_post_to_rendered_page(
    ingest: httpx.Client, site: httpx.Client
) -> None:
    entries, run = corpus(), str(time.time_ns())
    control = article(f"xss-{run}-control", title="对照", summary="摘要", body_html="<p>正文</p>")
    batch = [control] + [hostile_article(n, e, run) for n, e in enumerate(entries)]
    answer = ingest.post("/v1/articles:batch", json={"articles": batch})
    assert answer.status_code == 202, answer.text
    assert answer.json()["rejected"] == 0
    urls = [item["article"]["url"] for item in answer.json()["items"]]

    pages = wait_for_pages(site, urls)

    assert len(pages) == len(urls), "every article is published"
    clean = pages[urls[0]]
    assert "正文" in clean
    survivors = {
        entry["name"]: found
        for entry, url in zip(entries, urls[1:], strict=True)
        if (found := dangers(pages[url], control=clean))
    }
    assert survivors == {}
