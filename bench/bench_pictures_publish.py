"""Publish latency of an article with one picture: from ingest's 202 to its page readable,
and to the picture on the page, beside articles without a picture posted in the same run.

The whole system runs as `pressroom run` starts it (ingest, one render worker with its
processes, which also consume media's queue; counter, scheduler, edge) on embedded Valkey
and SeaweedFS. An agency's server on loopback serves a 2000 x 1333 JPEG, each article's
with a different comment, so every picture is fetched, checked and rendered afresh (never
found stored already). Articles go one at a time, alternately with and without a picture;
a thread reads each page from the site bucket until it is there and shows the <picture>.
"""

from __future__ import annotations

import http.client
import statistics
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import redis

from bench.render_support import PARAGRAPH, percentile
from services.ingest.pictures import image_ref
from services.media.schemas import Picture, PictureState
from services.stack.run import Stack
from shared.keys import Keys
from tests.media.pictures import photo, picture_server
from tests.stack import harness

ROUNDS = 15
DEADLINE = 60.0


def variant(jpeg: bytes, n: int) -> bytes:
    """The same picture with a COM segment naming n: other bytes, the same decoding work."""
    comment = f"pressroom bench {n}".encode()
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[2:]


@dataclass
class Seen:
    """Seconds after the 202: the page readable, media's record ready, the <picture> shown."""

    readable: float | None = None
    ready: float | None = None
    shown: float | None = None


def watch(stack: Stack, page: str, posted: float, picture: str | None) -> Seen:
    """Read the page from the site bucket (and media's record of its picture, if it has
    one) until it is there and shows the picture."""
    s3 = http.client.HTTPConnection("127.0.0.1", stack.ports.s3, timeout=30)
    db, keys = redis.Redis.from_url(stack.urls["redis_url"]), Keys(stack.prefix)
    seen = Seen()
    while time.monotonic() < posted + DEADLINE:
        s3.request("GET", f"/{stack.site_bucket}/{page}")
        answer = s3.getresponse()
        body = answer.read()
        now = time.monotonic() - posted
        if answer.status == 200 and seen.readable is None:
            seen.readable = now
        if picture and seen.ready is None:
            record = db.get(keys.picture(image_ref(picture)))
            if record and Picture.model_validate_json(record).state == PictureState.ready:
                seen.ready = now
        if answer.status == 200 and (not picture or b"<picture>" in body):
            seen.shown = now if picture else None
            break
        time.sleep(0.01)
    db.close()
    return seen


def post(ingest: httpx.Client, n: int, picture: str | None) -> tuple[str, float]:
    story: dict[str, object] = {
        "external_id": f"picture-latency-{n}-{time.time_ns()}",
        "title": f"图片延迟测试 {n}",
        "body_html": PARAGRAPH * 5,
        "channel": "news",
    }
    if picture:
        story["images"] = [{"href": picture, "caption": "签约现场", "credit": "新华社"}]
    answer = ingest.post("/v1/articles", json=story)
    posted = time.monotonic()
    answer.raise_for_status()
    return str(answer.json()["url"]).split("/", 3)[3], posted


def report(name: str, values: list[float | None]) -> None:
    seen = [v * 1000 for v in values if v is not None]
    print(
        f"{name:<36} {len(values):>8} {statistics.median(seen):>8.0f} "
        f"{percentile(seen, 0.9):>8.0f} {max(seen):>8.0f} {len(values) - len(seen):>8}"
    )


def main() -> None:
    base = photo(2000, 1333, "JPEG", quality=90)
    env = {"PRESSROOM_LOG_LEVEL": "WARNING"}
    plain: list[Seen] = []
    pictured: list[Seen] = []
    with (
        tempfile.TemporaryDirectory(prefix="pressroom-pictures-") as home,
        picture_server() as agency,
    ):
        stack = Stack(Path(home), extra_env=env)
        try:
            harness.start_on_free_ports(stack)
            key = stack.start_apps()
            headers = {"Authorization": f"Bearer {key}"}
            load = " ".join(f"{x:.1f}" for x in psutil.getloadavg())
            print(f"load average before: {load}")
            with httpx.Client(base_url=stack.urls["ingest_url"], headers=headers) as ingest:
                for n in range(ROUNDS + 1):
                    url = agency.serve(f"/{n}.jpg", variant(base, n))
                    page, posted = post(ingest, n, None)
                    without = watch(stack, page, posted, None)
                    page, posted = post(ingest, n, url)
                    with_picture = watch(stack, page, posted, url)
                    if n:  # the first round warms every process up
                        plain.append(without)
                        pictured.append(with_picture)
            load = " ".join(f"{x:.1f}" for x in psutil.getloadavg())
            print(f"load average after: {load}")
        finally:
            stack.stop()
    print(f"JPEG {len(base):,} bytes, 2000 x 1333; one article at a time")
    columns = ("posts", "p50 ms", "p90 ms", "max ms", "missing")
    print(f"{'after the 202':<36} " + " ".join(f"{c:>8}" for c in columns))
    report("no picture: page readable (baseline)", [s.readable for s in plain])
    report("one picture: page readable", [s.readable for s in pictured])
    report("  media's record says ready", [s.ready for s in pictured])
    report("  picture on the page", [s.shown for s in pictured])
