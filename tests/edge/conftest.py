"""The session stack's edge: nginx with compose's configuration, as `pressroom run` starts it."""

from __future__ import annotations

import pytest

from services.stack.run import Stack


@pytest.fixture(scope="package")
def edge_url(live: Stack) -> str:
    return live.urls["site_url"].rstrip("/")
