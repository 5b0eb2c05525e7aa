"""One private stack for every hostile-input test: fuzzing and floods must not slow or
pollute the session stack other tests share, and they may list its buckets whole."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.conftest import FaultStack, running_stack, wait_for


@pytest.fixture(scope="package")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    # feed keys and revocations take effect at once (no registry cache to wait out)
    home = tmp_path_factory.mktemp("hostile")
    # ...and the counter as in production: one count per reader per window, robots and
    # headless browsers not counted (the development stack counts every view)
    production_counter = {"PRESSROOM_DEDUPE_SECONDS": "30", "PRESSROOM_COUNT_HEADLESS": "false"}
    # ...and a stalled body is cut well before test_body_limits stops waiting for an answer
    stall = {"PRESSROOM_BODY_TIMEOUT_SECONDS": "2", "PRESSROOM_EDGE_BODY_TIMEOUT_SECONDS": "2"}
    with running_stack(home, PRESSROOM_FEED_CACHE_SECONDS="0", **production_counter, **stall) as fs:
        yield fs


def publish(fs: FaultStack, external_id: str, **changes: object) -> dict[str, str]:
    """Post an article as the dev feed and wait for its page; returns the 202 answer."""
    answer = fs.ingest.post("/v1/articles", json=fs.article(external_id, **changes))
    assert answer.status_code == 202, answer.text
    accepted: dict[str, str] = answer.json()
    wait_for(lambda: fs.page(accepted["url"]) is not None, "page published", 30)
    return accepted
