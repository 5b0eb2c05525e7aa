"""Poison items, tested the way they broke: articles drawn from everything a feed can send go
through ingest's validation and the renderer; every page, feed and sitemap stays
well-formed, and a normal article published afterwards still appears everywhere."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest
from celery import Celery
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from lxml import etree, html
from markupsafe import escape

from services.ingest.app import create_app
from services.ingest.feeds import FeedRegistry
from services.ingest.settings import IngestSettings
from services.render.coalesce import flush
from services.render.context import RenderContext
from services.render.service import publish_article
from services.render.settings import RenderSettings
from services.render.tasks import build_context
from services.stack.run import Stack
from shared.celery_app import RENDER_QUEUE, configure_celery, queue_name
from shared.ids import article_id
from shared.models import Article, article_key, pending_key, version_key
from shared.storage import Storage
from shared.text import xml_safe
from tests.conftest import new_isolated
from tests.ingest.conftest import Ingest, serve, stop_ingest

CHANNELS = ("news", "notices", "reviews")
FEEDS = ["feed.xml", "atom.xml", "sitemap.xml", *(f"{c}/feed.xml" for c in CHANNELS)]
FEEDS += [f"{c}/atom.xml" for c in CHANNELS]
PAGES = ["index.html", "fragments/sidebar.html", *(f"{c}/index.html" for c in CHANNELS)]
# What upstreams send by mistake or malice: controls, bidi and invisible marks, the BOM,
# noncharacters, astral characters, markup.
ODD = (
    "\x00\x01\x08\x0b\x0c\x1f\x7f\x85\u200b\u200d\u200e\u202a\u202e\u2066\u2069\ufeff"
    "\ufffe\uffff\U0001f5de\U00010000\U0010fffd\U000e0041\u3164<>&\"'\t\r\n "
)
text_chars = st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(ODD))


def texts(max_size: int) -> st.SearchStrategy[str]:
    return st.text(text_chars, max_size=max_size)


offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


def moments(low: datetime, high: datetime) -> st.SearchStrategy[str]:
    return st.datetimes(low, high, timezones=offsets).map(datetime.isoformat)


# Any date a datetime can hold (with odd offsets), and dates hugging the accepted range.
dates = st.one_of(
    moments(datetime(1, 1, 2), datetime(9999, 12, 30)),
    moments(datetime(1899, 12, 30), datetime(1900, 1, 2)),
    moments(datetime(2200, 12, 30), datetime(2201, 1, 2)),
    moments(datetime(1990, 1, 1), datetime(2100, 1, 1)),
)
OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "body_html": texts(400),
    "summary": texts(300),
    "source": texts(100),
    "author": texts(100),
    "editor": texts(100),
    "tags": st.lists(texts(50), max_size=5),
    "headline": st.booleans(),
    "published_at": dates,
    "cover_image": st.sampled_from(["https://img.example.com/a.jpg", "http://x.cn/b.png"]),
    "external_id": texts(40),
}
# The normal articles go to `news`, these to the other channels: a future date drawn here
# may not push a normal article off its channel's list (it sits in the site-wide lists too).
article_fields = st.fixed_dictionaries(
    {"title": texts(300), "channel": st.sampled_from(CHANNELS[1:])}, optional=OPTIONAL
)
FIELDS = {"title", "channel", *OPTIONAL}


@dataclass
class Desk:
    """Ingest and render over one isolated prefix and pair of buckets, for a whole run."""

    ingest: Ingest
    ctx: RenderContext
    normal: int = 0

    def send(self, fields: dict[str, Any]) -> httpx.Response:
        document = fields | {"external_id": uuid.uuid4().hex + fields.get("external_id", "")}
        return self.ingest.post(orjson.dumps(document), "application/json")  # type: ignore[no-any-return]

    def publish(self, accepted: dict[str, Any]) -> str:
        return publish_article(self.ctx, accepted["id"], accepted["version"])

    def page(self, key: str) -> str:
        body = self.ingest.isolated.storage.site.get(key)
        assert body is not None, key
        return body.decode()

    def path(self, accepted: dict[str, Any]) -> str:
        return str(accepted["url"]).split("/", 3)[3]


@pytest.fixture(scope="module")
def desk(stack: Stack) -> Iterator[Desk]:
    isolated = new_isolated(stack)
    configure_celery(isolated.settings)  # render events go to queues of its own, unread
    fields = isolated.settings.model_dump()
    _, key = FeedRegistry(isolated.storage.data, cache_seconds=0).add("wire")
    server, thread, url = serve(create_app(IngestSettings(**fields, feed_cache_seconds=0)))
    client = httpx.Client(base_url=url, timeout=30)
    ctx = build_context(RenderSettings(**fields, hot_refresh_seconds=0))
    ctx.schedule = lambda task, delay: None  # the test flushes by itself
    try:
        yield Desk(Ingest(client, isolated, {"wire": key}, ""), ctx)
    finally:
        stop_ingest((server, thread, client))
        isolated.redis.close()


def assert_site_well_formed(desk: Desk) -> None:
    """Every feed and list page written so far parses (lxml raises on malformed XML)."""
    site = desk.ingest.isolated.storage.site
    for key in FEEDS:
        if (body := site.get(key)) is not None:
            etree.fromstring(body)
    for key in PAGES:
        if (body := site.get(key)) is not None:
            html.document_fromstring(body.decode())


@settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(fields=article_fields)
def test_no_article_a_feed_can_send_breaks_the_site(desk: Desk, fields: dict[str, Any]) -> None:
    answer = desk.send(fields)
    desk.normal += 1  # each newer than the last, and than any date but the range's last day
    latest = datetime(2200, 12, 31, tzinfo=UTC) + timedelta(seconds=desk.normal)
    normal = desk.send(
        {"title": "随后发布的正常稿件", "channel": "news", "published_at": latest.isoformat()}
    ).json()

    assert answer.status_code in (202, 422), answer.text
    event(f"ingest answered {answer.status_code}")
    if answer.status_code == 422:
        assert answer.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in answer.json()["errors"]} <= FIELDS
    else:
        accepted = answer.json()
        assert desk.publish(accepted) == "published"
    assert desk.publish(normal) == "published"
    flush(desk.ctx)  # one flush for both, as a burst shares one

    assert_site_well_formed(desk)
    for key in ("index.html", "news/index.html", "feed.xml", "atom.xml", "news/feed.xml"):
        assert desk.path(normal) in desk.page(key), key
    assert desk.path(normal) in desk.page("sitemap.xml")
    if answer.status_code == 202:
        assert str(escape(xml_safe(fields["title"].strip()))) in desk.page(desk.path(accepted))
        assert desk.path(accepted) in desk.page("sitemap.xml")


# --- end to end, through the running stack --------------------------------------------------


def poll(check: Any, timeout: float = 30.0) -> Any:
    """check() until it returns something true, or the deadline passes (then its last)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def store_poison(live: Stack, published_at: datetime) -> Article:
    """A document ingest would refuse, written straight to the data bucket (as an older
    release or a hand edit could leave it), and its render event."""
    external_id = f"poison-{time.time_ns()}"
    now = datetime.now(UTC)
    article = Article(
        id=article_id(live.feed, external_id),
        feed=live.feed,
        external_id=external_id,
        version=1,
        title="毒稿\x0b",
        channel="news",
        published_at=published_at,
        received_at=now,
    )
    data = Storage.from_settings(live.settings()).data
    document = article.model_dump(mode="json")
    data.put_json(pending_key(article.id), {"id": article.id, "version": 1})
    data.put_json(version_key(article.id, 1), document)
    data.put_json(article_key(article.id), document)
    broker = Celery("poison", broker=live.settings().celery_broker_url)
    queue = queue_name(live.settings(), RENDER_QUEUE)
    broker.send_task("render.article", args=[article.id, 1], queue=queue)
    broker.close()
    return article


def test_a_poison_document_fails_alone_and_the_site_keeps_updating(
    live: Stack, ingest: httpx.Client, site: httpx.Client
) -> None:
    poison = store_poison(live, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    fresh = {
        "external_id": f"after-poison-{time.time_ns()}",
        "title": "毒稿之后的正常稿件",
        "channel": "news",
    }
    answer = ingest.post("/v1/articles", json=fresh)
    assert answer.status_code == 202, answer.text
    path = "/" + answer.json()["url"].split("/", 3)[3]

    for listing in ("/", "/news/", "/feed.xml", "/atom.xml", "/news/feed.xml", "/sitemap.xml"):
        shown = poll(lambda listing=listing: path in site.get(listing).text)
        assert shown, f"{listing} never showed the article published after the poison"
    for feed in ("/feed.xml", "/atom.xml", "/news/feed.xml", "/sitemap.xml"):
        etree.fromstring(site.get(feed).content)
    state = poll(
        lambda: (s := ingest.get(f"/v1/articles/{poison.id}").json())["status"] == "failed" and s
    )
    assert state, ingest.get(f"/v1/articles/{poison.id}").json()
    assert "published_at" in state["error"]
    assert poison.id not in site.get("/feed.xml").text
