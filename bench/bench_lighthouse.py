"""Lighthouse 12 scores of home, list and article pages, on a phone and a desktop.

Starts the whole system as `pressroom run` does (behind the nginx edge, production cache
headers), publishes sample articles in every channel, and runs Lighthouse (npm
`lighthouse@12.2.3`, the last release for Node 20, installed into .venv if absent) with
Debian's Chromium. The baseline is a bare, valid page served by the same edge in the same
run: what this machine scores at its present load, so a performance figure below 100 can be
told apart from the machine's own state. Goal: accessibility, best practices and SEO at 100.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from services.stack.run import Stack
from shared.storage import Storage
from tests.stack import harness

REPO = Path(__file__).resolve().parents[1]
VERSION = "12.2.3"
PREFIX = REPO / ".venv" / "lighthouse"
LIGHTHOUSE = PREFIX / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CATEGORIES = ("accessibility", "best-practices", "seo", "performance")
FORMS = ("mobile", "desktop")
BASELINE = "lighthouse-baseline.html"
BASELINE_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>基线页面</title><meta name="description" content="一张只有一段文字的页面。">
</head><body><main><h1>基线页面</h1><p>一张只有一段文字的页面。</p></main></body></html>
"""
SAMPLES = REPO / "config" / "samples"


def ensure_lighthouse() -> None:
    if not LIGHTHOUSE.exists():
        npm = ["npm", "install", "--silent", "--no-save", "--no-audit", "--no-fund"]
        subprocess.run([*npm, "--prefix", str(PREFIX), f"lighthouse@{VERSION}"], check=True)


def publish_samples(stack: Stack, key: str) -> dict[str, str]:
    """A site with articles in every channel and a headline: the page kinds to audit."""
    ingest = httpx.Client(
        base_url=stack.urls["ingest_url"], headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    seed = json.loads((SAMPLES / "01-seed-article.json").read_text())
    notice = json.loads((SAMPLES / "02-notice.json").read_text())
    paths = []
    for n in range(12):
        base = notice if n % 4 == 1 else seed
        channel = base["channel"] if n % 4 != 3 else "reviews"
        story = base | {
            "external_id": f"lighthouse-{n}",
            "title": f"{base['title']}({n + 1})",
            "channel": channel,
            "headline": n % 3 == 0,
            "published_at": f"2022-07-{n + 1:02d}T10:00:00+08:00",
        }
        answer = ingest.post("/v1/articles", json=story)
        answer.raise_for_status()
        paths.append("/" + answer.json()["url"].split("/", 3)[3])
    site = httpx.Client(base_url=stack.urls["site_url"], timeout=30)
    deadline = time.monotonic() + 120
    while missing := [p for p in [*paths, "/"] if not published(site, p, seed["title"])]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not published within 120 s: {missing}")
        time.sleep(0.5)
    return {"home": "/", "list": "/news/", "article": paths[-4]}


def published(site: httpx.Client, path: str, title: str) -> bool:
    """Whether the page is up (home: once a flush has listed the articles)."""
    page = site.get(path)
    return page.status_code == 200 and (path != "/" or title in page.text)


def store_baseline(stack: Stack) -> None:
    storage = Storage.from_settings(stack.settings(environment="development"))
    storage.site.put(
        BASELINE,
        BASELINE_PAGE.encode(),
        content_type="text/html; charset=utf-8",
        cache_control="public, max-age=300",
    )


def audit(url: str, form: str, out: Path) -> dict[str, Any]:
    """One Lighthouse run; its JSON report."""
    argv = [
        str(LIGHTHOUSE),
        url,
        "--quiet",
        "--output=json",
        f"--output-path={out}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
    ]
    if form == "desktop":
        argv.append("--preset=desktop")
    subprocess.run(argv, check=True, env=os.environ | {"CHROME_PATH": CHROMIUM}, timeout=300)
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def scores(report: dict[str, Any]) -> dict[str, int]:
    return {c: round(100 * (report["categories"][c]["score"] or 0)) for c in CATEGORIES}


def shortfalls(report: dict[str, Any]) -> list[str]:
    """The audits that cost points outside performance, by title."""
    missed = []
    for category in CATEGORIES[:3]:
        for ref in report["categories"][category]["auditRefs"]:
            found = report["audits"][ref["id"]]
            if ref["weight"] and found["score"] is not None and found["score"] < 1:
                missed.append(f"{category}: {found['title']}")
    return missed


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ensure_lighthouse()
    before = load()
    with tempfile.TemporaryDirectory(prefix="pressroom-lighthouse-") as home:
        stack = Stack(Path(home))
        try:
            harness.start_on_free_ports(stack)
            key = stack.start_apps()
            pages = publish_samples(stack, key)
            store_baseline(stack)
            pages = {"baseline": "/" + BASELINE} | pages
            origin = stack.urls["site_url"].rstrip("/")
            rows: list[tuple[str, str, dict[str, int]]] = []
            notes: list[str] = []
            for form in FORMS:
                for kind, path in pages.items():
                    report = audit(origin + path, form, Path(home) / f"{kind}-{form}.json")
                    rows.append((kind, form, scores(report)))
                    notes += [f"{kind} ({form}) {m}" for m in shortfalls(report)]
        finally:
            stack.stop()
    print(f"load average: {before} at the start, {load()} at the end (2 cores)")
    print(f"{'page':<10}{'form':<9}" + "".join(f"{c:>16}" for c in CATEGORIES))
    for kind, form, found in rows:
        print(f"{kind:<10}{form:<9}" + "".join(f"{found[c]:>16}" for c in CATEGORIES))
    print("\n".join(["points lost (not performance):", *notes]) if notes else "no points lost")
