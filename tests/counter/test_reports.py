"""What editors read: rankings per window and channel, per-article series, the dashboard."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.counter.conftest import Counter, hit_together, reader


def hit(counter: Counter, article: str, readers: range) -> None:
    with counter.client() as http:
        for n in readers:
            assert http.post(f"/v1/hits/{article}", headers=reader(n)).status_code == 200


def test_rankings_order_articles_by_views_per_window_and_channel(counter: Counter) -> None:
    sport = f"sport{counter.keys.prefix[1:5]}"
    busy, quiet, other = counter.publish(sport), counter.publish(sport), counter.publish("news")
    hit(counter, busy, range(3))
    hit(counter, quiet, range(1))
    hit(counter, other, range(5))

    with counter.client() as http:
        tops = {
            w: http.get("/v1/top", params={"window": w, "channel": sport})
            for w in ("1h", "24h", "7d", "30d", "all")
        }
        overall = http.get("/v1/top", params={"window": "24h", "limit": 100}).json()

    for window, answer in tops.items():
        assert answer.status_code == 200, window
        assert [(i["id"], i["count"]) for i in answer.json()["items"]] == [(busy, 3), (quiet, 1)]
    assert tops["all"].json()["items"][0]["title"].startswith("稿件")
    ids = [i["id"] for i in overall["items"]]
    assert ids.index(other) < ids.index(busy) < ids.index(quiet)


def test_an_unpublished_article_leaves_the_rankings(counter: Counter) -> None:
    gone = counter.publish("obituaries")
    hit(counter, gone, range(2))
    counter.unpublish(gone)
    with counter.client() as http:
        items = http.get("/v1/top", params={"window": "all", "channel": "obituaries"}).json()
    assert items["items"] == []


def test_bad_window_or_range_is_a_problem_naming_the_field(counter: Counter) -> None:
    article = counter.publish()
    with counter.client() as http:
        window = http.get("/v1/top", params={"window": "2h"})
        backwards = http.get(
            f"/v1/stats/{article}", params={"from": "2026-07-02", "to": "2026-07-01"}
        )
        unknown = http.get(f"/v1/stats/{'f' * 20}")

    assert window.status_code == 422
    assert window.headers["content-type"] == "application/problem+json"
    assert "window" in window.json()["detail"]
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "from"
    assert unknown.status_code == 404


def test_stats_show_this_hours_views_and_todays_readers(counter: Counter) -> None:
    article = counter.publish()
    hit(counter, article, range(4))
    hit(counter, article, range(2))  # the same readers again: deduped, and not new uniques
    now = datetime.now(UTC)

    with counter.client() as http:
        hours = http.get(f"/v1/stats/{article}", params={"granularity": "hour"}).json()
        days = http.get(f"/v1/stats/{article}", params={"granularity": "day"}).json()

    assert hours["total"] == 4
    assert hours["points"][-1] == {
        "at": now.strftime("%Y-%m-%dT%H:00:00Z"),
        "count": 4,
        "uniques": None,
    }
    assert len(hours["points"]) == 48
    assert days["points"][-1]["count"] == 4
    assert days["points"][-1]["uniques"] == 4
    assert days["to"] == now.strftime("%Y-%m-%dT00:00:00Z")


def test_dashboard_shows_the_top_articles_and_an_hourly_chart(counter: Counter) -> None:
    article = counter.publish(title="看板测试稿件")
    hit(counter, article, range(3))
    with counter.client() as http:
        board = http.get("/dashboard")
        chart = http.get("/dashboard", params={"article": article})

    assert board.status_code == 200
    assert board.headers["content-type"].startswith("text/html")
    assert "看板测试稿件" in board.text
    assert f"/dashboard?article={article}" in board.text
    assert chart.text.count("<svg") == 2
    assert 'data-count="3"' in chart.text


def test_concurrent_hits_on_many_articles_count_and_rank_each_one(counter: Counter) -> None:
    """Hits arriving together share group commits (one script call on a single server):
    every article still gets exactly its readers, its ranking entries, and unknown ids
    among them are refused without disturbing the rest."""
    channels = [f"c{n}{counter.keys.prefix[1:5]}" for n in range(3)]
    articles = {counter.publish(channels[n % 3]): n + 1 for n in range(9)}
    unknown = [uuid.uuid4().hex[:20] for _ in range(5)]

    posts = [(a, r) for a, readers in articles.items() for r in range(readers)]
    posts += [(u, 0) for u in unknown]
    random.shuffle(posts)
    answers = hit_together(counter, [(a, reader(r)) for a, r in posts])
    statuses = [(a, answer.status_code) for (a, _), answer in zip(posts, answers, strict=True)]
    with counter.client() as http:
        counts = http.get("/v1/counts", params={"ids": ",".join(articles)}).json()["counts"]
        tops = {
            c: http.get("/v1/top", params={"window": "1h", "channel": c}).json()["items"]
            for c in channels
        }

    assert {code for a, code in statuses if a in articles} == {200}
    assert {code for a, code in statuses if a in unknown} == {404}
    assert counts == articles
    for n, channel in enumerate(channels):
        expected = sorted(((a, c) for a, c in articles.items() if (c - 1) % 3 == n),
                          key=lambda item: -item[1])  # fmt: skip
        assert [(i["id"], i["count"]) for i in tops[channel]] == expected


OFFSETS = st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ),
)
# near both ends of datetime's range, around now, and anywhere between
INSTANTS = st.one_of(
    st.datetimes(max_value=datetime(1, 1, 3)),
    st.datetimes(min_value=datetime(9999, 12, 29)),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    st.datetimes(),
).flatmap(lambda at: st.one_of(st.just(at), OFFSETS.map(lambda tz: at.replace(tzinfo=tz))))


@pytest.fixture(scope="module")
def stats_of(counter: Counter) -> Iterator[tuple[httpx.Client, str]]:
    """A client and a published article, shared by the examples of a property test."""
    with counter.client() as http:
        yield http, counter.publish()


@settings(max_examples=60, deadline=None, database=None)
@given(
    granularity=st.sampled_from(["hour", "day"]),
    start=st.none() | INSTANTS,
    end=st.none() | INSTANTS,
)
@example(
    granularity="hour",
    start=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-12))),
    end=None,
)
@example(granularity="day", start=None, end=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
def test_any_range_is_answered_or_refused_naming_its_bound(
    stats_of: tuple[httpx.Client, str],
    granularity: str,
    start: datetime | None,
    end: datetime | None,
) -> None:
    http, article = stats_of
    params = {"granularity": granularity}
    params |= {"from": start.isoformat()} if start else {}
    params |= {"to": end.isoformat()} if end else {}
    answer = http.get(f"/v1/stats/{article}", params=params)

    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert answer.headers["content-type"] == "application/problem+json"
        # the range checks name the bound; FastAPI's parsing names it as "query.<name>"
        fields = [e["field"].removeprefix("query.") for e in answer.json()["errors"]]
        assert fields
        assert set(fields) <= {"from", "to"}
    else:
        stats = answer.json()
        assert stats["from"] <= stats["to"]
        assert len(stats["points"]) <= 2000
