"""The site search index: tokens, segments, and what the render flush makes findable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.render.reindex import reindex
from services.render.search import index
from services.render.search.segments import Postings, encode
from services.render.search.tokens import CJK_RUN, query_tokens, runs, tokens
from services.render.service import publish_article
from services.render.site_files import publish_site
from tests.render.conftest import Newsroom
from tests.render.search_reader import search, titles
from tests.render.test_html_valid import vnu_errors

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80)
OTHER = st.sampled_from("abcXYZ019 ,。、《》\uff21\uff22\uff11")  # with full-width forms
TEXT = st.text(alphabet=st.one_of(HAN, OTHER), min_size=0, max_size=60)


@pytest.mark.unit
@settings(max_examples=200, deadline=None)
@given(TEXT, st.data())
def test_any_piece_of_a_text_is_found_in_it(text: str, data: st.DataObject) -> None:
    """Whatever Chinese a reader copies out of a text (two characters or more), or any
    whole word of another script, the text holds every token of that query."""
    held = tokens(text)
    for run in runs(text):
        start = data.draw(st.integers(0, max(len(run) - 2, 0)))
        end = data.draw(st.integers(min(start + 2, len(run)), len(run)))
        piece = run[start:end] if CJK_RUN.fullmatch(run) else run
        if len(piece) > 1 or not CJK_RUN.fullmatch(run):
            assert query_tokens(piece) <= held, piece
        if CJK_RUN.fullmatch(run):  # titles also find one character
            assert query_tokens(run[start]) <= tokens(text, singles=True)


@pytest.mark.unit
def test_two_character_words_and_names_are_tokens() -> None:
    text = "教育部科学技术与信息化司司长雷朝滋表示,5G 网络和\uff21\uff29发展"
    assert {"教育", "科学", "雷朝", "朝滋", "5g", "ai"} <= tokens(text)
    assert query_tokens("雷朝滋") == {"雷朝", "朝滋"}
    assert query_tokens("\uff21\uff29") == {"ai"}
    assert "司" not in tokens(text)
    assert "司" in tokens(text, singles=True)


@pytest.mark.unit
@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.integers(1, 10**8),
        st.tuples(st.sets(st.text(min_size=1, max_size=3), max_size=8), st.booleans()),
        max_size=20,
    ),
    st.sets(st.integers(1, 10**8), max_size=5),
)
def test_a_merged_segment_holds_what_its_parts_held_but_the_withdrawn(
    docs: dict[int, tuple[set[str], bool]], gone: set[int]
) -> None:
    postings = Postings()
    for number, (words, in_title) in docs.items():
        postings.add(number, words, words if in_title else ())
    segment, shards = encode(postings)
    merged = Postings()
    for shard in shards:
        merged.merge_shard(orjson.loads(shard), gone)
    for number, (words, in_title) in docs.items():
        for word in words:
            assert (number in merged.body[word]) == (number not in gone)
            assert (number in merged.title.get(word, set())) == (in_title and number not in gone)
    assert segment.docs == len({n for n, (w, _) in docs.items() if w})
    assert encode(postings)[0].id == segment.id  # the same postings, the same name


def test_a_published_article_is_found_by_a_two_character_word(newsroom: Newsroom) -> None:
    newsroom.publish(
        1, title="春节联欢晚会筹备工作启动", body_html="<p>央视宣布今年的晚会由雷朝滋担任顾问。</p>"
    )
    newsroom.publish(
        2, title="文艺评论座谈会召开", body_html="<p>会上谈到了春节期间的演出市场。</p>"
    )
    newsroom.publish(3, title="研究会公告", body_html="<p>关于年度会员登记的通知。</p>")
    newsroom.flush()
    assert titles(newsroom.isolated.storage.site, "春节") == [
        "春节联欢晚会筹备工作启动",  # in the title: first, although older
        "文艺评论座谈会召开",
    ]
    assert titles(newsroom.isolated.storage.site, "雷朝滋") == ["春节联欢晚会筹备工作启动"]
    assert titles(newsroom.isolated.storage.site, "登记") == ["研究会公告"]
    assert titles(newsroom.isolated.storage.site, "春晚") == []
    page = newsroom.page("query.html")
    assert page is not None
    assert 'action="/query.html"' in page


def test_recency_orders_matches_of_the_same_kind(newsroom: Newsroom) -> None:
    for n in (5, 1, 3):
        newsroom.publish(n, title=f"第{n}期通讯", body_html="<p>非遗保护</p>")
    newsroom.flush()
    assert titles(newsroom.isolated.storage.site, "非遗") == ["第5期通讯", "第3期通讯", "第1期通讯"]


def test_withdrawn_and_edited_articles_leave_the_results(newsroom: Newsroom) -> None:
    site = newsroom.isolated.storage.site
    kept = newsroom.publish(1, title="剪纸艺术展开幕", body_html="<p>民间剪纸</p>")
    dropped = newsroom.publish(2, title="剪纸大师访谈", body_html="<p>民间剪纸</p>")
    newsroom.flush()
    assert titles(site, "剪纸") == ["剪纸大师访谈", "剪纸艺术展开幕"]
    newsroom.unpublish(dropped)
    edited = kept.model_copy(
        update={"version": 2, "title": "皮影戏展开幕", "body_html": "<p>皮影</p>"}
    )
    site_data = newsroom.isolated.storage.data
    site_data.put_json(f"articles/{kept.id}.json", edited.model_dump(mode="json"))
    assert publish_article(newsroom.ctx, kept.id, 2) == "published"
    newsroom.flush()
    assert titles(site, "剪纸") == []
    assert titles(site, "皮影") == ["皮影戏展开幕"]


def test_small_segments_merge_and_merges_drop_withdrawn_articles(
    newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "FANOUT", 3)
    site = newsroom.isolated.storage.site
    first = newsroom.publish(1, title="戏曲进校园 1", body_html="<p>京剧</p>")
    newsroom.flush()
    newsroom.unpublish(first)
    newsroom.flush()
    for n in range(2, 11):
        newsroom.publish(n, title=f"戏曲进校园 {n}", body_html="<p>京剧</p>")
        newsroom.flush()
    manifest = site.get_json("search/manifest.json")
    assert len(manifest["segments"]) < 5
    assert sum(s["docs"] for s in manifest["segments"]) == 9
    assert [d["t"] for d in search(site, "京剧", limit=20)] == [
        f"戏曲进校园 {n}" for n in range(10, 1, -1)
    ]


def test_an_embargoed_article_is_found_only_once_it_is_due(newsroom: Newsroom) -> None:
    site = newsroom.isolated.storage.site
    due = newsroom.start + timedelta(days=1)
    story = newsroom.file(1, title="年度文艺奖揭晓", embargoed=due.isoformat())
    newsroom.ctx.clock = lambda: due - timedelta(minutes=1)
    assert publish_article(newsroom.ctx, story.id, story.version) == "scheduled"
    newsroom.flush()
    assert titles(site, "文艺") == []
    newsroom.ctx.clock = lambda: due
    assert publish_article(newsroom.ctx, story.id, story.version) == "published"
    newsroom.flush()
    assert titles(site, "文艺") == ["年度文艺奖揭晓"]


def test_a_reindex_after_redis_lost_its_data_makes_the_archive_findable_again(
    newsroom: Newsroom,
) -> None:
    site, db = newsroom.isolated.storage.site, newsroom.ctx.redis
    newsroom.publish(1, title="非遗传承人座谈", body_html="<p>剪纸</p>")
    newsroom.unpublish(newsroom.publish(2, title="剪纸展览撤稿", body_html="<p>剪纸</p>"))
    newsroom.flush()
    for key in db.scan_iter(f"{newsroom.ctx.keys.prefix}*"):
        db.delete(key)
    newsroom.publish(3, title="剪纸新作", body_html="<p>新作</p>")
    newsroom.flush()
    assert titles(site, "剪纸") == ["剪纸新作"]  # the lost segment list: the archive is gone

    reindex(newsroom.ctx)

    assert titles(site, "剪纸") == ["剪纸新作", "非遗传承人座谈"]


def test_a_new_site_has_its_search_page_before_any_article(
    newsroom: Newsroom, tmp_path: Path
) -> None:
    publish_site(newsroom.ctx)  # what `pressroom init` and a starting worker do
    page = newsroom.page("query.html")
    assert page is not None
    assert 'id="search-results"' in page
    (tmp_path / "query.html").write_text(page)
    assert vnu_errors([tmp_path / "query.html"]) == []
