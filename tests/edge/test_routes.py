"""What the edge shows the world: the site and the public API routes of services/edge/routes.py,
nothing operator-only, no path that climbs out of the site bucket, and never an error body of
the store."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from services.counter.app import create_app as counter_app
from services.counter.settings import CounterSettings
from services.edge import routes
from services.edge.nginx import TEMPLATE
from services.ingest.app import create_app as ingest_app
from services.ingest.feeds import FeedRegistry, SecretBox
from services.ingest.settings import IngestSettings
from services.ingest.signing import signature_headers
from services.stack.run import Stack
from shared.storage import Storage
from tests.conftest import sample
from tests.edge.fronts import Answer, raw_get, running_nginx
from tests.faults.figures import record
from tests.stack import harness

PLAIN = (b"bad request\n", b"not found\n")
LEAKS = (b"<Error>", b"RequestId", b"pressroom-data", b"key_sha256", b"<?xml", b"nginx")
# the probes, and the classic ways to climb out of a directory
PROBES = [
    "/%252e%252e/pressroom-data/feeds/dev.json",
    "/%2e%2e/pressroom-data/feeds/dev.json",
    "/..%2f..%2fpressroom-data/feeds/dev.json",
    "/.%2e/.%2e/pressroom-data/feeds/dev.json",
    "/static/..%2f..%2f..%2fpressroom-data/feeds/dev.json",
    "/static/..%5c..%5cpressroom-data/feeds/dev.json",
    "/static/..\\..\\pressroom-data/feeds/dev.json",
    "/news/../../pressroom-data/feeds/dev.json",
    "/news/./index.html",
    "/news/..;/..;/pressroom-data/feeds/dev.json",
    "//pressroom-data/feeds/dev.json",
    "/%00",
    "/%01",
    "/%7f",
    "/news/a%00.html",
    "/news/%0d%0aSet-Cookie:%20x=1",
    "/api/counter/v1/%2e%2e/metrics",
    "/api/counter/v1/counts/..%2f..%2fmetrics",
    "/api/ingest/v1/articles/..%2f..%2fmetrics",
]


def flattened(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route an app serves."""

    def walk(found: list[object], prefix: str) -> Iterator[tuple[str, str]]:
        for route in found:
            included = getattr(route, "original_router", None)
            if included is not None:
                context = getattr(route, "include_context", None)
                yield from walk(included.routes, prefix + getattr(context, "prefix", ""))
            elif path := getattr(route, "path", None):
                for method in sorted(getattr(route, "methods", None) or {"GET"}):
                    if method != "HEAD":
                        yield method, prefix + path

    return walk(list(app.routes), "")


def every_route() -> list[tuple[str, str, str]]:
    """(service, method, path template) of both APIs, plus the counter's pixel, which its
    hot path answers before FastAPI sees it."""
    found = [("counter", "GET", "/v1/hits/{article_id}.gif")]
    for service, app in (
        ("ingest", ingest_app(IngestSettings(environment="development"))),
        ("counter", counter_app(CounterSettings(environment="development"))),
    ):
        found += [(service, method, path) for method, path in flattened(app)]
    return found


def is_public(service: str, path: str) -> bool:
    return routes.public_api(f"/api/{service}{path}") is not None


def is_not_found_page(answer: Answer) -> bool:
    """The site's own 404 page, which the edge answers for any page the bucket lacks."""
    return (answer.status, answer.media) == (
        404,
        "text/html",
    ) and "页面不存在".encode() in answer.body


def assert_not_leaking(answer: Answer, what: str) -> None:
    assert answer.status < 500, what
    assert not any(leak in answer.body for leak in LEAKS), (what, answer.body[:300])
    assert not any(h.startswith(("x-amz", "seaweed")) for h in answer.headers), what


# --- the table and nginx's spelling of it --------------------------------------------------


def test_nginx_routes_exactly_the_public_table() -> None:
    template = TEMPLATE.read_text()
    api_locations = set(re.findall(r'location ~ "(\^/api/[^"]+)"', template))

    assert api_locations == {api.pattern for api in routes.PUBLIC_APIS}
    assert f'$uri ~ "{routes.CONTROL_CHARACTER}"' in template
    assert f'$request_uri ~* "{routes.RAW_DOT_SEGMENT}"' in template


PIECES = ["/", ".", "..", "%2e", "%2E", "%252e", "%2f", "%2F", "%5c", "\\", "a", "b.html", "?", ";"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=8))
def test_nginx_finds_every_dot_segment_in_the_raw_path(pieces: list[str]) -> None:
    raw = "/" + "".join(pieces)
    path = raw.split("?", 1)[0]
    nginx_refuses = re.search(routes.RAW_DOT_SEGMENT, raw, re.IGNORECASE) is not None

    assert nginx_refuses == (re.search(routes.DOT_SEGMENT, unquote(path)) is not None), raw


# --- the edge in front of the session stack -------------------------------------------------


def test_path_tricks_are_refused_and_never_reach_the_store(edge_url: str) -> None:
    for probe in PROBES:
        answer = raw_get(edge_url, probe)
        assert_not_leaking(answer, probe)
        assert answer.status in (400, 404), (probe, answer.status)
        if is_not_found_page(answer):
            continue
        plain = b"not found\n" if answer.status == 404 else b"bad request\n"
        assert (answer.media, answer.body) == ("text/plain", plain), probe
    record("edge path probes", probes=len(PROBES), leaked=0)


TRICKY = ["/", ".", "..", "%2e", "%2E", "%252e", "%2f", "%5c", "%00", "%01", "%1f", "%7f", "%7F"]
WORDS = ["news", "static", "pressroom-data", "feeds", "dev.json", "api", "counter", "metrics"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(TRICKY + WORDS), min_size=1, max_size=8))
def test_any_path_gets_a_page_the_404_page_or_a_plain_refusal(
    edge_url: str, pieces: list[str]
) -> None:
    path = "/" + "".join(pieces)
    answer = raw_get(edge_url, path)

    assert_not_leaking(answer, path)
    if answer.status != 200:
        assert answer.status in (400, 404, 405), path
        assert answer.media == "text/plain" or is_not_found_page(answer), path


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0123456789abcdef0123", path)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as shared:  # a client each costs a TLS context each
        yield shared


def test_operator_routes_are_not_exposed_by_the_edge(
    live: Stack, edge_url: str, client: httpx.Client
) -> None:
    internal = [(s, m, p) for s, m, p in every_route() if not is_public(s, p)]
    assert {p for _, _, p in internal} >= {"/metrics", "/dashboard", "/readyz", "/healthz"}
    for service, method, path in internal:
        direct = client.request(method, live.urls[f"{service}_url"] + concrete(path))
        assert direct.status_code != 404, f"{service} {path} no longer exists"
        for variant in (path, path + "/", "/" + path, path.replace("/", "/%2f", 1)):
            answer = raw_get(edge_url, f"/api/{service}{concrete(variant)}", method)
            what = f"{method} /api/{service}{variant}"
            assert answer.status in (400, 404), what
            assert answer.body in PLAIN, what


def test_readers_and_feeds_still_reach_every_public_route(
    live: Stack, edge_url: str, client: httpx.Client
) -> None:
    public = [(s, m, p) for s, m, p in every_route() if is_public(s, p)]
    assert {p for _, _, p in public} >= {"/v1/hits/{article_id}", "/v1/counts", "/v1/articles"}
    for service, method, path in public:
        direct = client.request(method, live.urls[f"{service}_url"] + concrete(path))
        answer = client.request(method, f"{edge_url}/api/{service}{concrete(path)}")
        what = f"{method} /api/{service}{path}"
        assert answer.status_code == direct.status_code, what
        assert answer.headers.get("content-type") == direct.headers.get("content-type"), what


@pytest.fixture(scope="module")
def edge_without_upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An edge with the store and both APIs on ports nothing listens on."""
    dead = {
        f"{name}_url": f"http://127.0.0.1:{harness.free_port()}"
        for name in ("s3", "ingest", "counter")
    }
    logs = Path(tmp_path_factory.mktemp("dead-upstreams"))
    with running_nginx(dead, logs) as url:
        yield url


def test_a_store_or_api_that_is_down_is_a_plain_502(edge_without_upstreams: str) -> None:
    expected = {
        "/": b"object store unavailable\n",
        "/news/some-page.html": b"object store unavailable\n",
        "/api/counter/v1/top": b"upstream unavailable\n",
        "/api/ingest/v1/articles/0123456789abcdef0123": b"upstream unavailable\n",
    }
    for path, body in expected.items():
        answer = raw_get(edge_without_upstreams, path)
        assert (answer.status, answer.media, answer.body) == (502, "text/plain", body), path


def test_a_signed_feed_signs_the_path_below_the_api_and_passes_the_edge(
    live: Stack, edge_url: str, client: httpx.Client
) -> None:
    box = SecretBox([live.env["PRESSROOM_FEED_SECRETS_KEY"]])
    registry = FeedRegistry(Storage.from_settings(live.settings()).data, 0, box)
    _, key = registry.add("edge-signed", signing_secret="edge-secret")
    article = json.loads(sample()) | {"external_id": "edge signed ~%"}
    body = json.dumps(article).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    # ingest reads the feed registry again within PRESSROOM_FEED_CACHE_SECONDS
    unknown = f"{edge_url}/api/ingest/v1/articles/{'0' * 20}"
    deadline = time.monotonic() + 30
    while client.get(unknown, headers=headers).status_code == 401:
        assert time.monotonic() < deadline, "the new feed's key was never accepted"
        time.sleep(0.2)
    signed = signature_headers("edge-secret", body, method="POST", path="/v1/articles")
    posted = client.post(
        f"{edge_url}/api/ingest/v1/articles", content=body, headers=headers | signed
    )
    assert posted.status_code == 202, posted.text
    path = f"/v1/articles/{posted.json()['id']}"
    query = "version=2&reason=a%20b"
    signed = signature_headers("edge-secret", b"", method="DELETE", path=path, query=query)
    withdrawn = client.delete(f"{edge_url}/api/ingest{path}?{query}", headers=headers | signed)
    assert withdrawn.status_code in (200, 202), withdrawn.text
