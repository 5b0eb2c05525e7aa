"""Render fixtures: a render context on the test's own prefix, buckets and queues."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.render.coalesce import flush
from services.render.service import RenderContext, publish_article
from services.render.settings import RenderSettings
from services.render.tasks import build_context
from shared.models import Article, article_key
from tests.conftest import Isolated

RenderFactory = Callable[..., RenderContext]


@pytest.fixture
def make_render(isolated: Isolated) -> RenderFactory:
    """Build a RenderContext as a worker would, with optional setting overrides."""

    def make(**overrides: object) -> RenderContext:
        fields = isolated.settings.model_dump() | overrides
        return build_context(RenderSettings(**fields))

    return make


@pytest.fixture
def site_toml(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write an operator's site.toml: the repo's, with some lines replaced."""

    def write(replacements: dict[str, str]) -> Path:
        text = (Path(__file__).resolve().parents[2] / "config" / "site.toml").read_text()
        for old, new in replacements.items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / "site.toml"
        path.write_text(text)
        return path

    return write


@dataclass
class Newsroom:
    """A render context on the test's own prefix and buckets, with a desk to file articles.

    Flushes run when the test says so (`flush()`); what the pipeline asked to schedule is
    recorded in `scheduled` instead of being sent to a queue no worker reads.
    """

    ctx: RenderContext
    isolated: Isolated
    scheduled: list[tuple[str, float]] = field(default_factory=list)
    start: datetime = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)

    def file(self, n: int, channel: str = "news", **fields: Any) -> Article:
        """Store article number n (published n minutes after `start`) in the data bucket."""
        article = Article.model_validate(
            {
                "id": f"{n:020x}",
                "feed": "desk",
                "external_id": f"story-{n}",
                "version": 1,
                "title": f"稿件 {n}",
                "body_html": f"<p>正文 {n}</p>",
                "summary": f"摘要 {n}",
                "channel": channel,
                "published_at": self.start + timedelta(minutes=n),
                "received_at": self.start + timedelta(minutes=n),
            }
            | fields
        )
        self.isolated.storage.data.put_json(
            article_key(article.id), article.model_dump(mode="json")
        )
        return article

    def publish(self, n: int, channel: str = "news", **fields: Any) -> Article:
        article = self.file(n, channel, **fields)
        assert publish_article(self.ctx, article.id, article.version) == "published"
        return article

    def unpublish(self, article: Article) -> None:
        withdrawn = article.model_copy(update={"version": article.version + 1, "unpublished": True})
        self.isolated.storage.data.put_json(
            article_key(article.id), withdrawn.model_dump(mode="json")
        )
        assert publish_article(self.ctx, article.id, withdrawn.version) == "unpublished"

    def flush(self) -> dict[str, bool]:
        return flush(self.ctx)

    def page(self, key: str) -> str | None:
        body = self.isolated.storage.site.get(key)
        return None if body is None else body.decode()

    def url(self, article: Article) -> str:
        return self.ctx.article_url(article.id, article.channel, article.published_at)

    def renders(self) -> dict[str, int]:
        counts: dict[str, str] = self.ctx.redis.hgetall(self.ctx.keys.render_count)  # type: ignore[assignment]
        return {kind: int(n) for kind, n in counts.items()}


@pytest.fixture
def newsroom(isolated: Isolated, make_render: RenderFactory) -> Newsroom:
    room = Newsroom(make_render(hot_refresh_seconds=0), isolated)
    room.ctx.schedule = lambda task, delay: room.scheduled.append((task, delay))
    return room


@pytest.fixture
def small_pages(
    isolated: Isolated,
    make_render: RenderFactory,
    site_toml: Callable[[dict[str, str]], Path],
) -> Newsroom:
    """A newsroom whose site shows 5 articles a page and 10 URLs per sitemap file."""
    config = site_toml({"page_size = 20": "page_size = 5"})
    room = Newsroom(
        make_render(site_config=config, hot_refresh_seconds=0, sitemap_urls_per_file=10), isolated
    )
    room.ctx.schedule = lambda task, delay: room.scheduled.append((task, delay))
    return room
