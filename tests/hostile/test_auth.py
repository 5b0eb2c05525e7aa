"""Auth: no key, a wrong key, a revoked key, another feed's key, and request signatures
(missing, altered, replayed, carried to another route) never change an article that is not
the caller's; signing secrets are never readable in the data bucket."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from services.ingest.feeds import FeedRegistry, SecretBox
from services.ingest.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign_legacy,
    signature_headers,
)
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


SECRET = "s3cr3t-for-tests-only"
JSON = {"Content-Type": "application/json"}


def registry(fs: FaultStack) -> FeedRegistry:
    """The feed registry as ingest and `pressroom feeds` see it: with the stack's key."""
    key = fs.stack.env["PRESSROOM_FEED_SECRETS_KEY"]
    return FeedRegistry(fs.storage.data, cache_seconds=0, box=SecretBox([key]))


@pytest.fixture(scope="module")
def signed_feed(hostile: FaultStack) -> tuple[str, str]:
    """(key, signing secret) of a feed that must sign its requests."""
    _, key = registry(hostile).add("signed-wire", signing_secret=SECRET)
    return key, SECRET


def signed(secret: str, body: bytes, method: str, path: str, query: str = "") -> dict[str, str]:
    return JSON | signature_headers(secret, body, method=method, path=path, query=query)


def test_unsigned_or_altered_requests_are_refused(
    hostile: FaultStack, signed_feed: tuple[str, str]
) -> None:
    fs = hostile
    key, secret = signed_feed
    body = json.dumps(fs.article("signed-1"), ensure_ascii=False).encode()
    altered = body.replace("故障演练".encode(), "篡改后".encode())
    post = "/v1/articles"
    with as_feed(fs, key) as feed:
        tries = {
            "unsigned": feed.post(post, content=body, headers=JSON),
            "altered body": feed.post(
                post, content=altered, headers=signed(secret, body, "POST", post)
            ),
            "wrong secret": feed.post(
                post, content=body, headers=signed("guess", body, "POST", post)
            ),
            "another key's signature": feed.post(
                post, content=body, headers=signed(key, body, "POST", post)
            ),
            "unknown scheme": feed.post(
                post,
                content=body,
                headers=signed(secret, body, "POST", post)
                | {SIGNATURE_HEADER: "sha512=" + "0" * 128},
            ),
        }
        for answer in tries.values():
            assert answer.status_code == 403, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
        accepted = feed.post(post, content=body, headers=signed(secret, body, "POST", post))
        assert accepted.status_code == 202, accepted.text
    record("auth: signatures", refused=len(tries), accepted_when_signed=1)


def test_a_signed_request_is_good_for_its_own_route_only(
    hostile: FaultStack, signed_feed: tuple[str, str]
) -> None:
    """What a captured signed request (the original held back) can do elsewhere: nothing."""
    fs = hostile
    key, secret = signed_feed
    with as_feed(fs, key) as feed:
        articles = {}
        for name in ("route-a", "route-b"):
            body = json.dumps(fs.article(name), ensure_ascii=False).encode()
            sent = feed.post(
                "/v1/articles", content=body, headers=signed(secret, body, "POST", "/v1/articles")
            )
            assert sent.status_code == 202, sent.text
            articles[name] = sent.json()["id"]
        a, b = (f"/v1/articles/{articles[n]}" for n in ("route-a", "route-b"))
        update = json.dumps(fs.article("route-a", title="更正"), ensure_ascii=False).encode()
        replays = {
            # the withdrawal of one article, sent to withdraw another
            "DELETE elsewhere": feed.delete(b, headers=signed(secret, b"", "DELETE", a)),
            # an update, sent as a withdrawal of the same article
            "PUT as DELETE": feed.request(
                "DELETE", a, content=update, headers=signed(secret, update, "PUT", a)
            ),
            # a body signed for one channel, sent to another
            "another query": feed.post(
                "/v1/articles",
                params={"channel": "world"},
                content=update,
                headers=signed(secret, update, "POST", "/v1/articles", "channel=tech"),
            ),
        }
        states = {name: feed.get(f"/v1/articles/{aid}").json() for name, aid in articles.items()}
    for what, answer in replays.items():
        assert answer.status_code == 403, (what, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", what
    assert {state["status"] for state in states.values()} <= {"queued", "published"}, states
    assert all(state["version"] == 1 for state in states.values()), states
    record("auth: signed requests replayed to other routes", tried=len(replays), refused=3)


def test_the_signature_of_timestamp_and_body_alone_still_works_but_is_counted(
    hostile: FaultStack, signed_feed: tuple[str, str]
) -> None:
    fs = hostile
    key, secret = signed_feed
    body = json.dumps(fs.article("legacy-signed"), ensure_ascii=False).encode()
    stamp = int(time.time())
    legacy = JSON | {
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: sign_legacy(secret, body, stamp),
    }
    before = legacy_uses(fs)
    with as_feed(fs, key) as feed:
        answer = feed.post("/v1/articles", content=body, headers=legacy)

    assert answer.status_code == 202, answer.text
    assert legacy_uses(fs) == before + 1
    assert "ingest.signature.legacy" in fs.log("ingest")


def legacy_uses(fs: FaultStack) -> float:
    metrics = fs.ingest.get("/metrics").text
    found = re.search(
        r'^pressroom_ingest_legacy_signatures_total\{feed="signed-wire"\} (\S+)$', metrics, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_reading_the_data_bucket_reveals_no_signing_secret(
    hostile: FaultStack, signed_feed: tuple[str, str]
) -> None:
    fs = hostile
    stored = [fs.storage.data.get(k) or b"" for k in fs.storage.data.keys("feeds/")]

    assert any(b"sealed_signing_secret" in document for document in stored)
    assert not any(SECRET.encode() in document for document in stored)
    assert not any(b'"signing_secret"' in document for document in stored)


def test_a_secret_stored_in_plain_text_is_still_read_then_sealed_by_reseal(
    hostile: FaultStack,
) -> None:
    fs = hostile
    old = registry(fs)
    _, key = old.add("plain-wire")
    document = json.loads(fs.storage.data.get("feeds/plain-wire.json") or b"{}")
    fs.storage.data.put_json("feeds/plain-wire.json", document | {"signing_secret": "plain-old"})
    body = json.dumps(fs.article("plain-1"), ensure_ascii=False).encode()
    with as_feed(fs, key) as feed:
        unsigned = feed.post("/v1/articles", content=body, headers=JSON)
        accepted = feed.post(
            "/v1/articles", content=body, headers=signed("plain-old", body, "POST", "/v1/articles")
        )
        assert unsigned.status_code == 403, unsigned.text
        assert accepted.status_code == 202, accepted.text

        fs.stack.pressroom("feeds", "reseal")
        sealed = fs.storage.data.get("feeds/plain-wire.json") or b""
        again = json.dumps(fs.article("plain-2"), ensure_ascii=False).encode()
        after = feed.post(
            "/v1/articles",
            content=again,
            headers=signed("plain-old", again, "POST", "/v1/articles"),
        )
    assert b"plain-old" not in sealed
    assert b"sealed_signing_secret" in sealed
    assert after.status_code == 202, after.text


def test_a_replayed_signed_request_cannot_roll_an_article_back(
    hostile: FaultStack, signed_feed: tuple[str, str]
) -> None:
    fs = hostile
    key, secret = signed_feed
    first = json.dumps(fs.article("signed-replay", title="第一版"), ensure_ascii=False).encode()
    second = json.dumps(
        fs.article("signed-replay", title="第二版 更正"), ensure_ascii=False
    ).encode()
    with as_feed(fs, key) as feed:
        # the attacker captured the first request whole, headers and all
        captured = signed(secret, first, "POST", "/v1/articles")
        sent = feed.post("/v1/articles", content=first, headers=captured)
        assert sent.status_code == 202
        corrected = feed.post(
            "/v1/articles", content=second, headers=signed(secret, second, "POST", "/v1/articles")
        )
        assert corrected.status_code == 202
        replayed = feed.post("/v1/articles", content=first, headers=captured)
        state = feed.get(f"/v1/articles/{sent.json()['id']}").json()
    assert replayed.status_code == 403
    assert replayed.headers["content-type"] == "application/problem+json"
    assert replayed.json()["title"] == "Replayed request"
    assert state["title"] == "第二版 更正"
    assert state["version"] == 2
