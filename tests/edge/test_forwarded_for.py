"""Through the edge, the counter sees the reader's own address: nginx appends the peer to
X-Forwarded-For and the counter believes only what its trusted proxy (the edge) added."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.stack import servers
from services.stack.run import Stack
from services.stack.servers import Server
from tests.conftest import sample
from tests.edge.fronts import running_nginx
from tests.stack import harness
from tests.test_end_to_end import page_path, wait_for_page


@pytest.fixture(scope="module")
def deduping_edge(live: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The edge in front of a counter that counts a reader once per window, as production's
    does (the session stack's counts every view), trusting X-Forwarded-For from loopback's
    127.0.0.1 only: the readers below connect from other loopback addresses."""
    logs = Path(tmp_path_factory.mktemp("forwarded"))
    port = harness.free_port()
    env = live.env | {
        "PRESSROOM_DEDUPE_SECONDS": "300",
        "PRESSROOM_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    argv = [sys.executable, "-m", "services", "counter", "--port", str(port)]
    counter = Server("counter-dedupe", argv, logs / "counter.log", env=env).start()
    try:
        url = f"http://127.0.0.1:{port}"
        servers.wait_until(
            lambda: httpx.get(f"{url}/healthz").is_success, "counter", server=counter
        )
        with running_nginx(live.urls | {"counter_url": url}, logs) as edge_url:
            yield edge_url
    finally:
        counter.stop()


def reader(address: str) -> httpx.Client:
    """A reader's browser on its own address (every 127.x.y.z is this machine's)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(transport=transport, timeout=10, headers={"User-Agent": "Mozilla/5.0"})


def test_the_counter_tells_readers_apart_by_their_own_address_through_the_edge(
    deduping_edge: str, ingest: httpx.Client, site: httpx.Client
) -> None:
    article = json.loads(sample()) | {"external_id": f"forwarded-{uuid.uuid4().hex[:8]}"}
    accepted = ingest.post("/v1/articles", json=article).json()
    assert wait_for_page(site, page_path(accepted["url"])).status_code == 200
    hit = f"{deduping_edge}/api/counter/v1/hits/{accepted['id']}"

    with reader("127.0.0.3") as first, reader("127.0.0.4") as second:
        counts = [
            first.post(hit).json()["count"],
            first.post(hit).json()["count"],  # the same reader again: not counted
            second.post(hit).json()["count"],  # the same browser elsewhere: a new reader
            # a reader naming another address is still itself: not counted
            first.post(hit, headers={"X-Forwarded-For": "198.51.100.7"}).json()["count"],
        ]

    assert counts == [1, 1, 2, 2]
