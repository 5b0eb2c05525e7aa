"""Compose's s3-init one-shot (deploy/s3-init.sh) against SeaweedFS started as compose starts
it (credentials on, so anonymous requests are refused): it creates both buckets, readers may
then fetch pages from the site bucket and nothing else, and running it again changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from services.stack import servers
from shared.settings import CommonSettings
from shared.storage import AsyncObjects, Storage, StorageUnavailable
from tests.deploy import catalog
from tests.stack import access, harness
from tests.stack.access import BUCKET_REQUESTS, REQUESTS, allowed, anonymous, refused

SCRIPT = catalog.REPO / "deploy" / "s3-init.sh"
ACCESS_KEY, SECRET_KEY = "pressroom-admin", uuid.uuid4().hex
# compose's SEAWEEDFS_JWT_KEY and SEAWEEDFS_JWT_READ_KEY, as its s3 and s3-init pass them
WRITE_TOKENS, READ_TOKENS = uuid.uuid4().hex, uuid.uuid4().hex
TOKEN_KEYS = {
    "WEED_JWT_SIGNING_KEY": WRITE_TOKENS,
    "WEED_JWT_FILER_SIGNING_KEY": WRITE_TOKENS,
    "WEED_JWT_SIGNING_READ_KEY": READ_TOKENS,
    "WEED_JWT_FILER_SIGNING_READ_KEY": READ_TOKENS,
}


@pytest.fixture(scope="module")
def guarded_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """SeaweedFS with an admin identity from the environment, as compose's `s3` service."""
    home = tmp_path_factory.mktemp("s3-guarded")
    port = harness.free_ports().s3
    server = servers.seaweedfs(port, home / "data", home / "s3.log")
    server.env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    server.env |= TOKEN_KEYS
    server.start()
    try:
        servers.wait_seaweedfs(server, port)
        yield port
    finally:
        server.stop()


def buckets() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"PRESSROOM_SITE_BUCKET": f"site-{tag}", "PRESSROOM_DATA_BUCKET": f"data-{tag}"}


def s3_init(port: int, names: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **names,
        **TOKEN_KEYS,
        "PATH": f"{Path(servers.weed_binary()).parent}:{os.environ['PATH']}",
        "S3_MASTER": f"127.0.0.1:{port + 1}",  # servers.seaweedfs puts the master next door
    }
    return subprocess.run(
        ["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def settings(port: int, names: dict[str, str], secret: str = SECRET_KEY) -> CommonSettings:
    return CommonSettings(
        environment="production",
        s3_endpoint_url=f"http://127.0.0.1:{port}",
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=secret,
        site_bucket=names["PRESSROOM_SITE_BUCKET"],
        data_bucket=names["PRESSROOM_DATA_BUCKET"],
    )


def storage(port: int, names: dict[str, str], secret: str = SECRET_KEY) -> Storage:
    return Storage.from_settings(settings(port, names, secret))


def test_site_bucket_is_readable_by_anyone_and_the_data_bucket_by_no_one(guarded_s3: int) -> None:
    names = buckets()
    site, data = names["PRESSROOM_SITE_BUCKET"], names["PRESSROOM_DATA_BUCKET"]
    s3 = f"http://127.0.0.1:{guarded_s3}"

    first, again = s3_init(guarded_s3, names), s3_init(guarded_s3, names)
    store = storage(guarded_s3, names)
    store.site.put("index.html", b"<h1>home</h1>", content_type="text/html; charset=utf-8")
    store.data.put_json("articles/a.json", {"title": "private"})

    assert first.returncode == 0, first.stdout + first.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    assert httpx.get(f"{s3}/{site}/index.html").text == "<h1>home</h1>"
    assert httpx.get(f"{s3}/{data}/articles/a.json").status_code == 403
    assert httpx.put(f"{s3}/{site}/index.html", content=b"defaced").status_code == 403
    assert httpx.get(f"{s3}/{site}/").status_code == 403  # no listing of the site either
    assert store.site.get("index.html") == b"<h1>home</h1>"


def test_anonymous_clients_may_read_pages_and_do_nothing_else(guarded_s3: int) -> None:
    """Every kind of request, on both buckets, as the embedded store is tested
    (tests/stack/test_store_access.py): compose's store is as closed as `pressroom run`'s."""
    names = buckets()
    site, data = names["PRESSROOM_SITE_BUCKET"], names["PRESSROOM_DATA_BUCKET"]
    s3_init(guarded_s3, names)
    store = storage(guarded_s3, names)
    store.site.put("index.html", b"<h1>home</h1>", content_type="text/html")
    store.data.put("index.html", b"private", content_type="application/json")
    s3 = f"http://127.0.0.1:{guarded_s3}"

    answers = {
        (method, query, bucket, key): anonymous(s3, method, bucket, key, query)
        for bucket in (site, data)
        for key, requests in (("index.html", REQUESTS), (None, BUCKET_REQUESTS))
        for method, query in requests
    }

    readable = {r for r in answers if allowed(r[0], r[1], r[2], site, r[3])}
    assert readable == {
        ("GET", "", site, "index.html"),
        ("HEAD", "", site, "index.html"),
        ("GET", "tagging", site, "index.html"),
    }
    assert {
        r for r, answer in answers.items() if r in readable and answer.status_code != 200
    } == set()
    assert {
        r for r, answer in answers.items() if r not in readable and not refused(answer)
    } == set()
    assert not any(b"private" in answer.content for answer in answers.values())
    assert list(store.site.keys()) == ["index.html"]
    assert store.site.get("index.html") == b"<h1>home</h1>"
    assert list(store.data.keys()) == ["index.html"]
    assert store.data.get("index.html") == b"private"
    assert httpx.get(f"{s3}/").status_code == 403  # nor which buckets there are


def test_the_filer_answers_only_weeds_own_signed_requests(guarded_s3: int) -> None:
    """Anything on the compose network could otherwise read the data bucket through the
    filer (port 8888), going round S3's authorisation."""
    names = buckets()
    s3_init(guarded_s3, names)
    storage(guarded_s3, names).data.put_json("feeds/feed.json", {"signing_secret": "hidden"})
    filer = f"http://127.0.0.1:{guarded_s3 + 3}/buckets/{names['PRESSROOM_DATA_BUCKET']}"

    statuses, seen = access.filer_probe(f"{filer}/feeds")

    assert statuses == (401, 401, 401)
    assert b"hidden" not in seen
    assert storage(guarded_s3, names).data.get("feeds/planted.json") is None


def test_pages_are_signed_and_a_wrong_secret_is_refused(guarded_s3: int) -> None:
    names = buckets()
    s3_init(guarded_s3, names)
    good, bad = storage(guarded_s3, names), storage(guarded_s3, names, secret="wrong" * 8)
    key = "新闻动态/a b+c.html"  # the signature covers the encoded key

    good.site.put(key, b"<p>ok</p>", content_type="text/html", cache_control="max-age=60")

    assert good.site.get(key) == b"<p>ok</p>"
    with pytest.raises(StorageUnavailable, match="403"):
        bad.site.put(key, b"defaced", content_type="text/html")
    with pytest.raises(StorageUnavailable, match="403"):
        bad.data.get("articles/a.json")
    assert good.site.get(key) == b"<p>ok</p>"


def test_pressroom_init_finds_the_buckets_s3_init_made(guarded_s3: int) -> None:
    names = buckets()
    s3_init(guarded_s3, names)
    env = {
        **os.environ,
        **names,
        "PRESSROOM_ENVIRONMENT": "production",
        "PRESSROOM_S3_ENDPOINT_URL": f"http://127.0.0.1:{guarded_s3}",
        "PRESSROOM_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "PRESSROOM_S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }

    ran = subprocess.run(
        [sys.executable, "-m", "services", "init"], env=env, capture_output=True, text=True
    )

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert names["PRESSROOM_SITE_BUCKET"] in ran.stdout


def test_s3_init_fails_loudly_when_the_store_does_not_answer() -> None:
    dead = harness.free_port()

    ran = s3_init(dead - 1, buckets() | {"S3_INIT_TIMEOUT": "3"})

    assert ran.returncode != 0


def test_listings_past_one_page_are_signed_and_complete(guarded_s3: int) -> None:
    """A listing's query (prefix, delimiter, continuation token) is part of what is signed."""
    names = buckets()
    s3_init(guarded_s3, names)
    store = storage(guarded_s3, names)
    prefix = "新闻 动态+/"  # characters the query must encode as the signature does
    keys = {f"{prefix}{n:04d}.html" for n in range(1_001)}  # two pages of 1,000
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.site.put(k, b"x", content_type="text/html"), keys))
    store.site.put(f"{prefix}nested/deeper.html", b"x", content_type="text/html")

    flat = dict(store.site.etags(prefix, delimiter="/"))
    everything = [key for key, _ in store.site.entries(prefix)]

    assert set(flat) == keys  # the nested page is below the delimiter
    assert set(flat.values()) == {hashlib.md5(b"x").hexdigest()}
    assert sorted(everything) == sorted([*keys, f"{prefix}nested/deeper.html"])
    bad = storage(guarded_s3, names, secret="wrong" * 8)
    with pytest.raises(StorageUnavailable, match="403"):
        list(bad.site.etags(prefix))


def test_the_rebuilds_asyncio_requests_are_signed_too(guarded_s3: int) -> None:
    names = buckets()
    s3_init(guarded_s3, names)
    site, key = names["PRESSROOM_SITE_BUCKET"], "新闻动态/a b+c.html"

    async def put_and_get(secret: str) -> bytes | None:
        async with AsyncObjects(settings(guarded_s3, names, secret), in_flight=4) as objects:
            await objects.put(site, key, b"<p>ok</p>", content_type="text/html", cache_control=None)
            return await objects.get(site, key)

    assert asyncio.run(put_and_get(SECRET_KEY)) == b"<p>ok</p>"
    with pytest.raises(StorageUnavailable, match="403"):
        asyncio.run(put_and_get("wrong" * 8))
    assert storage(guarded_s3, names).site.get(key) == b"<p>ok</p>"
