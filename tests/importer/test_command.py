"""`pressroom import` as operators run it: a dry run stores nothing, a killed import resumes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from services.stack.run import Stack
from shared.ids import article_id
from shared.models import article_key
from shared.storage import Storage
from tests.importer.dumps import Archive, Category, write_dump

COUNT = 150


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


def test_a_wordpress_export_adds_its_channel_to_the_site_file(live: Stack, tmp_path: Path) -> None:
    from tests.importer.test_readers import ITEM, WXR

    tag = f"wp{os.getpid()}"
    items = [
        ITEM.format(n=1, title="一篇", body="<p>正文</p>", status="publish"),
        ITEM.format(n=2, title="草稿", body="<p>x</p>", status="draft"),
    ]
    export = tmp_path / "wp.xml"
    export.write_text(WXR.format(items="".join(items)).replace("news", "tech"), encoding="utf-8")
    site_file = tmp_path / "site.toml"
    site_file.write_text(Path(live.settings().site_config).read_text(encoding="utf-8"))
    env = environment(live, tag) | {"PRESSROOM_SITE_CONFIG": str(site_file)}

    done = subprocess.run(
        command(live, "wordpress", str(export), "--feed", tag),
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip

    output = done.stdout.replace("\n", " ")
    assert re.search(r"imported 1\b.*skipped 1\b", output), done.stdout
    assert "unpublished on the old site" in done.stdout
    assert 'slug = "tech", name = "新闻", in_nav = false' in site_file.read_text(encoding="utf-8")
    assert stored_one(Storage.from_settings(live.settings()), article_id(tag, "1"))


def stored_one(storage: Storage, aid: str) -> bool:
    return storage.data.get(article_key(aid)) is not None


def test_a_read_only_site_file_gets_the_lines_to_add_and_nothing_is_stored(
    live: Stack, tmp_path: Path
) -> None:
    base, feed = 7_000_000 + os.getpid() % 1000 * 1000, f"ro-{os.getpid()}"
    dump = make(tmp_path, base)
    site_file = tmp_path / "site.toml"
    site_file.write_text(Path(live.settings().site_config).read_text(encoding="utf-8"))
    before = site_file.read_text(encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[channels]\n"7" = "zhengce"\n[names]\nzhengce = "政策"\n')
    env = environment(live, f"ro{os.getpid()}") | {"PRESSROOM_SITE_CONFIG": str(site_file)}
    argv = command(live, "dedecms", str(dump), "--feed", feed, "--mapping", str(mapping))

    with read_only(site_file):  # as compose mounts it (`:ro`)
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"could not add the new channels to {site_file}" in done.stdout.replace("\n", "")
    assert '  { slug = "zhengce", name = "政策", in_nav = false },' in done.stdout.splitlines()
    assert site_file.read_text(encoding="utf-8") == before
    assert stored(Storage.from_settings(live.settings()), feed, base) == 0


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """A file its writer cannot change: its mode for a user, the immutable flag for root
    (who writes through modes)."""
    path.chmod(0o444)
    if os.geteuid() != 0:
        yield
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("this filesystem has no immutable flag (chattr)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_dump_cut_before_its_categories_is_refused_and_nothing_stored(
    live: Stack, tmp_path: Path
) -> None:
    base, feed = 6_000_000 + os.getpid() % 1000 * 1000, f"cut-{os.getpid()}"
    dump = make(tmp_path, base)
    raw = dump.read_bytes()
    # mysqldump writes arctype after archives: a cut inside archives loses every category
    dump.write_bytes(raw[: raw.index(b"INSERT INTO `dede_archives`") + 4000])
    env = environment(live, f"cut{os.getpid()}")

    done = subprocess.run(
        command(live, "dedecms", str(dump), "--feed", feed),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    said = done.stdout.replace("\n", "")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert re.search(r"the dump ends early \(.+\); the categories of \d+ articles", said), said
    assert "7 (" in said
    assert "Nothing was imported" in said
    assert stored(Storage.from_settings(live.settings()), feed, base) == 0
