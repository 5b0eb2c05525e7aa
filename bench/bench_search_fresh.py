"""Search freshness on the whole stack (ingest, render worker, scheduler, nginx edge):
seconds from an article's 202 until a reader's search through the edge finds it, and from
its withdrawal's 202 until the search no longer does (the promise: 60 s, p95)."""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

import httpx

from bench.render_support import percentile
from bench.search_support import Corpus, http_search, wait_until
from services.stack.run import Stack
from tests.stack import harness

FRESH = 20


def freshness(stack: Stack, corpus: Corpus) -> tuple[list[float], list[float]]:
    """Seconds from 202 to found, and from the withdrawal's 202 to gone, per article."""
    key = stack.start_apps()
    ingest = httpx.Client(
        base_url=stack.urls["ingest_url"], headers={"Authorization": f"Bearer {key}"}
    )
    site = httpx.Client(base_url=stack.urls["site_url"], timeout=30)
    found, gone = [], []
    for n in range(FRESH):
        story = corpus.article(100_000 + n)
        body = story.model_dump(mode="json", include={"title", "body_html", "channel"})
        accepted = ingest.post("/v1/articles", json=body | {"external_id": f"fresh-{n}"})
        assert accepted.status_code == 202, accepted.text
        word = story.title.split(" ")[0][-3:]  # the invented name closing the title
        what = f"{story.title} by {word}"
        found.append(wait_until(lambda w=word, t=story.title: t in http_search(site, w), what))
        withdrawn = ingest.delete(f"/v1/articles/{accepted.json()['id']}")
        assert withdrawn.status_code == 202, withdrawn.text
        gone.append(wait_until(lambda w=word, t=story.title: t not in http_search(site, w), what))
    return found, gone


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pressroom-bench-") as home:
        stack = Stack(Path(home))
        try:
            harness.start_on_free_ports(stack)
            found, gone = freshness(stack, Corpus())
        finally:
            stack.stop()
    print(f"freshness over {FRESH} articles, one at a time (load {os.getloadavg()[0]:.1f}):")
    for name, values in (("202 -> found", found), ("withdrawn -> gone", gone)):
        print(
            f"  {name:<18} p50 {statistics.median(values):5.1f} s  "
            f"p95 {percentile(values, 0.95):5.1f} s  max {max(values):5.1f} s"
        )
