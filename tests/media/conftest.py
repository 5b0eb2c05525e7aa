"""A media context of one's own on the session's Valkey and SeaweedFS, and a picture server."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network

import pytest

from services.media.fetch import PictureFetcher
from services.media.settings import MediaSettings
from services.media.store import MediaContext
from tests.conftest import Isolated
from tests.media.pictures import PictureServer, picture_server


@pytest.fixture(scope="module")
def server() -> Iterator[PictureServer]:
    with picture_server("127.0.0.1") as running:
        yield running


@pytest.fixture
def media(isolated: Isolated) -> MediaContext:
    """Production's rules, except that the tests' loopback server may be fetched from."""
    settings = MediaSettings.model_validate(
        isolated.settings.model_dump()
        | {
            "environment": "production",
            "media_allowed_networks": [ip_network("127.0.0.1/32")],
            "media_fetch_attempts": 3,
            "media_sweep_grace_seconds": 3600.0,
        }
    )
    return MediaContext(
        settings=settings,
        storage=isolated.storage,
        redis=isolated.redis,
        keys=isolated.keys,
        fetcher=PictureFetcher(settings),
    )
