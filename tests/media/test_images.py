"""Picture checks and renditions on real files made with Pillow, and hostile ones."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.media import images
from tests.media.pictures import EVIL_SVG, NOT_A_PICTURE, photo, png_bomb, with_gps

pytestmark = pytest.mark.unit
LIMIT = 60_000_000
WIDTHS = [320, 640, 960, 1280, 1920]


def render(data: bytes, widths: list[int] = WIDTHS) -> list[images.Encoded]:
    made = images.render(data, LIMIT, widths, "webp", jpeg_quality=80, modern_quality=75)
    return list(made)


def opened(encoded: images.Encoded) -> Image.Image:
    return Image.open(io.BytesIO(encoded.body))


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (photo(64, 48, "JPEG"), "jpeg"),
        (photo(64, 48, "PNG"), "png"),
        (photo(64, 48, "WEBP"), "webp"),
        (photo(64, 48, "GIF"), "gif"),
        (photo(64, 48, "AVIF"), "avif"),
    ],
)
def test_the_type_is_read_from_the_bytes(data: bytes, kind: str) -> None:
    assert images.sniff(data) == kind
    assert images.inspect(data, LIMIT) == images.Header(kind, 64, 48)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (EVIL_SVG, "SVG"),
        (b"\n  <svg onload='alert(1)'></svg>", "SVG"),
        (NOT_A_PICTURE, "not a picture"),
        (b"", "not a picture"),
        (b"%PDF-1.7\n", "not a picture"),
    ],
)
def test_what_is_not_a_raster_picture_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(images.BadPicture, match=reason):
        images.inspect(data, LIMIT)


@pytest.mark.parametrize("side", [30_000, 10_000])
def test_a_png_bomb_is_refused_by_its_header_before_decoding(side: int) -> None:
    bomb = png_bomb(side)
    assert len(bomb) < 200_000  # small on the wire, hundreds of megapixels decoded

    with pytest.raises(images.BadPicture, match=f"{side * side:,}|{side * side} pixels"):
        images.decode(bomb, LIMIT, 1920)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_picture_fails_with_a_reason(fmt: str) -> None:
    whole = photo(800, 600, fmt)

    with pytest.raises(images.BadPicture, match=r"truncated or corrupt|unreadable"):
        images.decode(whole[: len(whole) // 2], LIMIT, 1920)


def test_garbage_after_a_valid_header_fails_with_a_reason() -> None:
    whole = photo(800, 600, "PNG")
    corrupt = whole[:64] + bytes(len(whole) - 64)

    with pytest.raises(images.BadPicture):
        images.decode(corrupt, LIMIT, 1920)


def test_gps_and_every_metadata_block_are_gone_from_every_rendition() -> None:
    made = render(with_gps(1200, 800, orientation=1))

    assert made
    for encoded in made:
        picture = opened(encoded)
        assert dict(picture.getexif()) == {}
        assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp"} & set(picture.info)
        assert b"PressCam" not in encoded.body
        assert b"Exif" not in encoded.body


def test_the_orientation_is_applied_so_a_turned_photo_stands_upright() -> None:
    made = render(with_gps(1200, 800, orientation=6))  # stored landscape, shown portrait

    largest = max(made, key=lambda e: e.width)
    assert (largest.width, largest.height) == (800, 1200)
    assert opened(largest).size == (800, 1200)


def test_renditions_are_never_wider_than_the_original() -> None:
    made = render(photo(1000, 500))

    assert sorted({e.width for e in made}) == [320, 640, 960, 1000]
    for encoded in made:
        assert opened(encoded).size == (encoded.width, encoded.height)
        assert encoded.height == round(500 * encoded.width / 1000)


def test_each_width_comes_in_the_modern_format_and_as_jpeg() -> None:
    made = render(photo(2400, 1600))

    assert {(e.width, e.format) for e in made} == {(w, f) for w in WIDTHS for f in ("webp", "jpeg")}
    for encoded in made:
        assert images.sniff(encoded.body) == encoded.format


def test_a_transparent_png_keeps_alpha_in_webp_and_is_flattened_in_jpeg() -> None:
    clear = Image.new("RGBA", (400, 300), (255, 0, 0, 0))
    out = io.BytesIO()
    clear.save(out, "PNG")

    made = render(out.getvalue(), [320])

    webp = next(e for e in made if e.format == "webp" and e.width == 320)
    jpeg = next(e for e in made if e.format == "jpeg" and e.width == 320)
    assert opened(webp).mode == "RGBA"
    assert opened(jpeg).convert("RGB").getpixel((10, 10)) == (255, 255, 255)


def test_an_animated_gif_is_rendered_from_its_first_frame() -> None:
    frames = [Image.new("RGB", (200, 100), colour) for colour in ("blue", "yellow")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])

    made = render(out.getvalue())

    pixel = opened(next(e for e in made if e.format == "jpeg")).convert("RGB").getpixel((5, 5))
    assert isinstance(pixel, tuple)
    assert pixel[2] > 200 > pixel[0]  # blue, not yellow
