"""Two renders of one article finishing out of order: the newest stored version is the page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.render import articles, service
from services.render.service import publish_article
from shared.models import Article, article_key
from tests.render.conftest import Newsroom


def _store(newsroom: Newsroom, article: Article) -> None:
    """What ingest does for a new version: the document, then its receipt time in Redis."""
    newsroom.isolated.storage.data.put_json(
        article_key(article.id), article.model_dump(mode="json")
    )
    newsroom.ctx.redis.hset(
        newsroom.ctx.keys.article(article.id), "received_at", article.received_at.isoformat()
    )


@pytest.mark.parametrize("newer_kind", ["update", "kill"])
def test_a_render_that_read_an_older_version_never_leaves_it_on_the_page(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch, newer_kind: str
) -> None:
    first = newsroom.file(1, title="初稿")
    _store(newsroom, first)
    newer = first.model_copy(
        update={
            "received_at": first.received_at + timedelta(seconds=5),
            **(
                {"title": "终稿", "version": 2} if newer_kind == "update" else {"unpublished": True}
            ),
        }
    )
    read = articles.load_article

    def newer_stored_and_rendered_meanwhile(*args: object, **kwargs: object) -> object:
        """The slow task has read version 1; ingest stores the newer one and its own task
        renders it completely before the slow task writes."""
        loaded = read(*args, **kwargs)  # type: ignore[arg-type]
        monkeypatch.setattr(service, "load_article", read)
        _store(newsroom, newer)
        assert publish_article(newsroom.ctx, newer.id, newer.version) in {
            "published",
            "unpublished",
        }
        return loaded

    monkeypatch.setattr(service, "load_article", newer_stored_and_rendered_meanwhile)
    publish_article(newsroom.ctx, first.id, first.version)

    page = newsroom.page(newsroom.url(first))
    state = newsroom.ctx.redis.hgetall(newsroom.ctx.keys.article(first.id))
    if newer_kind == "update":
        assert page is not None
        assert "终稿" in page
        assert "初稿" not in page
        assert state["rendered_version"] == "2"
    else:
        assert page is None
        assert state["status"] == "unpublished"
