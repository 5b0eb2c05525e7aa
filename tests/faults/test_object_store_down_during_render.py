"""SeaweedFS stopped during rendering, then restarted: tasks retry with backoff, no reader
sees a half-written page, and every page is eventually published."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from tests.faults.conftest import FaultStack, site_key, wait_for
from tests.faults.figures import record

ARTICLES = 30


def is_whole_page(body: bytes) -> bool:
    text = body.decode()
    return text.lstrip().lower().startswith("<!doctype html") and text.rstrip().endswith("</html>")


class Reader(threading.Thread):
    """A reader reloading published pages through the edge the whole time."""

    def __init__(self, edge_url: str, paths: list[str]) -> None:
        super().__init__(daemon=True)
        self.edge_url, self.paths = edge_url, paths
        self.statuses: dict[int, int] = {}
        self.torn: list[str] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.edge_url, timeout=5) as client:
            while not self.stopped.is_set():
                for path in self.paths:
                    try:
                        reply = client.get(path)
                    except httpx.TransportError:
                        continue
                    self.statuses[reply.status_code] = self.statuses.get(reply.status_code, 0) + 1
                    if reply.status_code == 200 and not is_whole_page(reply.content):
                        self.torn.append(path)


def test_pages_are_whole_and_all_published_after_the_object_store_returns(
    fault_stack: Callable[..., FaultStack],
) -> None:
    fs = fault_stack()
    fs.stack.apps["render-worker-0"].stop()  # queue the burst, then render it all at once
    accepted = [
        fs.ingest.post("/v1/articles", json=fs.article(f"s3-down-{n}")) for n in range(ARTICLES)
    ]
    assert {a.status_code for a in accepted} == {202}
    urls = [str(a.json()["url"]) for a in accepted]
    fs.restart_app("render-worker-0")
    wait_for(lambda: fs.renders() >= 2, "rendering under way", 30)

    reader = Reader(fs.stack.urls["site_url"], ["/" + site_key(urls[0]), "/" + site_key(urls[1])])
    reader.start()
    rendered_before = fs.renders()
    fs.stop_infra("s3")
    wait_for(lambda: "Retry in" in fs.log("render-worker-0"), "a render retried", 30)
    fs.restart_infra("s3")
    wait_for(lambda: all(fs.page(url) for url in urls), "every page published", 90)
    reader.stopped.set()
    reader.join()

    assert reader.torn == []
    for url in urls:
        page = fs.page(url)
        assert page is not None
        assert is_whole_page(page)
    worker_log = fs.log("render-worker-0")
    assert "StorageUnavailable" in worker_log
    record(
        "SeaweedFS stopped during rendering",
        faults=len(fs.faults),
        articles=ARTICLES,
        retries_logged=worker_log.count("Retry in"),
        reader_statuses=dict(sorted(reader.statuses.items())),
        torn_pages_seen=len(reader.torn),
        lost=sum(1 for url in urls if fs.page(url) is None),
        articles_unrendered_at_fault=ARTICLES - rendered_before,
    )
