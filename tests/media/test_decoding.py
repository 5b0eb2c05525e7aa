"""How each type is decoded: PNG and WebP shrunk while libvips streams them (with Pillow's
reading of their orientation and colour profile), GIF and AVIF whole under a lower limit,
and a worker's memory for the largest picture the limit allows."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import pytest
import pyvips  # type: ignore[import-untyped]
from PIL import Image

from services.media import images
from tests.media.pictures import ORIENTATION

LIMIT = 60_000_000
WIDTHS = [320, 640, 960, 1280, 1920]
# A render worker's peak resident memory must stay under this for any picture the limit
# lets through (the aim for a 50-megapixel picture).
WORKER_MEMORY_MB = 300


def rendered(data: bytes, widths: list[int] = WIDTHS) -> list[images.Encoded]:
    return list(images.render(data, LIMIT, widths, "webp", jpeg_quality=80, modern_quality=75))


def pixel(encoded: images.Encoded, at: tuple[int, int] = (5, 5)) -> tuple[int, ...]:
    value = Image.open(io.BytesIO(encoded.body)).convert("RGBA").getpixel(at)
    assert isinstance(value, tuple)
    return value


def png(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", **options)
    return out.getvalue()


def flat_png(width: int, height: int) -> bytes:
    """An 8-bit RGB PNG of width x height mid-grey pixels, made without decoding it (a few
    hundred KB on the wire, width x height x 3 bytes decoded)."""
    row = b"\x00" + b"\x80" * (3 * width)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.mark.unit
def test_a_16_bit_png_keeps_its_tones() -> None:
    grey = Image.new("I;16", (400, 300), 0x8080)  # mid-grey in 16 bits

    made = rendered(png(grey), [320])

    red, green, blue, _ = pixel(made[0])
    assert 120 <= red <= 136
    assert red == green == blue


@pytest.mark.unit
def test_a_wide_gamut_png_is_shown_in_srgb() -> None:
    srgb = pyvips.Image.black(400, 300).new_from_image([200, 30, 30])
    p3 = srgb.copy(interpretation="srgb").icc_transform("p3", input_profile="srgb")
    assert p3(5, 5)[:3] != [200, 30, 30]  # the stored numbers are Display P3's

    made = rendered(p3.pngsave_buffer(), [320])

    for encoded in made:
        red, green, blue, _ = pixel(encoded)
        assert abs(red - 200) <= 6
        assert abs(green - 30) <= 6
        assert abs(blue - 30) <= 6


@pytest.mark.unit
@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_a_streamed_picture_turned_by_its_exif_stands_upright(fmt: str) -> None:
    stored = Image.new("RGB", (1200, 800), "white")
    stored.paste((0, 0, 255), (0, 0, 100, 100))  # a blue top-left corner as stored
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # turn 90 degrees clockwise to show
    out = io.BytesIO()
    stored.save(out, fmt, exif=exif.tobytes())

    made = rendered(out.getvalue(), [640, 1920])

    largest = max(made, key=lambda e: e.width)
    assert (largest.width, largest.height) == (800, 1200)
    shown = Image.open(io.BytesIO(largest.body))
    assert shown.size == (800, 1200)
    top_right = shown.convert("RGB").getpixel((790, 10))
    assert isinstance(top_right, tuple)
    assert top_right[2] > 200 > top_right[0]  # the blue corner moved to the top right
    assert dict(shown.getexif()) == {}


@pytest.mark.unit
def test_a_transparent_palette_png_keeps_its_transparency() -> None:
    palette = Image.new("P", (600, 400), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255])
    palette.paste(1, (300, 0, 600, 400))

    made = rendered(png(palette, transparency=0), [320])

    webp = next(e for e in made if e.format == "webp")
    jpeg = next(e for e in made if e.format == "jpeg")
    assert pixel(webp)[3] == 0  # the transparent half stays transparent
    assert pixel(webp, (300, 100))[:3] == (0, 0, 255)
    assert pixel(jpeg)[:3] == (255, 255, 255)  # and is white in the JPEG


@pytest.mark.unit
@pytest.mark.parametrize("fmt", ["GIF", "AVIF"])
def test_a_type_decoded_whole_has_a_lower_pixel_limit(fmt: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (4001, 4000), "white").save(out, fmt)

    with pytest.raises(images.BadPicture, match=r"decoded whole.*16,000,000"):
        images.inspect(out.getvalue(), LIMIT)


WORKER = """
import sys
import services.media.tasks  # what a render worker has loaded besides
from services.media import images
data = sys.stdin.buffer.read()
made = list(images.render(data, 60_000_000, [320, 640, 960, 1280, 1920], "webp",
    jpeg_quality=80, modern_quality=75))
assert [(e.width, e.format) for e in made][0] == (1920, "webp"), made
status = open("/proc/self/status").read()
print(int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) // 1024)
"""


def test_a_worker_renders_the_largest_png_the_limit_allows_within_its_memory() -> None:
    side = int(LIMIT**0.5)  # 60 megapixels: 180 MB of pixels decoded whole
    data = flat_png(side, side)

    worker = subprocess.run(
        [sys.executable, "-c", WORKER], input=data, capture_output=True, check=True, timeout=120
    )

    assert int(worker.stdout) < WORKER_MEMORY_MB
