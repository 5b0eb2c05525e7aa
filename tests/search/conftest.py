"""Search tests use the render fixtures: a render context and a desk on the test's own names."""

from tests.render.conftest import make_render, newsroom

__all__ = ["make_render", "newsroom"]
