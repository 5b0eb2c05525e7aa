"""`pressroom import` against the session stack: articles stored through the bulk path, old
addresses answered with a 301 at the edge, the old click counts carried, a re-run a no-op."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx

from services.importer.mapping import load_mapping, plan_channels
from services.importer.readers.dedecms import DedeCMSReader
from services.importer.service import ImportJob, run_import
from services.ingest.app import build_context
from services.ingest.service import IngestContext
from services.ingest.settings import IngestSettings
from services.stack.run import Stack
from shared.celery_app import configure_celery
from shared.ids import article_id
from tests.importer.dumps import Archive, Category, write_dump


def context(live: Stack) -> IngestContext:
    settings = IngestSettings(**live.settings().model_dump())
    configure_celery(settings)  # render events reach the session's worker
    return build_context(settings)


def import_dump(ctx: IngestContext, dump: Path, feed: str) -> ImportJob:
    reader = DedeCMSReader(dump)
    plans = plan_channels(reader.categories(), load_mapping(None), ctx.site)
    registered = ctx.feeds.ensure(feed, secrets.token_hex(16))
    job = ImportJob(ctx, registered, {p.category_id: p for p in plans}, "hide", batch_size=2)
    run_import(job, reader, lambda n: None)
    return job


def test_an_imported_archive_keeps_its_addresses_and_counts(live: Stack, tmp_path: Path) -> None:
    base = secrets.randbelow(10**6) * 10 + 10**7  # ids of this test's own
    tid = base % 30000
    news = Category(tid, "新闻动态", "{cmspath}/a/news")
    shown, hidden, empty = base + 1, base + 2, base + 3
    archives = [
        Archive(shown, tid, "教育部:推动&ldquo;高校&rdquo;服务企业", "<p>正文<b>未闭合", click=500),
        Archive(hidden, tid, "未审核", "<p>草稿</p>", arcrank=-1, click=9),
        Archive(empty, tid, "没有正文", None),
    ]
    dump = write_dump(tmp_path / "dump.sql", [news], archives)
    ctx, feed = context(live), f"import-{base}"

    first = import_dump(ctx, dump, feed).summary

    assert (first.imported, first.hidden, first.unchanged) == (2, 1, 0)
    assert first.examples == {"no body in dede_addonarticle": [str(empty)]}
    aid = article_id(feed, str(shown))
    with httpx.Client(base_url=live.urls["site_url"], timeout=10) as edge:
        old = edge.get(f"/a/news/2022/0711/{shown}.html")
        assert old.status_code == 301
        new_page = old.headers["location"]
        assert new_page == f"/news/202207/{aid}.html"
        assert edge.get(f"/plus/view.php?aid={shown}").headers["location"] == new_page
        assert edge.get(f"/a/news/list_{tid}_3.html").headers["location"] == "/news/"
        assert edge.get(f"/a/news/2022/0711/{hidden}.html").status_code == 404
        assert edge.get("/a/news/2022/0711/1.html").status_code == 404
        deadline = time.monotonic() + 60
        while (page := edge.get(new_page)).status_code != 200:
            assert time.monotonic() < deadline, "the imported article was never rendered"
            time.sleep(0.2)
        assert "教育部:推动“高校”服务企业" in page.text
    keys = ctx.keys
    assert ctx.redis.get(keys.hits(aid)) == "500"
    assert ctx.redis.zscore(keys.top("all"), aid) == 500
    assert ctx.redis.zscore(keys.top("all", "news"), aid) == 500
    assert not ctx.redis.exists(keys.hourly(aid))

    again = import_dump(ctx, dump, feed).summary

    assert (again.imported, again.unchanged) == (0, 2)
    assert ctx.redis.get(keys.hits(aid)) == "500"
