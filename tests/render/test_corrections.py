"""A correction after publication: the page shows 更新时间 and a dated 更正 notice; RSS keeps
its <pubDate> and marks the item updated, Atom's <updated> and the sitemap's <lastmod>
move to the update."""

from __future__ import annotations

from datetime import timedelta

import feedparser

from services.render.service import publish_article
from tests.render.conftest import Newsroom

NOTICE = "原稿中的会议日期有误,已更正为7月12日。"


def test_a_correction_shows_on_the_page_and_in_every_feed(newsroom: Newsroom) -> None:
    first = newsroom.publish(1)
    newsroom.flush()
    first_rss = newsroom.page("feed.xml") or ""
    updated = first.published_at + timedelta(hours=5, minutes=7)
    corrected = newsroom.file(
        1, version=2, correction=NOTICE, updated_at=updated, received_at=updated
    )
    assert publish_article(newsroom.ctx, corrected.id, 2) == "published"
    newsroom.flush()

    page = newsroom.page(newsroom.url(corrected)) or ""
    assert "更新时间:" in page
    assert f'datetime="{updated.isoformat()}"' in page
    assert f'更正</strong>(<time datetime="{updated.isoformat()}">' in page
    assert NOTICE in page

    rss = feedparser.parse(newsroom.page("feed.xml") or "")
    item = rss.entries[0]
    assert item.published_parsed == feedparser.parse(first_rss).entries[0].published_parsed
    assert item.updated_parsed[:6] == updated.utctimetuple()[:6]
    assert NOTICE in item.summary
    atom = feedparser.parse(newsroom.page("atom.xml") or "")
    assert atom.entries[0].updated_parsed[:6] == updated.utctimetuple()[:6]
    assert atom.entries[0].published_parsed[:6] == first.published_at.utctimetuple()[:6]
    sitemap = newsroom.page("sitemap.xml") or ""
    assert f"<lastmod>{updated:%Y-%m-%dT%H:%M:%SZ}</lastmod>" in sitemap


def test_an_article_never_changed_shows_no_update_and_no_notice(newsroom: Newsroom) -> None:
    article = newsroom.publish(1)
    newsroom.flush()

    page = newsroom.page(newsroom.url(article)) or ""
    assert "更新时间" not in page
    assert "更正" not in page
    assert "atom:updated" not in (newsroom.page("feed.xml") or "")
    sitemap = newsroom.page("sitemap.xml") or ""
    assert f"<lastmod>{article.published_at:%Y-%m-%dT%H:%M:%SZ}</lastmod>" in sitemap
