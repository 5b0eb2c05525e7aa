"""Pictures end to end on the running stack: an agency's server on loopback, the article
published at once, its pictures fetched by media and shown from the site, in Chromium too."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser

from services.stack.run import Stack
from tests.media.pictures import QuietHandler, http_server, photo
from tests.test_end_to_end import page_path, wait_for_page

DEADLINE = 30.0  # seconds: a fetch and its renditions on a machine shared by the suite


@dataclass
class Agency:
    """An agency's picture server on loopback; a path can be held until the test lets go."""

    port: int = 0
    pictures: dict[str, bytes] = field(default_factory=dict)
    held: dict[str, threading.Event] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hold(self, path: str) -> threading.Event:
        self.held[path] = threading.Event()
        return self.held[path]


@contextmanager
def agency() -> Iterator[Agency]:
    state = Agency()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            state.asked.append(self.path)
            gate = state.held.get(self.path)
            if gate is not None:
                gate.wait(DEADLINE)
            body = state.pictures.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    with http_server(Handler) as state.port:
        try:
            yield state
        finally:
            for gate in state.held.values():  # requests still held let the server stop
                gate.set()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Agency]:
    with agency() as server:
        server.pictures["/lead.jpg"] = photo(1600, 1200)
        server.pictures["/inline.jpg"] = photo(1400, 1050)
        yield server


def until(check: Callable[[], Any], what: str) -> Any:
    """Poll `check` until it returns something true, failing after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE}s: {what}")


def publish(ingest: httpx.Client, upstream: Agency, tag: str, **fields: Any) -> dict[str, Any]:
    article = {
        "external_id": f"pictures-{tag}-{time.time_ns()}",
        "title": f"图片新闻 {tag}",
        "body_html": f'<p>第一段</p><p><img src="{upstream.url("/inline.jpg")}" alt="会场"></p>',
        "images": [{"href": upstream.url("/lead.jpg"), "caption": "签约现场", "credit": "新华社"}],
        "channel": "news",
    } | fields
    answer = ingest.post("/v1/articles", json=article)
    assert answer.status_code == 202, answer.text
    accepted: dict[str, Any] = answer.json()
    return accepted


def states(ingest: httpx.Client, aid: str) -> dict[str, str]:
    status = ingest.get(f"/v1/articles/{aid}").json()
    return {p["source"].rsplit("/", 1)[-1]: p["state"] for p in status["pictures"]}


def test_the_article_publishes_at_once_and_its_pictures_follow(
    live: Stack, ingest: httpx.Client, site: httpx.Client
) -> None:
    with agency() as slow:
        slow.pictures["/lead.jpg"] = photo(1600, 1200)
        slow.pictures["/inline.jpg"] = photo(800, 600)
        gate = slow.hold("/lead.jpg")
        accepted = publish(ingest, slow, "slow")

        page = wait_for_page(site, page_path(accepted["url"]), DEADLINE)
        assert page.status_code == 200  # while the agency still holds the lead picture
        assert "<h1>图片新闻 slow</h1>" in page.text
        assert f"127.0.0.1:{slow.port}" not in page.text
        assert states(ingest, accepted["id"])["lead.jpg"] == "pending"

        gate.set()
        until(
            lambda: states(ingest, accepted["id"]) == {"lead.jpg": "ready", "inline.jpg": "ready"},
            "ready",
        )
        shown = until(
            lambda: (p := site.get(page_path(accepted["url"])).text).count("<picture>") == 2 and p,
            "both pictures on the page",
        )
    assert "图片来源:新华社" in shown
    assert f"127.0.0.1:{slow.port}" not in shown
    assert ingest.get(f"/v1/articles/{accepted['id']}").json()["status"] == "published"


def test_a_picture_that_fails_says_why_and_the_article_stays(
    ingest: httpx.Client, site: httpx.Client, upstream: Agency
) -> None:
    accepted = publish(ingest, upstream, "missing", images=[{"href": upstream.url("/gone.jpg")}])

    failed = until(
        lambda: next(
            (
                p
                for p in ingest.get(f"/v1/articles/{accepted['id']}").json()["pictures"]
                if p["source"].endswith("/gone.jpg") and p["state"] == "failed"
            ),
            None,
        ),
        "the missing picture failed",
    )

    assert "404" in failed["error"]
    status = ingest.get(f"/v1/articles/{accepted['id']}").json()
    assert status["status"] == "published"
    assert site.get(page_path(accepted["url"])).status_code == 200


def test_chromium_loads_every_picture_from_the_site_never_from_the_agency(
    live: Stack, ingest: httpx.Client, site: httpx.Client, upstream: Agency, browser: Browser
) -> None:
    accepted = publish(ingest, upstream, "browser", headline=True)
    path = page_path(accepted["url"])
    until(lambda: site.get(path).text.count("<picture>") == 2, "both pictures on the page")
    origin = live.urls["site_url"].rstrip("/")

    phone, desktop = (pictures_seen(browser, origin + path, width) for width in (390, 1280))

    for loaded, requested in (phone, desktop):
        assert len(loaded) == 2
        assert all(img["natural"] > 0 for img in loaded), loaded
        assert all(urlsplit(img["src"]).netloc == urlsplit(origin).netloc for img in loaded)
        assert not [url for url in requested if f":{upstream.port}" in url], requested
    assert widest(phone[0]) < widest(desktop[0])  # the phone took a narrower rendition


def pictures_seen(browser: Browser, url: str, width: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Each picture's chosen source and decoded width, and every URL the page asked for."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(url, wait_until="load")
        # lazy pictures below the fold load too, so that every one can be checked
        page.evaluate("() => document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        loaded: list[dict[str, Any]] = page.evaluate(
            "() => [...document.querySelectorAll('picture img')]"
            ".map(i => ({src: i.currentSrc, natural: i.naturalWidth}))"
        )
    finally:
        page.close()
    return loaded, requested


def widest(loaded: list[dict[str, Any]]) -> int:
    """The widest rendition chosen (renditions are named <sha256>-<width>-<recipe>.<ext>)."""
    return max(int(img["src"].rsplit("/", 1)[-1].split("-")[1]) for img in loaded)


def test_an_uploaded_picture_named_by_media_id_leads_the_article(
    ingest: httpx.Client, site: httpx.Client, upstream: Agency
) -> None:
    upload = ingest.post(
        "/v1/media", content=photo(1200, 800), headers={"Content-Type": "image/jpeg"}
    )
    assert upload.status_code == 201, upload.text
    media_id = upload.json()["id"]

    accepted = publish(
        ingest, upstream, "upload", body_html="<p>正文</p>", images=[{"media_id": media_id}]
    )

    page = until(
        lambda: "<picture>" in (p := site.get(page_path(accepted["url"])).text) and p,
        "the uploaded picture on the page",
    )
    assert upload.json()["url"].rsplit("-", 1)[0] in page  # the upload's own renditions
    assert states(ingest, accepted["id"]) == {f"media:{media_id}": "ready"}
