"""Bad input gets a clear problem+json naming the field, and nothing is stored."""

from __future__ import annotations

import select
import socket
from typing import Any

import orjson
import pytest

from tests.ingest.conftest import Ingest, IngestFactory, article


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
