"""`pressroom import dedecms` of a generated dump, beside single POSTs and the S3 PUT floor.

Starts its own Valkey, SeaweedFS and ingest (bench_ingest.start); no render worker, so the
figures are the store path's own. The import runs as the real command in a child process,
whose peak RSS is read from the kernel's accounting of children. Baselines in the same run:
single POST /v1/articles (8 clients) and bare S3 PUTs of an article-sized document (32
threads, the import's own concurrency). An imported article stores three objects (outbox,
version, current), so its rate is compared per stored object too.
BENCH_IMPORT_ARTICLES sets the dump's size (default 50,000).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.bench_ingest import document, load, start
from shared.storage import Storage
from tests.importer.dumps import Archive, Category, write_dump

ARTICLES = int(os.environ.get("BENCH_IMPORT_ARTICLES", "50000"))
OBJECTS_PER_ARTICLE = 3


def make_dump(path: Path, count: int) -> Path:
    body = "<p>总台记者今天(7月11日)从教育部获悉……</p>" * 12
    archives = (
        Archive(n, 1, f"教育部:推动高校支撑服务企业科技进步 第{n}号", body, click=n % 1000,
                pubdate=1500000000 + n * 600)
        for n in range(1, count + 1)
    )  # fmt: skip
    return write_dump(path, [Category(1, "新闻动态", "{cmspath}/a/news")], archives)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as home:
        stack, key = start(Path(home))
        try:
            dump = make_dump(Path(home) / "dump.sql", ARTICLES)
            run = str(time.time_ns())
            client_load = load(_poster(stack.urls["ingest_url"], key, run))
            bucket = Storage.from_settings(stack.settings()).data
            body = orjson.dumps(document(0, run))
            floor = load(lambda n: bucket.put(f"b/{run}/{n}", body, content_type="x/y"), 32)
            seconds, rss_mb = _import(stack.env, dump)
        finally:
            stack.stop()
    rate = ARTICLES / seconds
    load_avg = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{ARTICLES} articles, dump {dump_size_mb:.0f} MB; load average {' '.join(load_avg)}")
    print(f"{'what':<42} {'articles/s':>11} {'objects/s':>10}")
    print(f"{'POST /v1/articles, 8 clients':<42} {client_load['per_s']:>11.1f}")
    print(f"{'S3 PUT floor, 32 threads':<42} {'':>11} {floor['per_s']:>10.1f}")
    print(f"{'pressroom import dedecms':<42} {rate:>11.1f} {rate * OBJECTS_PER_ARTICLE:>10.1f}")
    per_object = rate * OBJECTS_PER_ARTICLE / floor["per_s"]
    print(f"import / single POSTs: {rate / client_load['per_s']:.1f}x")
    print(f"import objects/s / PUT floor: {per_object:.2f}; peak RSS {rss_mb:.0f} MB")
    # each new article needs its outbox entry, its version and its current document
    ceiling = floor["per_s"] / OBJECTS_PER_ARTICLE
    print(f"ceiling at {OBJECTS_PER_ARTICLE} PUTs an article: {ceiling:.1f} articles/s = "
          f"{ceiling / client_load['per_s']:.1f}x single POSTs")  # fmt: skip


dump_size_mb = 0.0


def _poster(url: str, key: str, run: str):  # type: ignore[no-untyped-def]
    import httpx

    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return lambda n: client.post("/v1/articles", json=document(n, run)).status_code == 202


def _import(env: dict[str, str], dump: Path) -> tuple[float, float]:
    global dump_size_mb
    dump_size_mb = dump.stat().st_size / 2**20
    argv = [sys.executable, "-m", "services", "import", "dedecms", str(dump), "--batch", "200"]
    started = time.perf_counter()
    subprocess.run(argv, env=os.environ | env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 1024
