"""Picture checks and renditions: the type from the bytes, the size from the header, then
one decode (reduced on load where the format allows) reused for every width and format."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from services.media import vips
from services.media.schemas import RenditionFormat

# Pillow's decoder name for each type we accept; nothing else is ever handed to Pillow.
DECODERS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "avif": "AVIF"}
ENCODERS: dict[RenditionFormat, str] = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}
EXTENSIONS: dict[RenditionFormat, str] = {"jpeg": "jpg", "webp": "webp", "avif": "avif"}
CONTENT_TYPES: dict[RenditionFormat, str] = {
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
}
AVIF_BRANDS = (b"avif", b"avis")
# EXIF orientations that swap width and height.
SWAPPED = frozenset({5, 6, 7, 8})
# Types libvips decodes row by row, shrinking as it goes, so their memory stays small.
STREAMED = frozenset({"png", "webp"})
# Types only ever decoded whole (Pillow's GIF and AVIF, libvips's too); a lower pixel limit
# keeps a worker rendering the largest of them inside the same memory as a streamed one.
WHOLE = frozenset({"gif", "avif"})
WHOLE_MAX_PIXELS = 16_000_000
# Part of every rendition's name: raise it when a change here alters the bytes made from the
# same original and settings (resampling, decoding), so no cached name gets new bytes.
RECIPE_VERSION = 1


class BadPicture(Exception):
    """The bytes are not a picture we render; `str()` is the reason shown in the status."""


@dataclass(frozen=True)
class Header:
    """What the header says, before any pixel is decoded."""

    kind: str  # a key of DECODERS
    width: int  # as displayed (orientation applied)
    height: int


@dataclass(frozen=True)
class Encoded:
    width: int
    height: int
    format: RenditionFormat
    body: bytes


def sniff(data: bytes) -> str:
    """The picture type decided by the magic bytes, never by a header or an extension."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and _avif_brand(data):
        return "avif"
    start = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"<") and (b"<svg" in data[:4096].lower() or start.startswith(b"<?xml")):
        raise BadPicture("SVG/XML is refused: only JPEG, PNG, WebP, GIF and AVIF")
    raise BadPicture("not a picture: the bytes are not JPEG, PNG, WebP, GIF or AVIF")


def _avif_brand(data: bytes) -> bool:
    size = int.from_bytes(data[:4], "big")
    box = data[8 : min(max(size, 16), 256)]
    return any(box[i : i + 4] in AVIF_BRANDS for i in range(0, len(box) - 3, 4))


def open_picture(data: bytes, max_pixels: int) -> tuple[Image.Image, Header]:
    """Open (not decode) the picture, refusing it by type or by its header's pixel count."""
    kind = sniff(data)
    try:
        with warnings.catch_warnings():
            # Our own limit is checked below, on the header, before any decoding.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[DECODERS[kind]])
    except Image.DecompressionBombError as exc:  # far beyond any limit of ours
        raise BadPicture(f"too many pixels: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise BadPicture(f"unreadable {kind.upper()} header: {exc}") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise BadPicture(f"{kind.upper()} of {width}x{height} pixels")
    if width * height > max_pixels:
        raise BadPicture(
            f"{width}x{height} is {width * height:,} pixels; the limit is {max_pixels:,}"
        )
    if kind in WHOLE and width * height > WHOLE_MAX_PIXELS:
        raise BadPicture(
            f"{kind.upper()} of {width}x{height} pixels: this type is decoded whole, "
            f"so its limit is {WHOLE_MAX_PIXELS:,} pixels"
        )
    if _orientation(image) in SWAPPED:
        width, height = height, width
    return image, Header(kind, width, height)


def inspect(data: bytes, max_pixels: int) -> Header:
    return open_picture(data, max_pixels)[1]


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation from the header's EXIF block (getexif() would decode a PNG)."""
    raw = image.info.get("exif")
    if not isinstance(raw, bytes):
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
        return int(exif.get(0x0112, 1))
    except Exception:  # a broken EXIF block only loses the orientation
        return 1


def rendition_widths(width: int, widths: list[int]) -> list[int]:
    """The widths to render for a picture this wide: never upscaled; a picture narrower than
    the largest width gets its own width too, so the sharpest copy is never lost."""
    chosen = [w for w in widths if w < width]
    if width <= max(widths):
        chosen.append(width)
    else:
        chosen.append(max(widths))
    return sorted(set(chosen))


def decode(data: bytes, max_pixels: int, largest: int) -> Image.Image:
    """Decode once, as small as the largest rendition allows; orientation applied, colours
    in sRGB, every metadata block (EXIF, GPS, XMP, ICC, comments) left behind."""
    image, header = open_picture(data, max_pixels)
    swapped = _orientation(image) in SWAPPED
    target = max(1, round(header.height * largest / header.width))
    box = (target, largest) if swapped else (largest, target)
    try:
        if header.kind in STREAMED:
            image = _streamed(data, image, box)
        else:
            if header.kind == "jpeg":
                image.draft("RGB", box)  # DCT scaling: decodes at 1/2, 1/4 or 1/8 when it can
            image.load()  # GIF, AVIF: the first frame (open leaves it there; a seek(0)
            # would rewind to a lenient decoder that hides a corrupt stream)
        ImageOps.exif_transpose(image, in_place=True)
        return _clean(image)
    except BadPicture:
        raise
    except Exception as exc:  # every decoder failure is a property of the bytes
        raise BadPicture(f"truncated or corrupt {header.kind.upper()}: {exc}") from exc


def _streamed(data: bytes, opened: Image.Image, box: tuple[int, int]) -> Image.Image:
    """The pixels from libvips at the stored size box, with the header's EXIF and ICC
    profile (as Pillow read them) put back for turning and colour conversion."""
    image = vips.shrink(data, *box)
    image.info = {k: opened.info[k] for k in ("exif", "icc_profile") if opened.info.get(k)}
    return image


def _clean(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    mode = "RGBA" if alpha else "RGB"
    if profile and image.mode in ("RGB", "RGBA", "CMYK"):
        image = _to_srgb(image, profile, mode)
    if image.mode != mode:
        image = image.convert(mode)
    image.info = {}  # nothing of the original's metadata may reach an encoder
    return image


def _to_srgb(image: Image.Image, profile: bytes, mode: str) -> Image.Image:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        srgb = ImageCms.createProfile("sRGB")
        converted = ImageCms.profileToProfile(image, source, srgb, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # an unusable profile: keep the pixels as they are
    return converted if converted is not None else image


def render(
    data: bytes,
    max_pixels: int,
    widths: list[int],
    modern: RenditionFormat,
    *,
    jpeg_quality: int,
    modern_quality: int,
) -> Iterator[Encoded]:
    """Each width, largest first, in the modern format and as JPEG. The picture is decoded
    once, and each width is resized from the one before it (cheaper than from the original);
    the decoded original is let go as soon as the largest width is made."""
    header = inspect(data, max_pixels)
    chosen = sorted(rendition_widths(header.width, widths), reverse=True)
    current = decode(data, max_pixels, chosen[0])
    for width in chosen:
        height = max(1, round(header.height * width / header.width))
        if (width, height) != current.size:
            # reducing_gap: a box reduction by a whole factor first, as Image.thumbnail does
            current = current.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=2.0)
        yield Encoded(width, height, modern, _encode(current, modern, modern_quality))
        yield Encoded(width, height, "jpeg", _encode(_opaque(current), "jpeg", jpeg_quality))


def _opaque(image: Image.Image) -> Image.Image:
    if image.mode != "RGBA":
        return image
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def _encode(image: Image.Image, fmt: RenditionFormat, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, ENCODERS[fmt], **encoder_options(fmt, quality))
    return out.getvalue()


def encoder_options(fmt: RenditionFormat, quality: int) -> dict[str, object]:
    """What the encoder is given; part of each rendition's name (store.recipe)."""
    options: dict[str, object] = {"quality": quality}
    if fmt == "jpeg":
        options |= {"optimize": True, "progressive": True}
    elif fmt == "avif":
        options |= {"speed": 8}
    return options
