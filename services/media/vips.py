"""PNG and WebP shrunk while they decode (libvips streams the rows), so a worker never holds
the whole picture; everything else about a picture stays with Pillow (images.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from PIL import Image

# Pillow's mode for each band count libvips hands back once the pixels are 8-bit.
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


@cache
def _library() -> Any:
    """libvips, loaded on first use: inside the worker process that renders, never in a
    parent that forks workers (libvips's threads do not survive a fork)."""
    import pyvips  # type: ignore[import-untyped]  # its stubs ship without py.typed

    pyvips.cache_set_max(0)  # each picture is decoded once: a cache would only hold memory
    pyvips.block_untrusted_set(True)  # only the loaders libvips deems safe for hostile bytes
    return pyvips


def shrink(data: bytes, width: int, height: int) -> Image.Image:
    """The picture's pixels at exactly width x height, in its stored orientation (the caller
    turns it), its metadata left behind. Raises on truncated or corrupt bytes."""
    pyvips = _library()
    source = pyvips.Source.new_from_memory(data)
    # force: the caller's rounding of the height wins, so no second resize is needed; the
    # loader's own fail_on (thumbnail's does not reach it) makes truncation an error.
    thumb = pyvips.Image.thumbnail_source(
        source, width, height=height, size="force", no_rotate=True, option_string="fail_on=error"
    )
    if thumb.format != "uchar":  # 16-bit PNG: to 8 bits with the tone curve kept
        thumb = thumb.colourspace("srgb" if thumb.bands >= 3 else "b-w")
    if thumb.bands not in MODES:
        raise ValueError(f"{thumb.bands} colour bands")
    pixels = thumb.write_to_memory()  # the decode runs here, strip by strip
    return Image.frombytes(MODES[thumb.bands], (thumb.width, thumb.height), pixels)
