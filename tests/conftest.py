"""Session fixtures: real Valkey and SeaweedFS on loopback, and the whole stack over them.

Each test that talks to the servers directly gets its own key prefix and buckets, so test
order never matters. End-to-end tests share one running stack (ingest, counter, a real
Celery worker, the scheduler, the edge) started exactly as `pressroom run` starts it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import redis
from playwright.sync_api import Browser, sync_playwright

from services.stack import lifeline
from services.stack.run import CREDENTIAL_VARIABLES, Stack
from shared.celery_app import configure_celery
from shared.keys import Keys
from shared.settings import CommonSettings
from shared.storage import Storage
from tests.stack import harness

# Every stack of the session (and every `pressroom` process a test starts) runs its store
# with this key pair, so Settings built in a test reach whichever stack they point at.
TEST_CREDENTIALS = ("pressroom-test", secrets.token_urlsafe(32))
os.environ.update(zip(CREDENTIAL_VARIABLES, TEST_CREDENTIALS, strict=True))


# The stacks' edge is production's nginx, which keeps a page as long as its Cache-Control
# says; the tests' pages are stored uncached, so that a test sees each change it makes at once
# (tests/deploy/test_nginx_edge.py checks the caching on a page stored as production does).
FRESH_PAGES = {
    "PRESSROOM_HTML_CACHE_CONTROL": "no-cache",
    "PRESSROOM_SEARCH_CACHE_CONTROL": "no-cache",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that start stacks of their own run first: xdist (`--dist loadfile` with
    `--no-loadscope-reorder`) hands files out in this order, so no long file starts last."""
    items.sort(key=lambda item: 0 if long_running(item) else 1)


def long_running(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is not None or "faults" in item.path.parts


@pytest.fixture(scope="session", autouse=True)
def no_stray_processes() -> Iterator[None]:
    """Whatever a test started and did not stop is stopped when the session ends, and named,
    so that `make test` never leaves a server behind on the machine."""
    yield
    leftovers = [
        child
        for child in psutil.Process().children(recursive=True)
        if child.pid != lifeline.watchdog.pid
    ]
    for child in leftovers:
        with contextlib.suppress(psutil.NoSuchProcess):
            print(f"stopping a stray process: {' '.join(child.cmdline())}")
            child.kill()
    psutil.wait_procs(leftovers, timeout=10)
    lifeline.watchdog.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("pressroom")
    running = Stack(home, prefix="e2e:", extra_env=dict(FRESH_PAGES))
    try:
        harness.start_on_free_ports(running)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def live(stack: Stack) -> Stack:
    """The stack with every Pressroom process running and the dev feed registered."""
    if not stack.apps:
        stack.extra_env["PRESSROOM_FEED_KEY"] = stack.start_apps()
    return stack


@pytest.fixture(scope="session")
def feed_key(live: Stack) -> str:
    return live.extra_env["PRESSROOM_FEED_KEY"]


def _ingest_client(live: Stack, feed_key: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {feed_key}"}
    return httpx.Client(base_url=live.urls["ingest_url"], headers=headers, timeout=30)


@pytest.fixture
def ingest(live: Stack, feed_key: str) -> Iterator[httpx.Client]:
    """The ingest API, authenticated as the dev feed."""
    with _ingest_client(live, feed_key) as client:
        yield client


@pytest.fixture(scope="module")
def ingest_module(live: Stack, feed_key: str) -> Iterator[httpx.Client]:
    with _ingest_client(live, feed_key) as client:
        yield client


@pytest.fixture
def site(live: Stack) -> Iterator[httpx.Client]:
    """The edge: the site at /, the APIs under /api/."""
    with httpx.Client(base_url=live.urls["site_url"], timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def site_module(live: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.urls["site_url"], timeout=30) as client:
        yield client


@dataclass
class Isolated:
    """Settings, clients and names private to one test."""

    settings: CommonSettings
    storage: Storage
    redis: redis.Redis
    keys: Keys


def new_isolated(stack: Stack) -> Isolated:
    """A key prefix, buckets and Celery queues of one's own on the session's servers."""
    tag = uuid.uuid4().hex[:10]
    settings = stack.settings(
        key_prefix=f"t{tag}:",
        queue_prefix=f"t{tag}.",
        site_bucket=f"site-{tag}",
        data_bucket=f"data-{tag}",
    )
    storage = Storage.from_settings(settings)
    storage.ensure_buckets()
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    return Isolated(settings, storage, client, Keys(settings.key_prefix))


@pytest.fixture
def isolated(stack: Stack) -> Iterator[Isolated]:
    mine = new_isolated(stack)
    configure_celery(mine.settings)  # its queues are this test's own; no worker consumes them
    yield mine
    mine.redis.close()


# Chromium as root, headless, with nothing reaching out to the (closed) network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium (installed by `make test`), driven by Playwright.

    Per module, not per session: Playwright's sync API keeps an event loop running in the
    main thread while it is open, and tests that call asyncio.run must not follow it."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


def sample(name: str = "01-seed-article.json") -> bytes:
    return (Path(__file__).resolve().parents[1] / "config" / "samples" / name).read_bytes()
