"""The old-address map: durable in the data bucket, answered from Redis, restored after a loss."""

from __future__ import annotations

from services.ingest import legacy
from tests.conftest import Isolated


def test_the_map_survives_losing_redis(isolated: Isolated) -> None:
    redis, keys, data = isolated.redis, isolated.keys, isolated.storage.data
    legacy.remember(
        redis, keys, data, "import-dedecms/categories", {"/a/news/list_5_*.html": "/news/"}
    )
    legacy.remember(redis, keys, data, "import-dedecms/articles-1", {
        "/a/news/2022/0711/556.html": "/news/202207/abc.html",
        "/plus/view.php?aid=556": "/news/202207/abc.html",
    })  # fmt: skip
    assert legacy.lookup(redis, keys, "/plus/view.php?aid=556&x=1") == "/news/202207/abc.html"
    assert legacy.lookup(redis, keys, "/a/news/list_5_12.html") == "/news/"
    assert legacy.lookup(redis, keys, "/a/news/list_6_12.html") is None

    redis.delete(keys.legacy_urls)
    assert legacy.lookup(redis, keys, "/a/news/2022/0711/556.html") is None
    assert legacy.restore(redis, keys, data) == 3

    assert legacy.lookup(redis, keys, "/a/news/2022/0711/556.html") == "/news/202207/abc.html"
    assert legacy.lookup(redis, keys, "/a/news/list_5_2.html") == "/news/"
