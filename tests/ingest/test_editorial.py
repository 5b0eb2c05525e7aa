"""Editorial time at ingest: embargoes (native and ninjs), ninjs withheld then usable,
corrections and updated_at, and the versions list. Through real ingest over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.models import article_key
from shared.text import EARLIEST, LATEST
from tests.ingest.conftest import SAMPLES, Ingest, article

NINJS = "application/ninjs+json"


def later(**delta: float) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def ninjs(uri: str, **fields: Any) -> bytes:
    document = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes())
    document.pop("version", None)
    return orjson.dumps(document | {"uri": uri, **fields})


def status(api: Ingest, aid: str, feed: str = "wire") -> Any:
    return api.client.get(f"/v1/articles/{aid}", headers=api.headers(feed))


def versions(api: Ingest, aid: str, feed: str = "wire") -> Any:
    return api.client.get(f"/v1/articles/{aid}/versions", headers=api.headers(feed))


def test_an_embargoed_article_is_scheduled_with_its_instant_and_published_no_earlier(
    api: Ingest,
) -> None:
    instant = later(hours=3)
    answer = api.post_json(article("embargo-1", embargoed=instant.isoformat()))

    assert (answer.status_code, answer.json()["status"]) == (202, "scheduled")
    state = status(api, answer.json()["id"]).json()
    assert state["status"] == "scheduled"
    assert datetime.fromisoformat(state["embargoed"]) == instant
    # the page will not claim a time before anyone could read it
    assert datetime.fromisoformat(state["published_at"]) == instant


def test_a_later_version_moves_lifts_or_adds_the_embargo(api: Ingest) -> None:
    aid = api.post_json(article("embargo-2", embargoed=later(hours=3).isoformat())).json()["id"]
    moved = api.post_json(article("embargo-2", embargoed=later(hours=5).isoformat()))
    lifted = api.post_json(article("embargo-2", embargoed=None))
    tomorrow = later(days=1)
    added = api.post_json(article("embargo-2", embargoed=tomorrow.isoformat()))

    assert [a.json()["status"] for a in (moved, lifted, added)] == [
        "scheduled",
        "queued",
        "scheduled",
    ]
    stored = api.isolated.storage.data.get_json(article_key(aid))
    assert datetime.fromisoformat(stored["embargoed"]) == tomorrow
    assert stored["version"] == 4


def test_an_embargo_without_an_offset_is_a_422_naming_it(module_api: Ingest) -> None:
    answer = module_api.post_json(
        article(f"naive-{uuid.uuid4().hex[:6]}", embargoed="2030-01-01T08:00:00")
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["embargoed"]


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    instant=st.datetimes(
        min_value=EARLIEST.replace(tzinfo=None) + timedelta(days=2),
        max_value=LATEST.replace(tzinfo=None) - timedelta(days=2),
        timezones=st.sampled_from([UTC, *(timezone(timedelta(hours=h)) for h in (-12, -5, 8, 14))]),
    )
)
def test_any_embargo_the_schema_accepts_is_stored_to_the_second_and_says_scheduled_if_ahead(
    module_api: Ingest, instant: datetime
) -> None:
    answer = module_api.post_json(
        article(f"any-{uuid.uuid4().hex[:8]}", embargoed=instant.isoformat())
    )

    assert answer.status_code == 202, answer.text
    ahead = instant > datetime.now(UTC)
    assert answer.json()["status"] == ("scheduled" if ahead else "queued")
    stored = module_api.isolated.storage.data.get_json(article_key(answer.json()["id"]))
    assert datetime.fromisoformat(stored["embargoed"]) == instant


def test_ninjs_embargoed_maps_to_the_embargo(api: Ingest) -> None:
    instant = later(hours=2)
    answer = api.post(ninjs("ninjs-embargo", embargoed=instant.isoformat()), NINJS)

    assert (answer.status_code, answer.json()["status"]) == (202, "scheduled")
    assert datetime.fromisoformat(status(api, answer.json()["id"]).json()["embargoed"]) == instant


def test_ninjs_withheld_holds_the_story_and_usable_releases_the_same_text(api: Ingest) -> None:
    """An agency may send a story withheld first: it is stored, shown nowhere, and the same
    text sent usable afterwards is a new version that publishes it."""
    held = api.post(ninjs("withheld-first", pubstatus="withheld"), NINJS)
    again = api.post(ninjs("withheld-first", pubstatus="withheld"), NINJS)
    usable = api.post(ninjs("withheld-first", pubstatus="usable"), NINJS)

    assert (held.status_code, held.json()["status"]) == (202, "unpublished")
    assert again.status_code == 200
    assert (usable.status_code, usable.json()["version"]) == (202, 2)
    stored = api.isolated.storage.data.get_json(article_key(usable.json()["id"]))
    assert stored["unpublished"] is False


def test_a_correction_after_publication_carries_updated_at_and_the_first_version_none(
    api: Ingest,
) -> None:
    first = api.post_json(article("corrected")).json()
    feed_time = later(minutes=-5)
    corrected = api.post_json(
        article(
            "corrected", correction="标题中的日期有误,已更正。", updated_at=feed_time.isoformat()
        )
    ).json()
    unstated = api.post_json(article("corrected", title="再次更新", correction="")).json()

    state = status(api, first["id"]).json()
    listed = versions(api, first["id"]).json()["versions"]
    assert [v["version"] for v in listed] == [1, 2, 3]
    assert [v["correction"] for v in listed] == ["", "标题中的日期有误,已更正。", ""]
    assert state["updated_at"] is not None  # the third: the receipt time of that version
    stored = [
        api.isolated.storage.data.get_json(f"articles/{first['id']}/v{n:010d}.json")
        for n in (1, 2, 3)
    ]
    assert stored[0]["updated_at"] is None
    assert datetime.fromisoformat(stored[1]["updated_at"]) == feed_time
    assert datetime.fromisoformat(stored[2]["updated_at"]) == datetime.fromisoformat(
        stored[2]["received_at"]
    )
    assert corrected["changed"]
    assert unstated["changed"]


def test_no_updated_at_while_the_story_was_never_shown(api: Ingest) -> None:
    """Versions sent during an embargo change nothing readers saw: no 更新时间."""
    aid = api.post_json(article("pre-release", embargoed=later(hours=1).isoformat())).json()["id"]
    api.post_json(article("pre-release", title="改稿", embargoed=later(hours=1).isoformat()))

    stored = api.isolated.storage.data.get_json(article_key(aid))
    assert stored["updated_at"] is None


def test_the_versions_list_records_every_version_and_the_kill_for_the_owning_feed_only(
    api: Ingest,
) -> None:
    aid = api.post_json(article("listed", version=1)).json()["id"]
    api.post_json(article("listed", version=2, title="更正版", correction="人名有误"))
    api.client.delete(f"/v1/articles/{aid}", headers=api.headers())

    mine = versions(api, aid)
    other = versions(api, aid, feed="other")
    nonsense = versions(api, "not-an-id")

    assert mine.status_code == 200
    listed = mine.json()["versions"]
    assert [(v["version"], v["withdrawn"]) for v in listed] == [(1, False), (2, False), (2, True)]
    assert [v["title"] for v in listed][:2] == [article()["title"], "更正版"]
    assert listed[1]["correction"] == "人名有误"
    assert all(v["received_at"] for v in listed)
    assert other.status_code == nonsense.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
