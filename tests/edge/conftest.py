"""An nginx edge in front of the session stack, beside the preview edge the stack started."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.stack.run import Stack
from tests.edge.fronts import running_nginx


@pytest.fixture(scope="package")
def nginx_url(live: Stack) -> Iterator[str]:
    with running_nginx(live.urls, live.home / "logs") as url:
        yield url


@pytest.fixture(scope="package")
def edges(live: Stack, nginx_url: str) -> dict[str, str]:
    """Base URL of each edge, by name."""
    return {"preview": live.urls["site_url"].rstrip("/"), "nginx": nginx_url}
