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
    with running_stack(home, PRESSROOM_FEED_CACHE_SECONDS="0") as fs:
        yield fs


def publish(fs: FaultStack, external_id: str, **changes: object) -> dict[str, str]:
    """Post an article as the dev feed and wait for its page; returns the 202 answer."""
    answer = fs.ingest.post("/v1/articles", json=fs.article(external_id, **changes))
    assert answer.status_code == 202, answer.text
    accepted: dict[str, str] = answer.json()
    wait_for(lambda: fs.page(accepted["url"]) is not None, "page published", 30)
    return accepted
