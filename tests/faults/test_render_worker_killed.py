"""A render worker SIGKILLed mid-task: the task is redelivered and the page published once."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from tests.faults.conftest import FaultStack, wait_for
from tests.faults.figures import record
from tests.faults.outbox import wait_drained

# An operator theme whose article page takes about a second to render, so the SIGKILL
# certainly lands while the task runs (before it has written anything).
SLOW_ARTICLE_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ article.title }}</title></head>
{% set work = namespace(done=0) %}
{% for step in range(2500000) %}{% set work.done = step %}{% endfor %}
<body><h1>{{ article.title }}</h1></body></html>
"""
ARTICLES = 3
# kombu's Redis transport keeps a delivered-but-unacknowledged message here until the ack
UNACKED, UNACKED_INDEX = "unacked", "unacked_index"


def unacked_renders(fs: FaultStack) -> int:
    """render.article messages delivered but not acknowledged (countdown tasks such as the
    hot-list refresh legitimately wait there until their time comes)."""
    messages = [json.loads(raw)[0] for raw in fs.redis.hvals(UNACKED)]
    return sum(1 for m in messages if m["headers"]["task"] == "render.article")


def published_runs(fs: FaultStack, article_id: str) -> int:
    """How many render.article runs published this article (the worker logs each one)."""
    return len(re.findall(rf"render\.article\.published\s+id={article_id}", fs.workers_log()))


def slow_theme(root: Path) -> Path:
    (root / "templates").mkdir(parents=True)
    (root / "templates" / "article.html.j2").write_text(SLOW_ARTICLE_TEMPLATE)
    return root


def test_killed_worker_task_is_redelivered_and_published_exactly_once(
    fault_stack: Callable[..., FaultStack], tmp_path: Path
) -> None:
    fs = fault_stack(
        PRESSROOM_THEME_DIR=str(slow_theme(tmp_path / "theme")),
        # The broker redelivers what the dead worker had recorded as taken; a message it had
        # popped but not yet recorded (kombu's BRPOP and its unacked bookkeeping are two
        # steps) is gone, and the reconciler re-enqueues it from the outbox. Its grace is
        # longer than the redelivered renders take on a loaded machine (the three slow pages
        # after the visibility timeout and the worker's start), so nothing is rendered twice.
        PRESSROOM_RECONCILE_INTERVAL_SECONDS="2",
        PRESSROOM_RECONCILE_GRACE_SECONDS="45",
    )
    wait_for(lambda: "ready" in fs.log("render-worker-0"), "render worker ready", 30)
    accepted = [
        fs.ingest.post("/v1/articles", json=fs.article(f"kill-worker-{n}")) for n in range(ARTICLES)
    ]
    assert [a.status_code for a in accepted] == [202] * ARTICLES, [a.text for a in accepted]

    wait_for(lambda: fs.redis.hlen(UNACKED) >= 2, "worker took two tasks", 20)
    in_flight = fs.redis.hlen(UNACKED)
    fs.kill("render-worker-0")
    taken: list[tuple[str, float]] = fs.redis.zrange(UNACKED_INDEX, 0, -1, withscores=True)  # type: ignore[assignment]
    taken_at = max(score for _, score in taken)
    assert fs.renders() == 0  # killed while rendering: nothing was written yet
    assert fs.redis.hlen(UNACKED) == in_flight  # still owed, not acknowledged

    # A supervisor restarts the worker; a worker starting after the visibility timeout
    # puts the dead worker's messages back on the queue.
    time.sleep(max(0.0, taken_at + 5.5 - time.time()))
    fs.restart_app("render-worker-0")
    pages = [a.json()["url"] for a in accepted]
    wait_for(lambda: all(fs.page(url) for url in pages), "every page published", 90)

    for url, answer in zip(pages, accepted, strict=True):
        page = fs.page(url)
        assert page is not None
        assert f"故障演练 kill-worker-{accepted.index(answer)}".encode() in page
        state = fs.ingest.get(f"/v1/articles/{answer.json()['id']}").json()
        assert state["status"] == "published"
    wait_for(lambda: unacked_renders(fs) == 0, "every render acknowledged", 20)
    wait_drained(fs, 30)
    published = [published_runs(fs, str(a.json()["id"])) for a in accepted]
    assert published == [1] * ARTICLES  # each article published by exactly one task run
    requeued = sum(int(n) for n in re.findall(r"requeued=(\d+)", fs.workers_log()))
    record(
        "render worker SIGKILLed mid-task",
        faults=len(fs.faults),
        articles=ARTICLES,
        tasks_in_flight_at_kill=in_flight,
        reenqueued_by_reconciler=requeued,
        publications=sum(published),
        lost=ARTICLES - sum(1 for url in pages if fs.page(url)),
    )
