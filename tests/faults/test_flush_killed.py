"""A render worker SIGKILLed while a flush renders a burst's lists: once it is back, home,
the channel index and every feed show the burst, without another article to dirty them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from services import render
from tests.faults.conftest import FaultStack, site_key, wait_for
from tests.faults.figures import record
from tests.faults.outbox import wait_drained

BURST = 6
# Enough loop iterations that home takes a second or more to render, so the kill lands
# while the flush renders it (after the channel index, before the feeds).
SLOW = (
    "{% block main %}{% set work = namespace(done=0) %}"
    "{% for step in range(4000000) %}{% set work.done = step %}{% endfor %}"
)


def slow_home(root: Path) -> Path:
    """An operator theme whose home page is the built-in one, rendered slowly."""
    built_in = Path(render.__file__).parent / "theme" / "templates"
    home = (built_in / "home.html.j2").read_text()
    assert "{% block main %}" in home
    (root / "templates").mkdir(parents=True)
    (root / "templates" / "home.html.j2").write_text(home.replace("{% block main %}", SLOW, 1))
    return root


def missing(fs: FaultStack, urls: list[str], pages: list[str]) -> dict[str, int]:
    """Per page, how many of the burst's articles it does not link to yet (by path: lists
    link relatively, feeds absolutely)."""
    paths = [f"/{site_key(url)}".encode() for url in urls]
    found = {page: fs.storage.site.get(page) or b"" for page in pages}
    return {
        page: n for page, body in found.items() if (n := sum(1 for p in paths if p not in body))
    }


def test_the_pages_a_killed_flush_was_rendering_catch_up_once_the_worker_is_back(
    fault_stack: Callable[..., FaultStack], tmp_path: Path
) -> None:
    fs = fault_stack(
        PRESSROOM_THEME_DIR=str(slow_home(tmp_path / "theme")),
        # Nothing else re-renders home or the feeds: not the hot list, not the reconciler
        # re-sending finished articles (it would re-mark their pages), not a new article.
        PRESSROOM_HOT_REFRESH_SECONDS="0",
        PRESSROOM_RECONCILE_GRACE_SECONDS="600",
        # The burst's renders finish before its one flush starts; a dead flush's lease is short.
        PRESSROOM_FLUSH_DELAY_SECONDS="3",
        PRESSROOM_FLUSH_LOCK_SECONDS="3",
    )
    wait_for(lambda: "ready" in fs.log("render-worker-0"), "render worker ready", 30)
    start = datetime.fromisoformat(str(fs.article("x")["published_at"]))
    first = fs.ingest.post("/v1/articles", json=fs.article("flush-first"))
    assert first.status_code == 202, first.text
    wait_for(lambda: not missing(fs, [first.json()["url"]], ["feed.xml"]), "first flush", 60)

    before = {kind: fs.renders(kind) for kind in ("channel", "home")}
    items = [
        fs.article(f"flush-{n}", published_at=(start + timedelta(minutes=n + 1)).isoformat())
        for n in range(BURST)
    ]
    answer = fs.ingest.post("/v1/articles:batch", json={"articles": items})
    assert answer.status_code == 202, answer.text
    urls = [str(item["article"]["url"]) for item in answer.json()["items"]]
    channel = str(items[0]["channel"])
    pages = ["index.html", f"{channel}/index.html", "feed.xml", "atom.xml"]
    pages += [f"{channel}/feed.xml", f"{channel}/atom.xml"]

    # The flush has written the channel index and is rendering home: kill it there.
    wait_for(
        lambda: (
            fs.renders("channel") > before["channel"] and bool(fs.redis.exists(fs.keys.flush_lock))
        ),
        "the burst's flush past the channel index",
        60,
    )
    fs.kill("render-worker-0")
    assert fs.renders("home") == before["home"], "the kill came after home was written"
    at_kill = missing(fs, urls, pages)
    assert {"index.html", "feed.xml"} <= set(at_kill), at_kill  # what the kill left behind

    fs.restart_app("render-worker-0")
    back = time.monotonic()
    deadline = back + 60
    while (stale := missing(fs, urls, pages)) and time.monotonic() < deadline:
        time.sleep(0.2)
    flush_state = {
        k: fs.redis.type(k) for k in (fs.keys.flushing, fs.keys.dirty, fs.keys.flush_lock)
    }
    assert not stale, (
        f"pages without the burst's articles 60 s after the restart: {stale}, {flush_state}"
    )
    caught_up = time.monotonic() - back
    wait_drained(fs, 60)
    record(
        "render worker SIGKILLed mid-flush",
        faults=len(fs.faults),
        articles=BURST,
        pages_stale_at_kill=len(at_kill),
        caught_up_after_restart_s=round(caught_up, 1),
    )
