"""Bad input gets a clear problem+json naming the field, and nothing is stored."""

from __future__ import annotations

import select
import socket
from typing import Any

import orjson
import pytest

from tests.ingest.conftest import SAMPLES, Ingest, IngestFactory, article


def fields_named(answer: Any) -> list[str]:
    assert answer.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in answer.json()["errors"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": ""}, "title"),
        ({"published_at": "2022-13-45T99:00:00+08:00"}, "published_at"),
        ({"published_at": "2022-07-11T10:00:00"}, "published_at"),  # no offset: ambiguous
        ({"published_at": "yesterday"}, "published_at"),
        ({"title": "长" * 301}, "title"),
        ({"source": "x" * 101}, "source"),
        ({"tags": ["t" * 51]}, "tags"),
        ({"tags": [f"t{n}" for n in range(51)]}, "tags"),
        ({"body_html": "<p>" + "x" * 1_000_001}, "body_html"),
        ({"version": 0}, "version"),
        ({"cover_image": "javascript:alert(1)"}, "cover_image"),
        ({"channel": "sports"}, "channel"),
        ({"colour": "red"}, "colour"),
        ({"external_id": "bad\nid"}, "external_id"),
    ],
)
def test_bad_field_is_named_and_nothing_is_stored(
    module_api: Ingest, change: dict[str, Any], field: str
) -> None:
    answer = module_api.post(orjson.dumps(article(**change)), "application/json")

    assert answer.status_code == 422
    assert field in fields_named(answer)
    assert field in answer.json()["detail"]
    assert module_api.stored_articles() == []


def test_several_bad_fields_are_all_named(module_api: Ingest) -> None:
    answer = module_api.post_json({"title": "", "published_at": "soon", "headline": "maybe"})
    assert set(fields_named(answer)) >= {"external_id", "title", "published_at", "headline"}


def test_bad_utf8_is_refused_with_the_byte_offset(module_api: Ingest) -> None:
    body = orjson.dumps(article()).replace("教育部".encode(), b"\xff\xfe\xfd")
    answer = module_api.post(body, "application/json")
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body"
    assert "not valid UTF-8" in answer.json()["detail"]


@pytest.mark.parametrize("body", [b"{", b"[]", b"null", b'"title"', b""])
def test_malformed_json_is_a_422_not_a_500(module_api: Ingest, body: bytes) -> None:
    answer = module_api.post(body, "application/json")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert module_api.stored_articles() == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_unknown_content_type_is_415(module_api: Ingest, content_type: str) -> None:
    answer = module_api.post(orjson.dumps(article()), content_type)
    assert answer.status_code == 415
    assert "application/ninjs+json" in answer.json()["detail"]
    assert module_api.stored_articles() == []


def test_body_over_the_limit_is_413(make_ingest: IngestFactory) -> None:
    api = make_ingest(max_body_bytes=4096)
    big = article(body_html="<p>" + "新闻" * 3000 + "</p>")
    small = api.post(orjson.dumps(article()), "application/json")
    answer = api.post(orjson.dumps(big), "application/json")
    streamed = api.client.post(
        "/v1/articles",
        content=iter([orjson.dumps(big)]),  # chunked: no Content-Length to refuse early on
        headers=api.headers(**{"Content-Type": "application/json"}),
    )

    assert small.status_code == 202
    assert answer.status_code == streamed.status_code == 413
    assert answer.json()["detail"] == "the limit is 4096 bytes"
    assert len(api.stored_articles()) == 3  # only the small one


def test_default_body_limit_is_two_mebibytes(module_api: Ingest) -> None:
    body = orjson.dumps(article(body_html="x" * (2 * 1024 * 1024)))
    assert module_api.post(body, "application/json").status_code == 413


def trickle(api: Ingest, declared: int, every: float = 0.3, most: int = 40) -> bytes:
    """Send a request whose body dribbles in a byte at a time (so no single read ever
    waits long); return the answer, or b"" if none came while it trickled."""
    url = api.client.base_url
    head = (
        f"POST /v1/articles HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Authorization: Bearer {api.keys['wire']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port or 80), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"external_id": "slow')
        for _ in range(most):
            ready, _, _ = select.select([sock], [], [], every)
            if ready:
                return sock.recv(65536)
            try:
                sock.sendall(b" ")
            except OSError:  # cut off between two bytes: the answer is waiting
                return sock.recv(65536)
    return b""


def test_a_trickling_body_is_cut_off_with_408(make_ingest: IngestFactory) -> None:
    api = make_ingest(body_timeout_seconds=1)
    answer = trickle(api, declared=2000)

    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"content-type: application/problem+json" in answer.lower()
    assert b"within 1 s" in answer
    assert api.stored_articles() == []
    assert api.post_json(article()).status_code == 202  # the server is free for the next


TEXT_FIELDS = ["title", "summary", "source", "author", "editor", "body_html", "external_id"]


@pytest.mark.parametrize("bad", ["\x0b", "\x01", "\x00", "\ufffe", "\uffff"])
@pytest.mark.parametrize("field", [*TEXT_FIELDS, "tags"])
def test_characters_xml_forbids_are_refused_in_every_text_field(
    module_api: Ingest, field: str, bad: str
) -> None:
    value: Any = [f"标签{bad}"] if field == "tags" else f"前{bad}后"
    answer = module_api.post(orjson.dumps(article(**{field: value})), "application/json")

    assert answer.status_code == 422
    assert fields_named(answer) == [field]
    assert module_api.stored_articles() == []


@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+05:00",
        "2200-12-31T23:59:59-12:00",  # 2201 in UTC
        "1900-01-01T07:59:59+08:00",  # 1899 in UTC
        "2201-01-01T00:00:00Z",
        "1899-12-31T23:59:59.999999Z",
    ],
)
def test_dates_outside_1900_to_2200_are_refused(module_api: Ingest, moment: str) -> None:
    answer = module_api.post(orjson.dumps(article(published_at=moment)), "application/json")

    assert answer.status_code == 422
    assert fields_named(answer) == ["published_at"]
    assert "1900-01-01" in answer.json()["detail"]
    assert module_api.stored_articles() == []


@pytest.mark.parametrize(
    "moment", ["1900-01-01T00:00:00Z", "2200-12-31T23:59:59Z", "2200-12-31T23:59:59+14:00"]
)
def test_dates_at_the_ends_of_the_range_are_accepted(api: Ingest, moment: str) -> None:
    answer = api.post(orjson.dumps(article(published_at=moment)), "application/json")
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize(
    "title",
    [
        "\u200b",
        "\ufeff\u200d",
        "\u202e\u202a\u202c",
        "\u2066\u2067\u2068\u2069",
        "\u3000\u00a0\u2028",
        "\u3164\u115f",
        "\U000e0041\U000e007f",
        "\u00ad\u2060\u180e",
    ],
)
def test_a_title_with_nothing_visible_is_refused(module_api: Ingest, title: str) -> None:
    answer = module_api.post(orjson.dumps(article(title=title)), "application/json")

    assert answer.status_code == 422
    assert fields_named(answer) == ["title"]
    assert module_api.stored_articles() == []


@pytest.mark.parametrize("title", ["\u200b标题", "\u202eabc\u202c", "🗞", "\u0301"])
def test_a_title_with_something_visible_is_accepted(api: Ingest, title: str) -> None:
    assert api.post(orjson.dumps(article(title=title)), "application/json").status_code == 202


def ninjs(**fields: Any) -> bytes:
    document = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes())
    return orjson.dumps(document | fields)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"firstcreated": "9999-12-31T23:59:59Z"}, "firstcreated"),
        ({"firstcreated": "0001-01-01T00:00:00+05:00"}, "firstcreated"),
        ({"headlines": [{"role": "main", "value": "头条\x0b"}]}, "headline"),
        ({"by": "记者\x01"}, "by"),
    ],
)
def test_ninjs_items_get_the_same_rules(
    module_api: Ingest, change: dict[str, Any], field: str
) -> None:
    answer = module_api.post(ninjs(**change), "application/ninjs+json")

    assert answer.status_code == 422, answer.text
    assert any(field in named for named in fields_named(answer)), fields_named(answer)
    assert module_api.stored_articles() == []


RSS_ITEM = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><link>http://example.com/</link>
<description>d</description><item><title>{title}</title><link>http://example.com/1</link>
<guid>item-1</guid><pubDate>{date}</pubDate><description>摘要</description></item>
</channel></rss>"""


@pytest.mark.parametrize(
    ("title", "date", "field"),
    [
        ("正常", "Fri, 31 Dec 9999 23:59:59 -1200", "items.0.pubDate"),
        ("正常", "Mon, 01 Jan 1800 00:00:00 +0000", "items.0.published_at"),
        ("&#xFFFE;标题", "Mon, 11 Jul 2022 09:30:00 +0800", "items.0.title"),
    ],
)
def test_feed_items_get_the_same_rules(
    module_api: Ingest, title: str, date: str, field: str
) -> None:
    body = RSS_ITEM.format(title=title, date=date).encode()
    answer = module_api.post(body, "application/rss+xml")

    item = answer.json()["items"][0]
    assert item["status"] == 422, answer.text
    assert [e["field"] for e in item["problem"]["errors"]] == [field]
    assert module_api.stored_articles() == []
