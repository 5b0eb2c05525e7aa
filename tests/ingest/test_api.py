"""The native JSON API as a feed meets it: keys, signatures, versions, replays, withdrawals."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import orjson

from services.ingest.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_headers
from shared.ids import article_id
from shared.models import article_key, pending_key, version_key
from tests.ingest.conftest import Ingest, IngestFactory, article


def test_missing_wrong_and_revoked_keys_get_401_problems(api: Ingest) -> None:
    from services.ingest.feeds import FeedRegistry

    missing = api.client.post("/v1/articles", json=article())
    wrong = api.client.post(
        "/v1/articles", json=article(), headers={"Authorization": "Bearer prk_not-a-key"}
    )
    FeedRegistry(api.isolated.storage.data).revoke("other")
    revoked = api.post_json(article(), feed="other")

    for answer in (missing, wrong, revoked):
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["title"] == "Missing feed key"
    assert revoked.json()["title"] == "Unknown feed key"
    assert api.stored_articles() == []


def test_feed_keys_are_stored_only_as_digests(api: Ingest) -> None:
    stored = b"".join(api.isolated.storage.data.get(k) or b"" for k in api.data_keys("feeds/"))
    assert api.keys["wire"].encode() not in stored
    assert b"key_sha256" in stored


def test_accepted_article_is_in_the_data_bucket_before_the_202(api: Ingest) -> None:
    answer = api.post_json(article())

    assert answer.status_code == 202
    body = answer.json()
    assert body["id"] == article_id("wire", "cctv-20220711-qxwq")
    assert body["status"] == "queued"
    assert body["url"].endswith(f"/news/202207/{body['id']}.html")
    data = api.isolated.storage.data
    stored = data.get_json(article_key(body["id"]))
    assert stored["title"].startswith("教育部")
    assert data.get_json(version_key(body["id"], 1)) == stored
    assert data.get_json(pending_key(body["id"])) == {"id": body["id"], "version": 1}


def test_accepted_url_is_on_the_public_origin_the_operator_set(
    make_ingest: IngestFactory,
) -> None:
    """PRESSROOM_SITE_BASE_URL overrides site.toml's base_url (config/site.toml names
    127.0.0.1:8000, which no reader outside the machine can open)."""
    api = make_ingest(site_base_url="https://news.example.org")
    accepted = api.post_json(article())
    status = api.client.get(f"/v1/articles/{accepted.json()['id']}", headers=api.headers())

    assert accepted.status_code == 202
    path = f"/news/202207/{accepted.json()['id']}.html"
    assert accepted.json()["url"] == f"https://news.example.org{path}"
    assert status.json()["url"] == f"https://news.example.org{path}"


def test_replay_gives_the_same_answer_and_stores_nothing_new(api: Ingest) -> None:
    first = api.post_json(article())
    replay = api.post_json(article())

    assert replay.status_code == 200
    assert replay.json() | {"changed": True, "detail": ""} == first.json()
    assert replay.json()["detail"] == "identical to the stored version"
    assert len(api.data_keys("articles/")) == 2  # the current document and one version


def test_older_version_is_ignored_with_a_200_that_says_why(api: Ingest) -> None:
    api.post_json(article(version=5))
    older = api.post_json(article(version=3, title="旧标题"))

    assert older.status_code == 200
    assert older.json()["changed"] is False
    assert older.json()["detail"] == "version 3 is not newer than stored version 5"
    assert api.isolated.storage.data.get_json(article_key(older.json()["id"]))["version"] == 5


def test_put_makes_a_new_version_and_keeps_the_history(api: Ingest) -> None:
    aid = api.post_json(article()).json()["id"]
    put = api.client.put(
        f"/v1/articles/{aid}", json=article(title="更新后的标题"), headers=api.headers()
    )

    assert put.status_code == 202
    assert put.json()["version"] == 2
    data = api.isolated.storage.data
    assert data.get_json(article_key(aid))["title"] == "更新后的标题"
    assert data.get_json(version_key(aid, 1))["title"].startswith("教育部")


def test_put_with_another_articles_external_id_is_refused(api: Ingest) -> None:
    aid = api.post_json(article()).json()["id"]
    answer = api.client.put(
        f"/v1/articles/{aid}", json=article("someone-else"), headers=api.headers()
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "external_id", "message": "belongs to another article id"}
    ]


def test_delete_unpublishes_and_keeps_the_document_and_history(api: Ingest) -> None:
    aid = api.post_json(article()).json()["id"]
    deleted = api.client.delete(f"/v1/articles/{aid}", headers=api.headers())
    again = api.client.delete(f"/v1/articles/{aid}", headers=api.headers())

    assert deleted.status_code == 202
    assert deleted.json()["status"] == "unpublished"
    assert again.status_code == 200
    assert again.json()["detail"] == "already unpublished"
    data = api.isolated.storage.data
    assert data.get_json(article_key(aid))["unpublished"] is True
    assert data.get_json(version_key(aid, 1))["unpublished"] is False
    assert data.get_json(version_key(aid, 1, withdrawn=True))["unpublished"] is True
    status = api.client.get(f"/v1/articles/{aid}", headers=api.headers()).json()
    assert status["version"] == 1  # a withdrawal without a version takes down what is stored


def test_status_says_queued_until_render_reports(api: Ingest) -> None:
    aid = api.post_json(article()).json()["id"]
    queued = api.client.get(f"/v1/articles/{aid}", headers=api.headers()).json()
    meta = api.isolated.keys.article(aid)
    api.isolated.redis.hset(meta, mapping={"error": "TemplateError: boom"})
    failed = api.client.get(f"/v1/articles/{aid}", headers=api.headers()).json()
    api.isolated.redis.hset(
        meta, mapping={"error": "", "rendered_version": 1, "status": "published"}
    )
    published = api.client.get(f"/v1/articles/{aid}", headers=api.headers()).json()

    assert queued["status"] == "queued"
    assert (failed["status"], failed["error"]) == ("failed", "TemplateError: boom")
    assert (published["status"], published["rendered_version"]) == ("published", 1)


def test_a_key_only_reaches_its_own_feeds_articles(api: Ingest) -> None:
    aid = api.post_json(article()).json()["id"]
    theirs = api.headers("other")

    answers = [
        api.client.get(f"/v1/articles/{aid}", headers=theirs),
        api.client.put(f"/v1/articles/{aid}", json=article(), headers=theirs),
        api.client.delete(f"/v1/articles/{aid}", headers=theirs),
        api.client.get("/v1/articles/..%2F..%2Ffeeds%2Fwire", headers=theirs),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert api.isolated.storage.data.get_json(article_key(aid))["unpublished"] is False
    # the same external_id from another feed is another article
    assert api.post_json(article(), feed="other").json()["id"] != aid


def test_idempotency_key_replays_the_first_answer(api: Ingest) -> None:
    headers = api.headers(**{"Idempotency-Key": "req-0001"})
    first = api.client.post("/v1/articles", json=article(), headers=headers)
    retry = api.client.post("/v1/articles", json=article(), headers=headers)
    reused = api.client.post("/v1/articles", json=article(title="别的"), headers=headers)

    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert reused.status_code == 422
    assert reused.json()["title"] == "Idempotency-Key reused"
    assert len(api.data_keys("articles/")) == 2


def test_refused_request_does_not_use_up_its_idempotency_key(api: Ingest) -> None:
    headers = api.headers(**{"Idempotency-Key": "req-0002"})
    refused = api.client.post("/v1/articles", json=article(channel="sports"), headers=headers)
    fixed = api.client.post("/v1/articles", json=article(channel="sports"), headers=headers)
    assert refused.status_code == fixed.status_code == 422
    assert "idempotent-replayed" not in fixed.headers


def test_signed_feed_needs_the_hmac_of_the_exact_body(api: Ingest) -> None:
    body = orjson.dumps(article("signed-1"))
    headers = api.headers("signed", **{"Content-Type": "application/json"})

    unsigned = api.client.post("/v1/articles", content=body, headers=headers)
    wrong = api.client.post(
        "/v1/articles",
        content=body,
        headers=headers
        | signature_headers("other-secret", body, method="POST", path="/v1/articles"),
    )
    tampered = api.client.post(
        "/v1/articles",
        content=body.replace(b"signed-1", b"signed-2"),
        headers=headers
        | signature_headers(api.signing_secret, body, method="POST", path="/v1/articles"),
    )
    body_only = api.client.post(  # the old scheme: HMAC of the body without a timestamp
        "/v1/articles",
        content=body,
        headers=headers | {SIGNATURE_HEADER: "sha256=" + hmac_hex(api.signing_secret, body)},
    )
    good = api.client.post(
        "/v1/articles",
        content=body,
        headers=headers
        | signature_headers(api.signing_secret, body, method="POST", path="/v1/articles"),
    )

    assert [a.status_code for a in (unsigned, wrong, tampered, body_only)] == [403] * 4
    assert unsigned.headers["content-type"] == "application/problem+json"
    assert TIMESTAMP_HEADER in unsigned.json()["detail"]
    assert TIMESTAMP_HEADER in body_only.json()["detail"]
    assert good.status_code == 202
    assert api.stored_articles() == sorted(
        [
            article_key(good.json()["id"]),
            version_key(good.json()["id"], 1),
            pending_key(good.json()["id"]),
        ]
    )


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_replayed_signed_request_is_refused_and_changes_nothing(api: Ingest) -> None:
    headers = api.headers("signed", **{"Content-Type": "application/json"})
    first = orjson.dumps(article("signed-replay", title="第一版"))
    second = orjson.dumps(article("signed-replay", title="第二版 更正"))
    captured = headers | signature_headers(
        api.signing_secret, first, method="POST", path="/v1/articles"
    )
    sent = api.client.post("/v1/articles", content=first, headers=captured)
    corrected = api.client.post(
        "/v1/articles",
        content=second,
        headers=headers
        | signature_headers(api.signing_secret, second, method="POST", path="/v1/articles"),
    )
    replayed = api.client.post("/v1/articles", content=first, headers=captured)
    # the feed itself may send the same text again: signed anew, it is simply a new version
    resent = api.client.post(
        "/v1/articles",
        content=first,
        headers=headers
        | signature_headers(
            api.signing_secret,
            first,
            method="POST",
            path="/v1/articles",
            timestamp=int(time.time()) + 1,
        ),
    )

    assert (sent.status_code, corrected.status_code) == (202, 202)
    assert replayed.status_code == 403
    assert replayed.headers["content-type"] == "application/problem+json"
    assert replayed.json()["title"] == "Replayed request"
    assert "already used" in replayed.json()["detail"]
    assert resent.status_code == 202
    history = api.data_keys(f"articles/{sent.json()['id']}/")
    assert len(history) == 3  # versions 1, 2 and the re-signed 3; the replay stored nothing


def test_signatures_outside_the_window_are_refused(make_ingest: IngestFactory) -> None:
    api = make_ingest(signature_window_seconds=60)
    body = orjson.dumps(article("signed-window"))
    headers = api.headers("signed", **{"Content-Type": "application/json"})
    now = int(time.time())

    def post(timestamp: int) -> Any:
        signed = signature_headers(
            api.signing_secret, body, method="POST", path="/v1/articles", timestamp=timestamp
        )
        return api.client.post("/v1/articles", content=body, headers=headers | signed)

    stale, ahead = post(now - 90), post(now + 90)
    garbled = api.client.post(
        "/v1/articles",
        content=body,
        headers=headers
        | signature_headers(api.signing_secret, body, method="POST", path="/v1/articles")
        | {TIMESTAMP_HEADER: "soon"},
    )
    within = post(now - 30)  # a feed whose clock is a little behind is still accepted

    assert [a.status_code for a in (stale, ahead, garbled)] == [403] * 3
    assert stale.json()["title"] == ahead.json()["title"] == "Stale signature"
    assert "old" in stale.json()["detail"]
    assert "ahead" in ahead.json()["detail"]
    assert "within 60 s" in stale.json()["detail"]
    assert TIMESTAMP_HEADER in garbled.json()["detail"]
    assert within.status_code == 202, within.text
