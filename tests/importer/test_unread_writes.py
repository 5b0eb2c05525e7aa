"""The import writes an article it did not see in the bucket's listing without reading it
first; one that appeared after the listing is still decided against, never overwritten."""

from __future__ import annotations

import secrets

from services.importer.service import stored_ids
from services.ingest import bulk
from services.ingest.app import build_context
from services.ingest.schemas import ArticleIn
from services.ingest.settings import IngestSettings
from shared.ids import article_id
from shared.models import Article, article_key
from tests.conftest import Isolated


def article(external_id: str, title: str) -> ArticleIn:
    return ArticleIn.model_validate({
        "external_id": external_id, "title": title, "body_html": "<p>正文</p>",
        "channel": "news", "published_at": "2022-07-11T10:00:00+08:00",
    })  # fmt: skip


def test_an_article_made_after_the_listing_is_read_and_decided_against(
    isolated: Isolated,
) -> None:
    ctx = build_context(IngestSettings(**isolated.settings.model_dump()))
    feed = ctx.feeds.ensure("import-dedecms", secrets.token_hex(16))
    listed = stored_ids(ctx)  # the listing the import takes when it starts: empty
    bulk.publish_many(ctx, feed, [bulk.Publish(article("556", "编辑部先发的稿子"))])
    assert stored_ids(ctx) == {article_id(feed.name, "556")}

    same, other, fresh = map(
        bulk.one,
        bulk.publish_many(
            ctx,
            feed,
            [
                bulk.Publish(article("556", "编辑部先发的稿子")),
                bulk.Publish(article("556x", "另一篇")),
                bulk.Publish(article("557", "新的一篇")),
            ],
            stored=listed,
        ),
    )
    late = bulk.one(
        bulk.publish_many(ctx, feed, [bulk.Publish(article("556", "旧站的标题"))], stored=listed)[0]
    )

    assert (same.changed, same.detail) == (False, "identical to the stored version")
    assert other.changed
    assert (fresh.changed, fresh.version) == (True, 1)
    assert (late.changed, late.version) == (True, 2)
    raw = isolated.storage.data.get_json(article_key(article_id(feed.name, "556")))
    current = Article.model_validate(raw)
    assert (current.version, current.title) == (2, "旧站的标题")
