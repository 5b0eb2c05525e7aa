"""Withdrawn search documents: left out of every merge that could meet them, and forgotten
once none can, so the state the index keeps about them stays bounded."""

from __future__ import annotations

import itertools
from datetime import timedelta

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from services.render.search import index
from services.render.search.segments import Segment
from services.render.service import publish_article
from shared.models import Article
from tests.render.conftest import Newsroom
from tests.render.search_reader import search

WORD = "京剧"


def segments(room: Newsroom) -> list[Segment]:
    return index.current_segments(room.ctx)


def numbers_in(room: Newsroom, segment: Segment) -> set[int]:
    found: set[int] = set()
    for key in segment.shard_keys():
        shard = orjson.loads(room.isolated.storage.site.get(key) or b"{}")
        for lists in shard.values():
            found.update(itertools.accumulate(lists[0]))
    return found


def withdrawn(room: Newsroom) -> dict[int, float]:
    marks: list[tuple[str, float]] = room.ctx.redis.zrange(  # type: ignore[assignment]
        room.ctx.keys.search_gone, 0, -1, withscores=True
    )
    return {int(n): score for n, score in marks}


def move(room: Newsroom, story: Article, minutes: int) -> Article:
    """A new version published at another minute: its document number moves."""
    moved = story.model_copy(
        update={
            "version": story.version + 1,
            "published_at": story.published_at + timedelta(minutes=minutes),
        }
    )
    room.isolated.storage.data.put_json(f"articles/{story.id}.json", moved.model_dump(mode="json"))
    assert publish_article(room.ctx, moved.id, moved.version) == "published"
    return moved


def test_a_merge_forgets_the_withdrawals_it_dropped(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "FANOUT", 4)
    site = newsroom.isolated.storage.site
    first = [newsroom.publish(n, title=f"戏曲 {n}", body_html=f"<p>{WORD}</p>") for n in (1, 2)]
    newsroom.flush()
    for story in first:
        newsroom.unpublish(story)
    newsroom.flush()
    assert len(withdrawn(newsroom)) == 2  # the segment holding them may still be merged

    for n in range(3, 6):  # the fourth segment: all four merge into one
        newsroom.publish(n, title=f"戏曲 {n}", body_html=f"<p>{WORD}</p>")
        newsroom.flush()

    assert len(segments(newsroom)) == 1
    assert withdrawn(newsroom) == {}
    assert [d["t"] for d in search(site, WORD, limit=20)] == ["戏曲 5", "戏曲 4", "戏曲 3"]


class WithdrawalsInAnyOrder(RuleBasedStateMachine):
    """Publishes, withdrawals and moves (a new publication time, so a new number), each
    followed by a flush, with small merge fan-out and frozen size so that merges and frozen
    segments come quickly. After every flush: the results are exactly the live articles,
    every withdrawn number a mergeable segment still holds is marked, and no mark outlives
    the mergeable segments written before it."""

    room: Newsroom
    counter = itertools.count(1)
    live: dict[str, Article]

    @rule(k=st.integers(1, 3))
    def publish(self, k: int) -> None:
        for _ in range(k):
            n = next(self.counter)
            story = self.room.publish(n, title=f"戏曲 {n}", body_html=f"<p>{WORD}</p>")
            self.live[story.id] = story
        self.room.flush()

    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        if self.live:
            story = self.live.pop(data.draw(st.sampled_from(sorted(self.live))))
            self.room.unpublish(story)
            self.room.flush()

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        if self.live:
            story = self.live[data.draw(st.sampled_from(sorted(self.live)))]
            self.live[story.id] = move(self.room, story, 100_000 + next(self.counter))
            self.room.flush()

    @invariant()
    def results_are_the_live_articles(self) -> None:
        shown = [d["t"] for d in search(self.room.isolated.storage.site, WORD, limit=1_000)]
        assert sorted(shown) == sorted(a.title for a in self.live.values())

    @invariant()
    def marks_are_kept_while_needed_and_no_longer(self) -> None:
        marks = withdrawn(self.room)
        owned = set(map(int, self.room.ctx.redis.hkeys(self.room.ctx.keys.search_owners)))
        mergeable = [s for s in segments(self.room) if s.docs < index.FROZEN]
        for segment in mergeable:
            dead = numbers_in(self.room, segment) - owned
            assert dead <= set(marks), "a merge would keep a withdrawn document"
        floor = min((s.epoch for s in mergeable), default=None)
        for number, epoch in marks.items():
            assert floor is not None, f"{number} marked with no mergeable segment left"
            assert epoch >= floor, f"{number} marked before every mergeable segment"


def test_withdrawals_in_any_order_keep_bounded_marks(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "FANOUT", 3)
    monkeypatch.setattr(index, "FROZEN", 6)
    WithdrawalsInAnyOrder.room = newsroom
    WithdrawalsInAnyOrder.live = {}  # the site carries over from one example to the next
    run_state_machine_as_test(
        WithdrawalsInAnyOrder,
        settings=settings(
            max_examples=5,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
