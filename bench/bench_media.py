"""Renditions of a 12-megapixel JPEG per CPU second, beside the obvious Pillow way in the same
run, and the peak RSS of a worker process rendering 50-megapixel pictures.

Ours is services/media/images.py: one decode reduced on load (JPEG DCT scaling), every width
resized from the one above it, each encoded as WebP (the default modern format) and JPEG.
The baseline makes the same renditions the obvious way: for each width and format, Pillow
open, `thumbnail`, save (thumbnail already decodes JPEGs reduced; it decodes once per
output). Both encode with the same quality settings. CPU seconds, not wall time: the
machine is shared. The memory figures come from children that import what a render worker
imports, each reporting its kernel high-water mark (VmHWM): a 50-megapixel picture of each
type a worker may be handed (JPEG decoded reduced, PNG and WebP shrunk while libvips streams
them), and GIF and AVIF at the largest their lower limit lets through (decoded whole).
BENCH_MEDIA_RUNS sets the runs per variant (default 3; the median is shown).
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageFilter

from services.media import images
from services.media.schemas import RenditionFormat
from services.media.settings import MediaSettings

RUNS = int(os.environ.get("BENCH_MEDIA_RUNS", "3"))
SETTINGS = MediaSettings(environment="development")
WIDTHS = SETTINGS.media_widths
QUALITY: dict[RenditionFormat, int] = {
    "jpeg": SETTINGS.media_jpeg_quality,
    "webp": SETTINGS.media_modern_quality,
    "avif": SETTINGS.media_modern_quality,
}
CHILD = """
import io, os, resource, sys
import services.media.tasks  # what a render worker has loaded besides
from services.media import images
from services.media.settings import MediaSettings
settings = MediaSettings(environment="development")
data = open(sys.argv[1], "rb").read() if sys.argv[1] != "-" else None
if data is not None:
    made = list(images.render(data, settings.media_max_pixels, settings.media_widths,
        settings.media_format, jpeg_quality=settings.media_jpeg_quality,
        modern_quality=settings.media_modern_quality))
    print(len(made), end=" ")
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(int(hwm.split()[1]))
"""


def photo(width: int, height: int) -> Image.Image:
    """A picture with a photo's mix of smooth areas, edges and grain."""
    base = Image.effect_mandelbrot((width, height), (-2.0, -1.2, 1.0, 1.2), 80).convert("RGB")
    grain = Image.effect_noise((width, height), 24).convert("RGB")
    return Image.blend(base, grain, 0.12).filter(ImageFilter.GaussianBlur(1.0))


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def save_options(fmt: RenditionFormat) -> dict[str, object]:
    """The encoder settings ours uses, given to the baseline too."""
    return images.encoder_options(fmt, QUALITY[fmt])


def naive(data: bytes, modern: RenditionFormat) -> int:
    made = 0
    for width in images.rendition_widths(4000, WIDTHS):
        for fmt in (modern, "jpeg"):
            image = Image.open(io.BytesIO(data))
            image.thumbnail((width, width * 10))
            encoded(image, images.ENCODERS[fmt], **save_options(fmt))
            made += 1
    return made


def ours(data: bytes, modern: RenditionFormat) -> int:
    made = images.render(
        data,
        SETTINGS.media_max_pixels,
        WIDTHS,
        modern,
        jpeg_quality=QUALITY["jpeg"],
        modern_quality=QUALITY[modern],
    )
    return sum(1 for _ in made)


def per_cpu_second(run: Callable[[], int]) -> tuple[float, float]:
    """Median renditions per CPU second (all threads of this process) and wall seconds."""
    rates, walls = [], []
    for _ in range(RUNS):
        cpu, wall = time.process_time(), time.perf_counter()
        made = run()
        rates.append(made / (time.process_time() - cpu))
        walls.append(time.perf_counter() - wall)
    return statistics.median(rates), statistics.median(walls)


def peak_rss_mb(path: str) -> tuple[float, str]:
    """The peak RSS of one child that renders the file at path ("-": imports only), as its
    kernel high-water mark VmHWM: the child's own memory (wait4's ru_maxrss would also
    count this process's size at the fork, which the kernel carries across exec)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert child.stdout is not None
    out = child.stdout.read().decode()
    if child.wait() != 0:
        raise SystemExit(f"the rendering child failed: {out[-2000:]}")
    *made, hwm_kb = out.split()
    return int(hwm_kb) / 1024, " ".join(made)


def fifty_megapixels(home: Path) -> list[tuple[str, Path]]:
    """The same 50 MP photo as each type a worker may be handed, plus GIF and AVIF at the
    largest they may be (images.WHOLE_MAX_PIXELS: those types are decoded whole)."""
    big = photo(8660, 5774)
    clear = big.convert("RGBA")
    clear.putalpha(200)
    side = int(images.WHOLE_MAX_PIXELS**0.5)
    whole = big.crop((0, 0, side, side))
    files = {
        "JPEG": encoded(big, "JPEG", quality=90),
        "PNG": encoded(big, "PNG", compress_level=1),
        "PNG with alpha": encoded(clear, "PNG", compress_level=1),
        "palette PNG": encoded(big.quantize(256), "PNG"),
        "WebP": encoded(big, "WEBP", quality=75, method=0),
        f"{side * side / 1e6:.0f} MP GIF": encoded(whole.quantize(256), "GIF"),
        f"{side * side / 1e6:.0f} MP AVIF": encoded(whole, "AVIF", quality=50, speed=10),
    }
    made = []
    for number, (name, body) in enumerate(files.items()):
        path = home / f"picture-{number}"
        path.write_bytes(body)
        label = name if " MP " in name else f"50 MP {name}"
        made.append((f"{label} ({len(body) / 1e6:.0f} MB)", path))
    return made


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    print(f"load average before: {loadavg()}")
    twelve = encoded(photo(4000, 3000), "JPEG", quality=90)
    print(f"12 MP JPEG: 4000x3000, {len(twelve) / 1e6:.1f} MB; widths {WIDTHS}; {RUNS} runs")
    print(f"{'variant':<44} {'renditions/cpu-s':>17} {'wall s/set':>11} {'x baseline':>11}")
    for modern in ("webp", "avif"):
        base_rate, base_wall = per_cpu_second(lambda m=modern: naive(twelve, m))  # type: ignore[misc]
        our_rate, our_wall = per_cpu_second(lambda m=modern: ours(twelve, m))  # type: ignore[misc]
        rows = [
            (f"baseline: Pillow open+thumbnail+save, {modern}+jpeg", base_rate, base_wall),
            (f"ours: decode once, cascade, {modern}+jpeg", our_rate, our_wall),
        ]
        for name, rate, wall in rows:
            print(f"{name:<44} {rate:>17.1f} {wall:>11.2f} {rate / base_rate:>10.2f}x")
    print(f"load average after the throughput runs: {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-media-") as home:
        print(f"{'peak RSS of a worker process':<44} {'MB':>8}")
        for name, path in (("imports only (no picture)", "-"), *fifty_megapixels(Path(home))):
            rss, made = peak_rss_mb(str(path))
            print(f"{name:<44} {rss:>8.0f}  {made and made + ' renditions'}")
    print(f"load average after: {loadavg()}")
