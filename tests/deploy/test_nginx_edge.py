"""The compose edge is Debian's nginx with services/edge/nginx.conf.template, filled in with
compose's own edge environment (only the addresses, port and scratch paths differ), in front
of the running stack: it serves the pages and routes both APIs as the preview edge does."""

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
from services.stack.run import Stack
from tests.conftest import sample
from tests.edge.fronts import COMPOSE_EDGE_ENV, local_values, running_nginx

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
def nginx_url(live: Stack) -> Iterator[str]:
    with running_nginx(live.urls, live.home / "logs") as url:
        yield url


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


def test_only_addresses_port_and_scratch_paths_differ_from_compose(live: Stack) -> None:
    differ = {k for k, v in local_values(live.urls, 1).items() if COMPOSE_EDGE_ENV.get(k) != v}

    assert differ <= {"EDGE_PORT", "EDGE_RESOLVER"} | {
        k for k in COMPOSE_EDGE_ENV if k.endswith(("_UPSTREAM", "_ENDPOINT_URL", "_BUCKET"))
    }


def test_pages_and_both_apis_answer_through_nginx_as_through_the_preview_edge(
    live: Stack, nginx_url: str, published: dict[str, str]
) -> None:
    home = httpx.get(f"{nginx_url}/").text
    asset = re.search(r'href="(/static/[^"]+\.css)"', home)
    assert asset, home[:500]
    auth = {"Authorization": f"Bearer {published['key']}"}
    requests = [
        ("GET", "/", {}),
        ("GET", published["path"], {}),
        ("HEAD", published["path"], {}),
        ("GET", asset.group(1), {}),
        ("GET", "/no-such-page.html", {}),
        ("GET", "/no-such-dir/", {}),
        ("POST", "/", {}),
        ("GET", "/healthz", {}),
        ("GET", f"/api/ingest/v1/articles/{published['id']}", auth),
        ("GET", f"/api/ingest/v1/articles/{published['id']}", {}),
        ("GET", f"/api/counter/v1/counts?ids={published['id']}", {}),
        ("GET", "/api/counter/v1/top?window=bogus", {}),
        ("GET", "/api/counter/v1/top", {}),
    ]
    for method, path, headers in requests:
        via_nginx = httpx.request(method, f"{nginx_url}{path}", headers=headers)
        via_preview = httpx.request(
            method, f"{live.urls['site_url'].rstrip('/')}{path}", headers=headers
        )
        what = f"{method} {path}"
        assert via_nginx.status_code == via_preview.status_code, what
        assert via_nginx.content == via_preview.content, what
        media = via_nginx.headers.get("content-type", "").split(";")[0]
        assert media == via_preview.headers.get("content-type", "").split(";")[0], what


def test_hits_posted_through_nginx_are_counted(nginx_url: str, published: dict[str, str]) -> None:
    hit = f"{nginx_url}/api/counter/v1/hits/{published['id']}"
    counts = [
        httpx.post(hit, headers={"User-Agent": f"reader-{n}"}).json()["count"] for n in range(3)
    ]

    assert counts == [counts[0], counts[0] + 1, counts[0] + 2]


def test_nginx_compresses_caches_and_sets_security_headers(
    nginx_url: str, published: dict[str, str]
) -> None:
    page = f"{nginx_url}{published['path']}"
    first = httpx.get(page, headers={"Accept-Encoding": "gzip"})
    again = httpx.get(page, headers={"Accept-Encoding": "gzip"})
    missing = httpx.get(f"{nginx_url}/no-such-page.html")

    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["cache-control"] == "public, max-age=60"  # as the render stored it
    assert again.headers["x-cache"] == "HIT"
    assert again.text == first.text
    for response in (first, missing):
        assert all(response.headers.get(h) for h in SECURITY_HEADERS)
    assert not any(h.startswith(("x-amz", "seaweed")) for h in first.headers)
    assert missing.headers["content-type"] == "text/plain; charset=utf-8"
