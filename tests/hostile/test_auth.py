"""Auth: no key, a wrong key, a revoked key, another feed's key, and body signatures
(missing, altered, replayed) never change an article that is not the caller's."""

from __future__ import annotations

import json

import httpx
import pytest

from services.ingest.feeds import FeedRegistry
from services.ingest.signing import signature_headers
from tests.faults.conftest import FaultStack
from tests.faults.figures import record
from tests.hostile.conftest import publish


def as_feed(fs: FaultStack, key: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=fs.stack.urls["ingest_url"], headers=headers, timeout=10)


def assert_unauthorized(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_requests_without_a_valid_key_are_refused(hostile: FaultStack) -> None:
    fs = hostile
    body = fs.article("auth-nokey")
    url = fs.stack.urls["ingest_url"] + "/v1/articles"
    tries = {
        "no header": {},
        "bearer without a key": {"Authorization": "Bearer"},
        "basic scheme": {"Authorization": f"Basic {fs.key}"},
        "wrong key": {"Authorization": "Bearer prk_not-a-key"},
        "key with a changed letter": {"Authorization": f"Bearer {fs.key[:-1]}x"},
    }
    for headers in tries.values():
        assert_unauthorized(httpx.post(url, json=body, headers=headers))
    registry = FeedRegistry(fs.storage.data, cache_seconds=0)
    _, revoked_key = registry.add("revoked-wire")
    with as_feed(fs, revoked_key) as revoked:
        assert revoked.post("/v1/articles", json=fs.article("auth-revoked")).status_code == 202
        registry.revoke("revoked-wire")
        assert_unauthorized(revoked.post("/v1/articles", json=fs.article("auth-revoked-2")))
    record("auth: keys", refused=len(tries) + 1)


def test_another_feeds_key_cannot_read_change_or_withdraw_an_article(hostile: FaultStack) -> None:
    fs = hostile
    mine = publish(fs, "auth-owned", title="本社原创 auth-owned")
    _, other_key = FeedRegistry(fs.storage.data, cache_seconds=0).add("other-wire")
    with as_feed(fs, other_key) as other:
        path = f"/v1/articles/{mine['id']}"
        assert other.get(path).status_code == 404
        takeover = fs.article("auth-owned", title="篡改 takeover")
        assert other.put(path, json=takeover).status_code == 404
        assert other.delete(path).status_code == 404
        # the same external_id from another feed is another article, not this one
        theirs = other.post("/v1/articles", json=takeover).json()
        assert theirs["id"] != mine["id"]

    state = fs.ingest.get(f"/v1/articles/{mine['id']}").json()
    assert state["status"] == "published"
    assert state["version"] == 1
    page = fs.page(mine["url"])
    assert page is not None
    assert "本社原创 auth-owned".encode() in page
    assert "篡改".encode() not in page


@pytest.fixture(scope="module")
def signed_feed(hostile: FaultStack) -> tuple[str, str]:
    """(key, signing secret) of a feed that must sign its bodies."""
    _, key = FeedRegistry(hostile.storage.data, cache_seconds=0).add(
        "signed-wire", signing_secret="s3cr3t-for-tests-only"
    )
    return key, "s3cr3t-for-tests-only"


def test_unsigned_or_altered_bodies_are_refused(
    hostile: FaultStack, signed_feed: tuple[str, str]
) -> None:
    fs = hostile
    key, secret = signed_feed
    body = json.dumps(fs.article("signed-1"), ensure_ascii=False).encode()
    altered = body.replace("故障演练".encode(), "篡改后".encode())
    headers = {"Content-Type": "application/json"}
    with as_feed(fs, key) as feed:
        tries = {
            "unsigned": feed.post("/v1/articles", content=body, headers=headers),
            "altered body": feed.post(
                "/v1/articles", content=altered, headers=headers | signature_headers(secret, body)
            ),
            "wrong secret": feed.post(
                "/v1/articles", content=body, headers=headers | signature_headers("guess", body)
            ),
            "another key's signature": feed.post(
                "/v1/articles", content=body, headers=headers | signature_headers(key, body)
            ),
        }
        for answer in tries.values():
            assert answer.status_code == 403, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
        signed = feed.post(
            "/v1/articles", content=body, headers=headers | signature_headers(secret, body)
        )
        assert signed.status_code == 202, signed.text
    record("auth: signatures", refused=len(tries), accepted_when_signed=1)


def test_a_replayed_signed_request_cannot_roll_an_article_back(
    hostile: FaultStack, signed_feed: tuple[str, str]
) -> None:
    fs = hostile
    key, secret = signed_feed
    headers = {"Content-Type": "application/json"}
    first = json.dumps(fs.article("signed-replay", title="第一版"), ensure_ascii=False).encode()
    second = json.dumps(
        fs.article("signed-replay", title="第二版 更正"), ensure_ascii=False
    ).encode()
    with as_feed(fs, key) as feed:
        # the attacker captured the first request whole, headers and all
        captured = headers | signature_headers(secret, first)
        sent = feed.post("/v1/articles", content=first, headers=captured)
        assert sent.status_code == 202
        corrected = feed.post(
            "/v1/articles", content=second, headers=headers | signature_headers(secret, second)
        )
        assert corrected.status_code == 202
        replayed = feed.post("/v1/articles", content=first, headers=captured)
        state = feed.get(f"/v1/articles/{sent.json()['id']}").json()
    assert replayed.status_code == 403
    assert replayed.headers["content-type"] == "application/problem+json"
    assert replayed.json()["title"] == "Replayed request"
    assert state["title"] == "第二版 更正"
    assert state["version"] == 2
