"""The edge of `pressroom run` and of the tests' stacks is compose's: Debian's nginx with
services/edge/nginx.conf.template, filled in with compose's own edge values but for the
addresses, port and scratch paths. It serves the stored pages and routes both APIs."""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.edge import nginx
from services.render.settings import RenderSettings
from services.stack.run import Stack
from shared.storage import Storage
from tests.conftest import sample
from tests.edge.fronts import COMPOSE_EDGE_ENV

SECURITY_HEADERS = (
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    prefix = nginx.new_prefix()  # nginx runs as `nobody` when the suite runs as root
    yield prefix
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def nginx_url(live: Stack) -> str:
    return live.urls["site_url"].rstrip("/")


@pytest.fixture(scope="module")
def published(live: Stack, nginx_url: str) -> dict[str, str]:
    """One article, posted to ingest *through nginx*, and its page once it is live."""
    key = live.extra_env["PRESSROOM_FEED_KEY"]
    article = json.loads(sample()) | {"external_id": f"nginx-{uuid.uuid4().hex[:8]}"}
    answer = httpx.post(
        f"{nginx_url}/api/ingest/v1/articles",
        json=article,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    path = "/" + accepted["url"].split("/", 3)[3]
    deadline = time.monotonic() + 20
    for page in (path, "/"):  # the home page follows in the coalesced flush
        while httpx.get(f"{nginx_url}{page}").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
    return {"id": accepted["id"], "path": path, "key": key}


def test_nginx_accepts_the_config_compose_gives_it(scratch: Path) -> None:
    values = {**COMPOSE_EDGE_ENV, "EDGE_CACHE_DIR": str(scratch / "check" / "cache")}
    checked = nginx.check(nginx.write_prefix(scratch / "check", values))

    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_the_stacks_edge_differs_from_composes_only_in_addresses_and_port(live: Stack) -> None:
    values = nginx.values_from(live.edge_settings(), live.ports.edge)
    differ = {k for k, v in values.items() if COMPOSE_EDGE_ENV.get(k) != v}

    assert set(values) | {"EDGE_RESOLVER", "EDGE_CACHE_DIR"} == nginx.placeholders()
    assert differ == {"EDGE_PORT"} | {
        k for k in COMPOSE_EDGE_ENV if k.endswith(("_UPSTREAM", "_ENDPOINT_URL"))
    }


def test_pages_and_both_apis_answer_through_nginx_as_stored_and_as_served(
    live: Stack, nginx_url: str, published: dict[str, str]
) -> None:
    site = Storage.from_settings(live.settings()).site
    home = httpx.get(f"{nginx_url}/").text
    asset = re.search(r'href="(/static/[^"]+\.css)"', home)
    assert asset, home[:500]
    for path in (published["path"], asset.group(1)):
        page = httpx.get(f"{nginx_url}{path}")
        assert (page.status_code, page.content) == (200, site.get(path.lstrip("/"))), path
    assert httpx.head(f"{nginx_url}{published['path']}").status_code == 200
    auth = {"Authorization": f"Bearer {published['key']}"}
    requests = [
        ("ingest", f"/v1/articles/{published['id']}", auth),
        ("ingest", f"/v1/articles/{published['id']}", {}),
        ("counter", f"/v1/counts?ids={published['id']}", {}),
        ("counter", "/v1/top?window=bogus", {}),
        ("counter", "/v1/top", {}),
    ]
    for service, path, headers in requests:
        via_nginx = httpx.get(f"{nginx_url}/api/{service}{path}", headers=headers)
        direct = httpx.get(f"{live.urls[f'{service}_url']}{path}", headers=headers)
        assert via_nginx.status_code == direct.status_code, path
        assert via_nginx.json() == direct.json(), path
        assert via_nginx.headers["content-type"] == direct.headers["content-type"], path


def test_a_missing_page_gets_the_sites_404_page(nginx_url: str) -> None:
    for path in ("/no-such-page.html", "/no-such-dir/"):
        answer = httpx.get(f"{nginx_url}{path}")
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html"), path
        assert "页面不存在" in answer.text, path


def test_what_is_not_a_page_gets_a_plain_answer(nginx_url: str) -> None:
    answers = {
        ("GET", "/api/no-such-route"): (404, b"not found\n"),
        ("POST", "/"): (405, b"method not allowed\n"),
        ("GET", "/healthz"): (200, b"ok\n"),
    }
    for (method, path), expected in answers.items():
        answer = httpx.request(method, f"{nginx_url}{path}")
        assert (answer.status_code, answer.content) == expected, path
        assert answer.headers["content-type"].startswith("text/plain"), path


def test_hits_posted_through_nginx_are_counted(nginx_url: str, published: dict[str, str]) -> None:
    hit = f"{nginx_url}/api/counter/v1/hits/{published['id']}"
    counts = [
        httpx.post(hit, headers={"User-Agent": f"reader-{n}"}).json()["count"] for n in range(3)
    ]

    assert counts == [counts[0], counts[0] + 1, counts[0] + 2]


def test_nginx_compresses_caches_and_sets_security_headers(live: Stack, nginx_url: str) -> None:
    """On a page stored with production's Cache-Control (the test stacks store theirs
    uncached, so that each test sees its own changes at once)."""
    site = Storage.from_settings(live.settings()).site
    folder = f"edge-cache-{uuid.uuid4().hex[:8]}/"
    stored = "<p>" + "缓存" * 500 + "</p>"
    cache_control = RenderSettings(environment="development").html_cache_control
    html = "text/html; charset=utf-8"
    site.put(folder + "index.html", stored.encode(), content_type=html, cache_control=cache_control)
    page = f"{nginx_url}/{folder}"
    first = httpx.get(page, headers={"Accept-Encoding": "gzip"})
    site.put(
        folder + "index.html", b"<p>changed</p>", content_type=html, cache_control=cache_control
    )
    again = httpx.get(page, headers={"Accept-Encoding": "gzip"})
    missing = httpx.get(f"{nginx_url}/no-such-page.html")

    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["cache-control"] == "public, max-age=60"  # as the render stores it
    assert (again.headers["x-cache"], again.text) == ("HIT", stored)  # for up to a minute
    for response in (first, missing):
        assert all(response.headers.get(h) for h in SECURITY_HEADERS)
    assert not any(h.startswith(("x-amz", "seaweed")) for h in first.headers)
    assert (missing.status_code, missing.headers["content-type"]) == (
        404,
        "text/html; charset=utf-8",  # the site's own 404 page
    )
