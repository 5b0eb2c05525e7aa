"""Render workers SIGKILLed while a media.fetch is inside the download: the fetch is
redelivered, and the picture ends ready on the page, never stuck pending."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.faults.conftest import FAST_RECOVERY, FaultStack, wait_for
from tests.faults.figures import record
from tests.media.pictures import QuietHandler, http_server, photo

PATH = "/stalls.jpg"


@dataclass
class StallingAgency:
    """Serves one picture; the first download sends half the body and stalls there until
    the test lets go, every later one is whole."""

    picture: bytes
    port: int = 0
    downloads: int = 0
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"


@contextmanager
def stalling_agency(picture: bytes) -> Iterator[StallingAgency]:
    state = StallingAgency(picture)

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            state.downloads += 1
            first = state.downloads == 1
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(state.picture)))
            self.end_headers()
            try:
                if first:
                    self.wfile.write(state.picture[: len(state.picture) // 2])
                    self.wfile.flush()
                    state.stalled.set()
                    state.release.wait(60)
                self.wfile.write(state.picture[len(state.picture) // 2 if first else 0 :])
            except (BrokenPipeError, ConnectionResetError):
                return  # the worker that was reading is dead

    with http_server(Handler) as state.port:
        try:
            yield state
        finally:
            state.release.set()  # a request still stalled lets the server stop


def picture_states(fs: FaultStack, article_id: str) -> list[str]:
    status = fs.ingest.get(f"/v1/articles/{article_id}").json()
    return [picture["state"] for picture in status["pictures"]]


def test_a_worker_killed_mid_download_leaves_the_picture_to_redelivery(
    fault_stack: Callable[..., FaultStack],
) -> None:
    fs = fault_stack()
    workers = [name for name in fs.stack.apps if name.startswith("render-worker")]
    wait_for(lambda: all("ready" in fs.log(name) for name in workers), "workers ready", 30)
    with stalling_agency(photo(1600, 1200)) as agency:
        article = fs.article("kill-mid-fetch", images=[{"href": agency.url(), "caption": "现场"}])
        answer = fs.ingest.post("/v1/articles", json=article)
        assert answer.status_code == 202, answer.text
        article_id, url = answer.json()["id"], answer.json()["url"]
        assert agency.stalled.wait(30), "the fetch never reached the picture server"
        taken_at = time.monotonic()  # the message was taken before this
        wait_for(lambda: fs.page(url) is not None, "the article published without it", 30)

        for name in workers:
            fs.kill(name)
        killed_at = time.monotonic()
        assert picture_states(fs, article_id) == ["pending"]
        agency.release.set()  # the dead worker's connection is gone; later downloads are whole
        # A worker starting after the visibility timeout puts the dead one's message back
        # at once (kombu scans the unacknowledged when a worker starts, then only now and
        # then), as a supervisor's restart after a crash would.
        visibility = float(FAST_RECOVERY["PRESSROOM_VISIBILITY_TIMEOUT"])
        time.sleep(max(0.0, taken_at + visibility + 0.5 - time.monotonic()))
        for name in workers:
            fs.restart_app(name)

        wait_for(lambda: picture_states(fs, article_id) == ["ready"], "picture ready", 90)
        ready_after = time.monotonic() - killed_at
        wait_for(lambda: b"<picture>" in (fs.page(url) or b""), "picture on the page", 30)

    page = (fs.page(url) or b"").decode()
    assert f"127.0.0.1:{agency.port}" not in page  # shown from the site, not hotlinked
    status = fs.ingest.get(f"/v1/articles/{article_id}").json()
    assert status["status"] == "published"
    assert status["pictures"][0]["error"] is None
    shown = set(re.findall(r"/(media/[0-9a-f]{2}/[^\s\",]+)", page))
    assert shown
    assert all(fs.storage.site.get(key) for key in shown)  # every rendition the page names
    assert agency.downloads >= 2  # the redelivered fetch downloaded it again
    record(
        "render workers SIGKILLed inside a media.fetch",
        faults=len(fs.faults),
        downloads=agency.downloads,
        ready_after_kill_s=round(ready_after, 1),
        stuck_pending=0,
    )
