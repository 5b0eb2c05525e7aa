"""`pressroom import` as operators run it: a dry run stores nothing, a killed import resumes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from services.stack.run import Stack
from shared.ids import article_id
from shared.models import article_key
from shared.storage import Storage
from tests.importer.dumps import Archive, Category, write_dump

COUNT = 300


def command(live: Stack, *argv: str) -> list[str]:
    return [sys.executable, "-m", "services", "import", *argv]


def environment(live: Stack, tag: str) -> dict[str, str]:
    # a key prefix and Celery queues of its own: the session's worker renders none of it
    return os.environ | live.env | {
        "PRESSROOM_KEY_PREFIX": f"{tag}:", "PRESSROOM_QUEUE_PREFIX": f"{tag}.",
        "COLUMNS": "200",
    }  # fmt: skip


def make(tmp_path: Path, base: int) -> Path:
    archives = [Archive(base + n, 7, f"第{n}篇", f"<p>{'正文' * 50}</p>") for n in range(COUNT)]
    return write_dump(tmp_path / "d.sql", [Category(7, "新闻动态", "/a/news")], archives)


def stored(storage: Storage, feed: str, base: int) -> int:
    ids = {article_key(article_id(feed, str(base + n))) for n in range(COUNT)}
    return sum(1 for key in storage.data.keys("articles/") if key in ids)


def test_a_dry_run_prints_the_mapping_and_stores_nothing(live: Stack, tmp_path: Path) -> None:
    base, feed = 9_000_000 + os.getpid() % 1000 * 1000, f"dry-{os.getpid()}"
    dump = make(tmp_path, base)
    env = environment(live, f"dry{os.getpid()}")

    shown = subprocess.run(
        command(live, "dedecms", str(dump), "--dry-run", "--feed", feed),
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip

    assert re.search(r"7 .*新闻动态 .*/a/news .*news", shown.stdout), shown.stdout
    assert f"{COUNT} article records" in shown.stdout
    assert stored(Storage.from_settings(live.settings()), feed, base) == 0


def test_a_killed_import_resumes_where_it_stopped(live: Stack, tmp_path: Path) -> None:
    base, feed = 8_000_000 + os.getpid() % 1000 * 1000, f"resume-{os.getpid()}"
    dump = make(tmp_path, base)
    env = environment(live, f"res{os.getpid()}")
    storage = Storage.from_settings(live.settings())
    argv = command(live, "dedecms", str(dump), "--feed", feed, "--batch", "10")
    first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while stored(storage, feed, base) < 30:
        assert first.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline, "the import stored nothing"
        time.sleep(0.1)
    first.kill()
    first.wait()
    before = stored(storage, feed, base)
    assert before < COUNT

    again = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=300)

    summary = re.search(r"imported (\d+).*unchanged (\d+)", again.stdout.replace("\n", " "))
    assert summary, again.stdout
    imported, unchanged = int(summary.group(1)), int(summary.group(2))
    assert imported + unchanged == COUNT
    assert unchanged == before  # what was stored is whole: nothing of it is stored again
    assert stored(storage, feed, base) == COUNT
