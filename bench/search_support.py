"""bench_search's corpus and readers: varied Chinese articles, and the search as a browser
and as a plain HTTP client see it."""

from __future__ import annotations

import random
import re
import time
from itertools import accumulate
from pathlib import Path
from typing import Any

import httpx
import orjson
from playwright.sync_api import Browser

from bench.render_support import article
from services.render.search.tokens import query_tokens, shard_of
from shared.models import Article

SEED_PAGE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "article-page.txt"
CHANNELS = ["news"] * 6 + ["reviews"] * 3 + ["notices"]


class Corpus:
    """The rebuild corpus's articles (bench/render_support.article), each with its own text:
    sentences drawn from the reference page, and names drawn (Zipf-like) from a pool of
    invented two- and three-character ones, so the vocabulary has a long tail as news has."""

    def __init__(self, seed: int = 17) -> None:
        text = SEED_PAGE.read_text() if SEED_PAGE.exists() else "教育部推动高校支撑服务企业发展。"
        self.sentences = [s for s in re.split(r"(?<=[。,;])", text) if len(s) > 6]
        rng = random.Random(seed)
        han = [chr(c) for c in range(0x4E00, 0x9FA5)]
        self.names = ["".join(rng.choices(han, k=rng.choice((2, 3)))) for _ in range(20_000)]
        self.weights = list(accumulate(1 / (r + 1) for r in range(len(self.names))))

    def article(self, n: int) -> Article:
        rng = random.Random(n)
        names = rng.choices(self.names, cum_weights=self.weights, k=6)
        paragraphs = [
            "".join(rng.choice(self.sentences) for _ in range(4)) + names[p] + "表示。"
            for p in range(5)
        ]
        title = rng.choice(self.sentences).strip()[:14].strip(",。;") + names[5] + f" 第{n}号"
        base = article(n, CHANNELS[n % 10], headline=n % 25 == 0)
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        return base.model_copy(update={"title": title, "body_html": body})


def http_search(site: httpx.Client, query: str) -> list[str]:
    """The titles a reader gets, read through the edge as search.js reads them."""
    answer = site.get("/search/manifest.json")
    if answer.status_code != 200:  # before the first flush
        return []
    manifest = answer.json()
    tokens = sorted(query_tokens(query))
    sets: dict[str, set[int]] = {t: set() for t in tokens}
    for segment in manifest["segments"]:
        for token in tokens:
            shard = shard_of(token, segment["shards"])
            answer = site.get(f"/search/seg/{segment['id']}/{shard}.json")
            lists = orjson.loads(answer.content).get(token) if answer.status_code == 200 else None
            if lists:
                sets[token].update(accumulate(lists[0]))
    hits = sorted(set.intersection(*sets.values()), reverse=True)[:10] if sets else []
    found = []
    for number in hits:
        answer = site.get(f"/search/doc/{number}.json")
        if answer.status_code == 200:
            found.append(answer.json()["t"])
    return found


def wait_until(check: Any, what: str, timeout: float = 120.0) -> float:
    """Seconds until check() holds (polled every 0.2 s)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"search never caught up: {what}")
        time.sleep(0.2)
    return time.monotonic() - started


QUERY_SCRIPT = """() => {
  const list = document.getElementById("search-results");
  const ms = Number(list.getAttribute("data-search-ms"));
  const index = performance.getEntriesByType("resource").filter(e => e.name.includes("/search/"));
  return {ms, bytes: index.reduce((n, e) => n + e.transferSize, 0), requests: index.length,
          results: list.children.length};
}"""


def chromium_query(browser: Browser, site_url: str, query: str) -> dict[str, dict[str, float]]:
    """One query in a fresh browser profile (cold), the page reloaded (its cache warm), and
    the query sent again from the loaded page's form (warm): the time the page took from
    reading the query to showing results, and the index bytes it transferred."""
    context = browser.new_context()
    page = context.new_page()
    url = f"{site_url.rstrip('/')}/query.html?q={query}"
    done = "#search-results[data-search-ms]"
    runs = {}
    try:
        for run in ("cold", "reload"):
            page.goto(url)
            page.wait_for_selector(done, timeout=60_000)
            runs[run] = page.evaluate(QUERY_SCRIPT)
        page.locator("#search-q").fill(query)
        page.locator("#search-q").press("Enter")
        page.wait_for_selector(done, timeout=60_000)
        runs["warm"] = page.evaluate(QUERY_SCRIPT)
    finally:
        context.close()
    return runs
