"""`pressroom reindex` leaves on the bucket only what the new index names: the fragments of
searchable articles and the segments of the new manifest (older ones once retired)."""

from __future__ import annotations

import pytest

from services.render.reindex import reindex
from services.render.search import index
from services.render.search.documents import fragment_key
from shared.models import Article
from tests.render.conftest import Newsroom
from tests.render.search_reader import titles


def withdraw_behind_the_renderer(room: Newsroom, story: Article) -> None:
    """The stored version says withdrawn, but no render ever saw it (Redis was away)."""
    gone = story.model_copy(update={"version": story.version + 1, "unpublished": True})
    room.isolated.storage.data.put_json(f"articles/{story.id}.json", gone.model_dump(mode="json"))


def search_objects(room: Newsroom) -> set[str]:
    return set(room.isolated.storage.site.keys("search/"))


def named_by_the_index(room: Newsroom) -> set[str]:
    owners = room.ctx.redis.hkeys(room.ctx.keys.search_owners)
    shards = {key for s in index.current_segments(room.ctx) for key in s.shard_keys()}
    return {index.MANIFEST, *shards, *(fragment_key(int(n)) for n in owners)}


def a_retirement_later(room: Newsroom, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "RETIRE_SECONDS", 0)
    index.sweep_retired(room.ctx)


def test_reindex_removes_what_the_new_index_no_longer_names(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = newsroom.isolated.storage.site
    kept = newsroom.publish(1, title="剪纸艺术展开幕", body_html="<p>剪纸</p>")
    dropped = newsroom.publish(2, title="剪纸大师访谈", body_html="<p>剪纸</p>")
    newsroom.flush()
    newsroom.publish(3, title="皮影戏专场", body_html="<p>皮影</p>")
    newsroom.flush()
    withdraw_behind_the_renderer(newsroom, dropped)
    number = int(newsroom.ctx.redis.hget(newsroom.ctx.keys.search_numbers, dropped.id) or 0)
    assert fragment_key(number) in search_objects(newsroom)

    reindex(newsroom.ctx)

    assert titles(site, "剪纸") == [kept.title]
    assert newsroom.ctx.redis.hget(newsroom.ctx.keys.search_numbers, dropped.id) is None
    assert fragment_key(number) not in search_objects(newsroom)
    a_retirement_later(newsroom, monkeypatch)
    assert search_objects(newsroom) == named_by_the_index(newsroom)
    assert titles(site, "皮影") == ["皮影戏专场"]


def test_reindex_after_redis_lost_its_data_removes_the_segments_nobody_remembers(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, db = newsroom.isolated.storage.site, newsroom.ctx.redis
    newsroom.publish(1, title="非遗传承人座谈", body_html="<p>剪纸</p>")
    dropped = newsroom.publish(2, title="剪纸展览", body_html="<p>剪纸</p>")
    newsroom.flush()
    for key in db.scan_iter(f"{newsroom.ctx.keys.prefix}*"):
        db.delete(key)
    withdraw_behind_the_renderer(newsroom, dropped)
    before = search_objects(newsroom)

    reindex(newsroom.ctx)
    a_retirement_later(newsroom, monkeypatch)

    assert titles(site, "剪纸") == ["非遗传承人座谈"]
    after = search_objects(newsroom)
    assert after == named_by_the_index(newsroom)
    assert len(before - after) >= 2  # the lost segment and the withdrawn article's fragment
