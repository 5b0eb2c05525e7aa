"""SeaweedFS stopped during rendering, then restarted: tasks retry with backoff, no reader
sees a half-written page, and every page is eventually published."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.faults.conftest import FaultStack, running_stack, site_key, wait_for
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


@dataclass
class Outage:
    """What readers and feeds met while SeaweedFS was down during a render burst."""

    fs: FaultStack
    urls: list[str]
    reader: Reader
    feed_answers: list[httpx.Response]
    unrendered_at_fault: int


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    with running_stack(tmp_path_factory.mktemp("s3-down")) as fs:
        fs.stack.apps["render-worker-0"].stop()  # queue the burst, then render it at once
        accepted = [
            fs.ingest.post("/v1/articles", json=fs.article(f"s3-down-{n}")) for n in range(ARTICLES)
        ]
        assert {a.status_code for a in accepted} == {202}
        urls = [str(a.json()["url"]) for a in accepted]
        fs.restart_app("render-worker-0")
        wait_for(lambda: fs.renders() >= 2, "rendering under way", 30)

        paths = ["/" + site_key(urls[0]), "/" + site_key(urls[1])]
        reader = Reader(fs.stack.urls["site_url"], paths)
        reader.start()
        unrendered = ARTICLES - fs.renders()
        fs.stop_infra("s3")
        feed_answers = [
            fs.ingest.post("/v1/articles", json=fs.article(f"s3-refused-{n}")) for n in range(3)
        ]
        wait_for(lambda: "Retry in" in fs.log("render-worker-0"), "a render retried", 30)
        fs.restart_infra("s3")
        wait_for(lambda: all(fs.page(url) for url in urls), "every page published", 90)
        reader.stopped.set()
        reader.join()
        yield Outage(fs, urls, reader, feed_answers, unrendered)


def test_pages_are_whole_and_all_published_after_the_object_store_returns(
    outage: Outage,
) -> None:
    fs, urls, reader = outage.fs, outage.urls, outage.reader
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
        articles_unrendered_at_fault=outage.unrendered_at_fault,
        retries_logged=worker_log.count("Retry in"),
        reader_statuses=dict(sorted(reader.statuses.items())),
        torn_pages_seen=len(reader.torn),
        lost=sum(1 for url in urls if fs.page(url) is None),
    )


def test_ingest_refuses_with_503_and_retry_after_while_the_object_store_is_down(
    outage: Outage,
) -> None:
    for answer in outage.feed_answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) > 0


def test_readers_get_502_or_503_not_500_while_the_object_store_is_down(outage: Outage) -> None:
    assert 500 not in outage.reader.statuses
    assert {502, 503} & set(outage.reader.statuses)
