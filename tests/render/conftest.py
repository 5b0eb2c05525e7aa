"""Render fixtures: a render context on the test's own prefix, buckets and queues."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from services.render.service import RenderContext
from services.render.settings import RenderSettings
from services.render.tasks import build_context
from tests.conftest import Isolated

RenderFactory = Callable[..., RenderContext]


@pytest.fixture
def make_render(isolated: Isolated) -> RenderFactory:
    """Build a RenderContext as a worker would, with optional setting overrides."""

    def make(**overrides: object) -> RenderContext:
        fields = isolated.settings.model_dump() | overrides
        return build_context(RenderSettings(**fields))

    return make


@pytest.fixture
def site_toml(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write an operator's site.toml: the repo's, with some lines replaced."""

    def write(replacements: dict[str, str]) -> Path:
        text = (Path(__file__).resolve().parents[2] / "config" / "site.toml").read_text()
        for old, new in replacements.items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / "site.toml"
        path.write_text(text)
        return path

    return write
