"""The flush and the outbox lose no work when a flush dies part-way or Redis fails under it:
a killed flush's pages are rendered by the next, and an outbox id leaves the done-set only
once its entry is deleted."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.render.coalesce import mark_dirty, take_dirty
from services.render.outbox import clear_outbox
from shared.models import pending_entry, pending_key
from tests.render.conftest import Newsroom

JSON = "application/json"
PAGES = st.sets(st.sampled_from(["home", "sidebar", "feeds:site", "channel:news", "search"]))
SERIES = st.dictionaries(
    st.sampled_from(["archive:news", "archive:tech", "sitemap"]), st.integers(1, 40)
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(taken=PAGES, later=PAGES, taken_from=SERIES, later_from=SERIES)
def test_a_flush_takes_what_a_killed_flush_left_together_with_what_was_marked_since(
    newsroom: Newsroom,
    taken: set[str],
    later: set[str],
    taken_from: dict[str, int],
    later_from: dict[str, int],
) -> None:
    ctx = newsroom.ctx
    ctx.redis.delete(ctx.keys.dirty, ctx.keys.dirty_from, ctx.keys.flushing, ctx.keys.flushing_from)
    mark_dirty(ctx, taken, taken_from)
    assert take_dirty(ctx) == (taken, taken_from)  # ...and its worker was SIGKILLed here
    mark_dirty(ctx, later, later_from)

    pages, series = take_dirty(ctx)

    assert pages == taken | later
    lowest = {name: min(taken_from.get(name, 99), later_from.get(name, 99)) for name in series}
    assert series == lowest
    assert set(series) == set(taken_from) | set(later_from)


def test_the_lists_a_killed_flush_had_taken_show_the_article_after_the_next(
    newsroom: Newsroom,
) -> None:
    newsroom.publish(1)
    newsroom.flush()
    newsroom.publish(2)
    take_dirty(newsroom.ctx)  # a flush took the marks, then died before rendering a page

    newsroom.flush()

    for key in ("index.html", "news/index.html", "feed.xml", "news/atom.xml"):
        assert "稿件 2" in (newsroom.page(key) or ""), key


@pytest.fixture
def no_hmget(newsroom: Newsroom) -> Iterator[redis.Redis]:
    """A connection whose every HMGET fails, as a Redis going away mid-way would."""
    name, password = f"outbox-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = newsroom.ctx.redis
    admin.acl_setuser(
        name, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"],
        commands=["+@all", "-hmget"],
    )  # fmt: skip
    kwargs = admin.connection_pool.connection_kwargs
    client = redis.Redis(
        host=kwargs["host"], port=kwargs["port"], username=name, password=password,
        decode_responses=True,
    )  # fmt: skip
    yield client
    client.close()
    admin.acl_deluser(name)


def test_outbox_ids_stay_until_their_entries_are_deleted_when_redis_fails_in_between(
    newsroom: Newsroom, no_hmget: redis.Redis
) -> None:
    data = newsroom.isolated.storage.data
    for story in (newsroom.publish(1), newsroom.publish(2)):
        data.put(pending_key(story.id), pending_entry(story.id, 1), content_type=JSON)

    failing = dataclasses.replace(newsroom.ctx, redis=no_hmget)
    with pytest.raises(redis.RedisError):
        clear_outbox(failing)
    assert clear_outbox(newsroom.ctx) == 2  # the next flush still knows them

    assert list(data.keys("pending/")) == []
    assert newsroom.ctx.redis.scard(newsroom.ctx.keys.outbox_done) == 0


def test_an_entry_ingest_rewrote_for_a_newer_version_is_kept_by_the_flush(
    newsroom: Newsroom,
) -> None:
    data = newsroom.isolated.storage.data
    story = newsroom.publish(1)
    data.put(pending_key(story.id), pending_entry(story.id, 1), content_type=JSON)
    # Ingest stores version 2's entry before it records the version in Redis: a flush
    # judging by Redis alone takes version 1 for the last one.
    data.put(pending_key(story.id), pending_entry(story.id, 2), content_type=JSON)

    newsroom.flush()

    assert data.get_json(pending_key(story.id)) == {"id": story.id, "version": 2}
