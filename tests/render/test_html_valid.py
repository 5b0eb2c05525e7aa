"""Every kind of HTML page Pressroom writes is valid HTML5 according to the Nu HTML Checker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.render.service import publish_article
from services.render.site_files import publish_site_files
from services.render.site_pages import render_site_page
from shared.models import Article, article_key
from tests.conftest import sample
from tests.render.conftest import Newsroom
from tests.render.test_site_pages import store_page

REPO = Path(__file__).resolve().parents[2]
VNU = Path(
    os.environ.get("PRESSROOM_VNU_JAR", REPO / ".venv/vnu/node_modules/vnu-jar/build/dist/vnu.jar")
)


def vnu_errors(files: list[Path]) -> list[dict[str, object]]:
    """Messages of type error from vnu (`make test` installs it; see VNU in the Makefile)."""
    if not VNU.exists() or shutil.which("java") is None:
        pytest.fail(f"the Nu HTML Checker is not installed at {VNU}: run `make test`")
    done = subprocess.run(
        ["java", "-jar", str(VNU), "--format", "json", "--exit-zero-always", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    messages: list[dict[str, object]] = json.loads(done.stderr)["messages"]
    return [m for m in messages if m.get("type") == "error"]


def test_every_page_kind_is_valid_html5(small_pages: Newsroom, tmp_path: Path) -> None:
    seed = Article.model_validate(
        json.loads(sample())
        | {"id": "f" * 20, "feed": "desk", "version": 1, "received_at": datetime.now(UTC)}
    )
    small_pages.isolated.storage.data.put_json(article_key(seed.id), seed.model_dump(mode="json"))
    assert publish_article(small_pages.ctx, seed.id, 1) == "published"
    for n in range(1, 12):  # two pages' worth: list_1 leaves the index for the archive
        small_pages.publish(n, headline=n % 3 == 0)
    small_pages.publish(8, channel="notices")
    small_pages.ctx.redis.zadd(small_pages.ctx.keys.top("all"), {f"{3:020x}": 9})
    small_pages.flush()
    store_page(small_pages, "about", "关于我们", '<h2>简介</h2><p>本站<a href="/">首页</a></p>')
    render_site_page(small_pages.ctx, "about")
    publish_site_files(small_pages.ctx)
    pages = {
        "site page": "about.html",
        "404 page": "404.html",
        "home": "index.html",
        "channel": "news/index.html",
        "archive": "news/list_1.html",
        "seed article": small_pages.url(seed),
        "neighboured article": small_pages.url(small_pages.file(4)),
    }
    files = []
    for name, key in pages.items():
        body = small_pages.page(key)
        assert body is not None, name
        files.append(tmp_path / f"{name.replace(' ', '-')}.html")
        files[-1].write_text(body)
    fragment = small_pages.page("fragments/sidebar.html") or ""
    assert "点击排行" in fragment
    shell = '<!DOCTYPE html><html lang="zh-CN"><head><title>t</title></head><body><aside>{}</aside>'
    files.append(tmp_path / "sidebar-fragment.html")
    files[-1].write_text(shell.format(fragment) + "</body></html>")

    assert vnu_errors(files) == []
