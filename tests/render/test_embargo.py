"""Embargoes, holds, corrections and kills in every order, through the real render path: until
its instant an article shows on no surface (its page, lists, archive, home, 头条 / 公告 /
点击排行, the sidebar fragment, feeds, sitemap, its neighbours' links, search, the counter's
check);
once the scheduler releases it, it shows everywhere, with 更新时间 and 更正 when due."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from services.ingest import editorial
from services.ingest.schemas import ArticleIn
from services.render import rebuild
from services.render.context import RenderContext
from services.render.reindex import reindex
from services.render.schedule import release_due
from services.render.service import publish_article
from shared.models import Article, article_key, version_key
from tests.render.conftest import Newsroom
from tests.render.search_reader import search

START = datetime(2031, 5, 1, 8, 0, tzinfo=UTC)
CHANNEL = "notices"  # the 公告 block lists it, besides the lists every channel has
# Minutes from "now" of an embargo: already past, soon, later; None: no embargo.
EMBARGOES = st.none() | st.sampled_from([-30, 5, 45, 200])


class Embargoes(RuleBasedStateMachine):
    """One article's versions against a model of what a reader may see."""

    room: Newsroom
    neighbours: list[Article]

    def __init__(self) -> None:
        super().__init__()
        self.external_id = f"embargo-{uuid.uuid4().hex[:12]}"
        self.aid = uuid.uuid4().hex[:20]
        self.now = START
        self.current: Article | None = None
        self.ever_live = False
        self.room.ctx.clock = lambda: self.now

    @property
    def ctx(self) -> RenderContext:
        return self.room.ctx

    @initialize()
    def ranked_first_by_readers(self) -> None:
        """Readers' clicks (the counter's all-time ranking) would put it first in 点击排行."""
        self.ctx.redis.zadd(self.ctx.keys.top(self.ctx.settings.hot_window), {self.aid: 10_000})

    # --- what the feed sends -------------------------------------------------------------

    @rule(embargo=EMBARGOES, correct=st.booleans(), hold=st.booleans())
    def send_version(self, embargo: int | None, correct: bool, hold: bool) -> None:
        """A new version: publish (ninjs usable) or hold (withheld), with or without an
        embargo (added, moved, lifted) and a correction."""
        incoming = ArticleIn(
            external_id=self.external_id,
            title=f"定档稿件 {self.aid}",
            channel=CHANNEL,
            headline=True,
            embargoed=self.now + timedelta(minutes=embargo) if embargo is not None else None,
            correction="原文日期有误,已更正。" if correct else "",
        )
        if hold and editorial.held_unchanged(self.current, incoming):
            return
        base = Article(
            id=self.aid,
            feed="desk",
            external_id=self.external_id,
            version=self.current.version + 1 if self.current else 1,
            title=incoming.title,
            body_html="<p>正文</p>",
            channel=CHANNEL,
            headline=True,
            published_at=self.current.published_at if self.current else self.now,
            received_at=self.now,
            fingerprint=uuid.uuid4().hex,
        )
        self.store(editorial.revise(base, incoming, self.current, self.now, held=hold))

    @rule()
    def kill(self) -> None:
        if self.current is None or self.current.unpublished:
            return
        update = {"version": self.current.version + 1, "unpublished": True, "received_at": self.now}
        update |= editorial.withdrawal_update(self.current, self.now)
        self.store(self.current.model_copy(update=update))

    @rule(minutes=st.sampled_from([1, 10, 60, 240]))
    def time_passes(self, minutes: int) -> None:
        """The clock moves; the scheduler ticks and render publishes what came due."""
        self.now += timedelta(minutes=minutes)
        release_due(
            self.ctx.redis,
            self.ctx.keys,
            lambda _task, args: publish_article(self.ctx, str(args[0]), int(str(args[1]))),
            now=self.now.timestamp(),
            lease=30,
        )
        self.settle()

    @rule()
    def reconciler_resends(self) -> None:
        """The reconciler (or a redelivered message) renders the stored version again, at any
        time: render checks the embargo itself, so it never publishes early."""
        if self.current is not None:
            publish_article(self.ctx, self.aid, self.current.version)
            self.settle()

    def store(self, article: Article) -> None:
        expected_update = self.ever_live  # readers saw it before this version: 更新时间
        document = article.model_dump(mode="json")
        data = self.room.isolated.storage.data
        data.put_json(version_key(article.id, article.version, article.unpublished), document)
        data.put_json(article_key(article.id), document)
        self.current = article
        assert (article.updated_at is not None) == expected_update, (article, self.ever_live)
        publish_article(self.ctx, article.id, article.version)
        self.settle()

    def settle(self) -> None:
        self.room.flush()
        self.ever_live |= self.live

    # --- what a reader sees ----------------------------------------------------------------

    @property
    def live(self) -> bool:
        article = self.current
        return article is not None and not article.unpublished and not article.held_at(self.now)

    @invariant()
    def every_surface_agrees(self) -> None:
        marker = f"/{self.aid}.html"
        seen = {name: marker in text for name, text in surfaces(self.room, self.neighbours).items()}
        assert seen == dict.fromkeys(seen, self.live), (self.current, self.now)
        found = search(self.room.isolated.storage.site, "定档稿件", limit=100)
        assert any(marker in doc["u"] for doc in found) == self.live  # the search page's index
        sidebar = self.room.page("fragments/sidebar.html") or ""
        assert sidebar.count(marker) == (3 if self.live else 0)  # 头条, 公告, 点击排行
        status = self.ctx.redis.hget(self.ctx.keys.article(self.aid), "status")
        assert (status == "published") == self.live  # what the counter's hit script checks

    @invariant()
    def the_page_says_when_it_changed(self) -> None:
        article = self.current
        if not self.live or article is None:
            return
        page = self.room.page(self.room.url(article)) or ""
        assert ("更新时间" in page) == (article.updated_at is not None)
        assert ("更正</strong>" in page) == bool(article.correction)

    @invariant()
    def scheduled_while_held_and_only_then(self) -> None:
        article, keys, db = self.current, self.ctx.keys, self.ctx.redis
        held = article is not None and article.held_at(self.now)
        score = db.zscore(keys.due, self.aid)
        if held and article is not None and article.embargoed is not None:
            assert score == article.embargoed.timestamp()
        else:
            assert score is None
        assert db.zscore(keys.releasing, self.aid) is None

    def teardown(self) -> None:
        """Take it down, so the next example's lists start from the neighbours alone."""
        if self.current is not None and not self.current.unpublished:
            self.kill()
        self.ctx.redis.zrem(self.ctx.keys.top(self.ctx.settings.hot_window), self.aid)


def surfaces(room: Newsroom, neighbours: list[Article]) -> dict[str, str]:
    """Every surface an article may show on besides the sidebar (counted apart), each as the
    text of its page or pages: a list or the sitemap may hold it on any of its pages."""
    site = room.isolated.storage.site
    lists = [
        k for k in site.keys(f"{CHANNEL}/") if k.rpartition("/")[2].startswith(("index", "list_"))
    ]
    sitemaps = [k for k in site.keys("sitemap") if k.endswith(".xml")]
    groups = {
        "home": ["index.html"],
        "rss": ["feed.xml"],
        "atom": ["atom.xml"],
        "channel rss": [f"{CHANNEL}/feed.xml"],
        "channel atom": [f"{CHANNEL}/atom.xml"],
        "channel index and archive": lists,
        "sitemap": sitemaps,
        "older neighbour's 上一篇/下一篇": [room.url(neighbours[0])],
        "newer neighbour's 上一篇/下一篇": [room.url(neighbours[1])],
    }
    pages = {name: "".join(room.page(k) or "" for k in keys) for name, keys in groups.items()}
    assert all(pages.values()), [name for name, text in pages.items() if not text]
    return pages


@pytest.mark.slow
def test_nothing_shows_before_the_instant_and_everything_after(small_pages: Newsroom) -> None:
    older = small_pages.publish(1, CHANNEL, published_at=START - timedelta(days=1))
    newer = [
        small_pages.publish(n, CHANNEL, published_at=START + timedelta(days=10 + n))
        for n in range(2, 7)
    ]
    small_pages.flush()
    Embargoes.room, Embargoes.neighbours = small_pages, [older, *newer]
    run_state_machine_as_test(
        Embargoes,
        settings=settings(
            max_examples=5,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_a_held_article_comes_out_on_its_instant_and_not_a_tick_before(
    newsroom: Newsroom,
) -> None:
    now = START
    newsroom.ctx.clock = lambda: now
    article = newsroom.file(1, embargoed=START + timedelta(minutes=30), headline=True)
    sent: list[list[object]] = []

    def tick(at: datetime) -> list[str]:
        return release_due(
            newsroom.ctx.redis,
            newsroom.ctx.keys,
            lambda _task, args: sent.append(args),
            now=at.timestamp(),
            lease=30,
        )

    assert publish_article(newsroom.ctx, article.id, 1) == "scheduled"
    assert tick(START + timedelta(minutes=29, seconds=59)) == []
    assert tick(START + timedelta(minutes=30)) == [article.id]
    now = START + timedelta(minutes=30)
    assert publish_article(newsroom.ctx, str(sent[0][0]), int(str(sent[0][1]))) == "published"
    assert newsroom.page(newsroom.url(article)) is not None
    assert tick(START + timedelta(hours=2)) == []  # released once: the lease is done


def test_a_rebuild_never_publishes_early_and_reindex_restores_the_schedule(
    newsroom: Newsroom,
) -> None:
    """Redis lost (the due set with it) and the operator runs reindex then rebuild: the held
    article stays unpublished and is scheduled again at its instant."""
    newsroom.ctx.clock = lambda: START
    instant = START + timedelta(hours=1)
    live = newsroom.publish(1)
    held = newsroom.file(2, embargoed=instant, published_at=instant)
    assert publish_article(newsroom.ctx, held.id, 1) == "scheduled"
    db = newsroom.ctx.redis
    db.delete(*db.keys(f"{newsroom.ctx.keys.prefix}*"))

    indexes = reindex(newsroom.ctx)
    summary = rebuild.rebuild_articles(newsroom.ctx, rebuild.article_documents(newsroom.ctx))

    assert (indexes.published, indexes.scheduled) == (1, 1)
    assert db.zscore(newsroom.ctx.keys.due, held.id) == instant.timestamp()
    assert newsroom.page(newsroom.url(held)) is None
    assert newsroom.page(newsroom.url(live)) is not None
    assert summary.failed == 0
