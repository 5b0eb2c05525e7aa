"""shared.storage against the session's SeaweedFS: what boto3 would store and answer, for
keys a site really has, and a clear failure otherwise. Signatures checked by a SeaweedFS
with credentials on are in tests/deploy/test_s3_init.py."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from pydantic import SecretStr

from shared.settings import CommonSettings
from shared.storage import (
    AsyncObjects,
    Storage,
    StorageRefused,
    StorageUnavailable,
    delete_document,
    delete_failures,
)
from tests.conftest import Isolated
from tests.shared.reader import boto3_client
from tests.stack import harness

KEYS = [
    "news/2026/11/26/0000000000000000000a.html",
    "新闻动态/list_2.html",  # non-ASCII
    "a b/c+d=e&f?g#h.html",  # characters with a meaning in a URL
    "~tilde/UPPER.lower-_.html",
]


@pytest.mark.parametrize("key", KEYS)
def test_what_is_put_reads_back_the_same_through_boto3(isolated: Isolated, key: str) -> None:
    site = isolated.storage.site
    body = "<h1>头条</h1>".encode()

    written = site.put(
        key, body, content_type="text/html; charset=utf-8", cache_control="max-age=60"
    )
    stored = boto3_client(isolated.settings).get_object(Bucket=site.name, Key=key)

    assert written is True
    assert stored["Body"].read() == body
    assert stored["ContentType"] == "text/html; charset=utf-8"
    assert stored["CacheControl"] == "max-age=60"
    assert site.get(key) == body
    assert [k for k in site.keys("") if k == key] == [key]


def test_unchanged_bytes_are_not_written_again(isolated: Isolated) -> None:
    site, client = isolated.storage.site, boto3_client(isolated.settings)
    site.put("page.html", b"same", content_type="text/html")
    before = client.head_object(Bucket=site.name, Key="page.html")["LastModified"]

    again = site.put("page.html", b"same", content_type="text/html", only_if_changed=True)
    changed = site.put("page.html", b"other", content_type="text/html", only_if_changed=True)

    assert again is False
    assert changed is True
    assert client.head_object(Bucket=site.name, Key="page.html")["LastModified"] >= before
    assert site.get("page.html") == b"other"


def test_missing_objects_read_as_none_and_delete_quietly(isolated: Isolated) -> None:
    site = isolated.storage.site
    site.put("gone.html", b"x", content_type="text/html")

    site.delete("gone.html")
    site.delete("never-was.html")

    assert site.get("gone.html") is None
    assert site.etag("gone.html") is None
    assert site.get_json("never-was.json") is None


def test_a_missing_bucket_is_an_error_not_a_silent_loss(isolated: Isolated) -> None:
    settings = isolated.settings.model_copy(update={"site_bucket": "no-such-bucket-here"})
    store = Storage.from_settings(settings)

    with pytest.raises(StorageUnavailable, match="no-such-bucket-here"):
        store.site.put("index.html", b"x", content_type="text/html")


def test_a_store_that_does_not_answer_raises_storage_unavailable() -> None:
    dead = harness.free_port()
    store = Storage.from_settings(
        CommonSettings(environment="test", s3_endpoint_url=f"http://127.0.0.1:{dead}")
    )

    with pytest.raises(StorageUnavailable):
        store.site.put("index.html", b"x", content_type="text/html")
    with pytest.raises(StorageUnavailable):
        store.data.get("articles/a.json")


def test_no_key_reaches_outside_its_bucket(isolated: Isolated) -> None:
    site, data = isolated.storage.site, isolated.storage.data
    data.put("secret.json", b"private", content_type="application/json")

    for key in (f"../{data.name}/secret.json", f"a/../../{data.name}/secret.json", "./x"):
        with pytest.raises(ValueError, match="dot segment"):
            site.put(key, b"defaced", content_type="text/html")

    assert data.get("secret.json") == b"private"
    url = f"{isolated.settings.s3_endpoint_url}/{data.name}/secret.json"
    assert httpx.get(url).status_code == 403  # and no reader gets it without the key


def test_a_batch_delete_past_1000_keys_deletes_them_all(isolated: Isolated) -> None:
    data = isolated.storage.data
    keys = [f"pending/{n:05d}" for n in range(1_001)]  # two requests' worth
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: data.put(k, b"{}", content_type="application/json"), keys))
    data.put("articles/kept.json", b"{}", content_type="application/json")

    data.delete_many([*keys, "pending/never-was"])

    assert list(data.keys("pending/")) == []
    assert data.get("articles/kept.json") == b"{}"


def test_a_conditional_delete_keeps_an_object_that_changed_since_its_etag_was_read(
    isolated: Isolated,
) -> None:
    data, json = isolated.storage.data, "application/json"
    for key in ("pending/same", "pending/changed", "pending/alone"):
        data.put(key, f'{{"key":"{key}"}}'.encode(), content_type=json)
    read = {key: str(data.etag(key)) for key in ("pending/same", "pending/changed")}
    alone = str(data.etag("pending/alone"))
    data.put("pending/changed", b'{"version":2}', content_type=json)  # a writer meanwhile

    kept = data.delete_many([*read, "pending/gone"], etags={**read, "pending/gone": alone})

    assert sorted(kept) == ["pending/changed", "pending/gone"]
    assert sorted(data.keys("pending/")) == ["pending/alone", "pending/changed"]
    assert data.delete_if("pending/alone", read["pending/changed"]) is False
    assert data.delete_if("pending/alone", alone) is True
    assert data.delete_if("pending/alone", alone) is False  # gone
    assert data.get_json("pending/changed") == {"version": 2}


def test_keys_a_batch_delete_could_not_delete_are_named() -> None:
    answer = b"""<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Error><Key>pending/a &amp; b</Key><Code>AccessDenied</Code><Message>no</Message></Error>
  <Error><Key>pending/c</Key><Code>InternalError</Code><Message>later</Message></Error>
</DeleteResult>"""

    assert delete_failures(answer) == [
        ("pending/a & b", "AccessDenied"),
        ("pending/c", "InternalError"),
    ]
    assert delete_failures(b"<DeleteResult/>") == []
    assert b"<Key>a &amp; b&lt;c&gt;</Key>" in delete_document(["a & b<c>"])


def test_a_refusal_reads_the_same_from_either_client(isolated: Isolated) -> None:
    wrong = isolated.settings.model_copy(update={"s3_secret_access_key": SecretStr("wrong" * 8)})
    bucket = isolated.settings.site_bucket

    async def read_async() -> bytes | None:
        async with AsyncObjects(wrong, in_flight=1) as objects:
            return await objects.get(bucket, "index.html")

    with pytest.raises(StorageRefused) as sync:
        Storage.from_settings(wrong).site.get("index.html")
    with pytest.raises(StorageRefused) as asynchronous:
        asyncio.run(read_async())

    assert str(sync.value) == str(asynchronous.value)
    assert str(sync.value).startswith(f"GET {bucket}/index.html: 403 SignatureDoesNotMatch")


def test_a_store_that_does_not_answer_reads_the_same_from_either_client() -> None:
    dead = CommonSettings(
        environment="test", s3_endpoint_url=f"http://127.0.0.1:{harness.free_port()}"
    )

    async def read_async() -> bytes | None:
        async with AsyncObjects(dead, in_flight=1) as objects:
            return await objects.get(dead.site_bucket, "index.html")

    with pytest.raises(StorageUnavailable) as sync:
        Storage.from_settings(dead).site.get("index.html")
    with pytest.raises(StorageUnavailable) as asynchronous:
        asyncio.run(read_async())

    assert (
        str(sync.value)
        == str(asynchronous.value)
        == f"GET {dead.site_bucket}/index.html: no answer"
    )
