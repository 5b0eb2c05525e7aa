"""The embedded store (`pressroom run`, the test stacks) is closed: anyone on the machine may
read the site's pages, and only the stack's own key pair may do anything else, through S3
or through any other port of `weed mini`. Nothing it runs reports to a third party."""

from __future__ import annotations

import json
import socket
import ssl
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.stack.run import Stack
from shared.storage import Storage, StorageUnavailable
from tests.stack import access
from tests.stack.access import BUCKET_REQUESTS, REQUESTS, allowed, anonymous, refused

PAGE, SECRET = b"<h1>home</h1>", b'{"signing_secret": "do-not-show"}'


@pytest.fixture(scope="module")
def store(stack: Stack) -> tuple[Storage, str]:
    """The stack's own buckets (the ones its edge serves), one page and one feed in them."""
    storage = Storage.from_settings(stack.settings())
    storage.ensure_buckets()
    tag = uuid.uuid4().hex[:8]
    storage.site.put(f"access-{tag}/index.html", PAGE, content_type="text/html")
    storage.data.put(f"access-{tag}/feed.json", SECRET, content_type="application/json")
    return storage, tag


def test_readers_get_the_sites_pages_and_nothing_of_the_data(
    stack: Stack, store: tuple[Storage, str]
) -> None:
    storage, tag = store
    s3, site, data = stack.urls["s3_url"], storage.site.name, storage.data.name

    page = httpx.get(f"{s3}/{site}/access-{tag}/index.html")
    head = httpx.head(f"{s3}/{site}/access-{tag}/index.html")
    feed = httpx.get(f"{s3}/{data}/access-{tag}/feed.json")
    data_listing = httpx.get(f"{s3}/{data}?list-type=2&prefix=access-")
    site_listing = httpx.get(f"{s3}/{site}?list-type=2")
    buckets = httpx.get(f"{s3}/")

    assert (page.status_code, page.content) == (200, PAGE)
    assert head.status_code == 200
    assert feed.status_code == 403
    assert b"do-not-show" not in feed.content
    assert data_listing.status_code == 403
    assert f"access-{tag}".encode() not in data_listing.content
    assert site_listing.status_code == 403
    assert buckets.status_code == 403
    assert data.encode() not in buckets.content


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    request=st.sampled_from(
        [(m, q, False) for m, q in REQUESTS] + [(m, q, True) for m, q in BUCKET_REQUESTS]
    ),
    bucket=st.sampled_from(["site", "data"]),
    existing=st.booleans(),
    key=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20),
)
def test_no_anonymous_request_changes_or_shows_anything_but_a_page(
    stack: Stack,
    store: tuple[Storage, str],
    request: tuple[str, str, bool],
    bucket: str,
    existing: bool,
    key: str,
) -> None:
    storage, tag = store
    method, query, on_bucket = request
    name = storage.site.name if bucket == "site" else storage.data.name
    stored = f"access-{tag}/index.html" if bucket == "site" else f"access-{tag}/feed.json"
    target = None if on_bucket else (stored if existing else f"access-{tag}/x{key}")

    answer = anonymous(stack.urls["s3_url"], method, name, target, query)

    if allowed(method, query, name, storage.site.name, target):
        assert answer.status_code in ({200} if target == stored else {400, 404})
    else:
        assert refused(answer), (method, query, name, target, answer.text[:200])
        assert b"do-not-show" not in answer.content
    assert storage.site.get(f"access-{tag}/index.html") == PAGE
    assert storage.data.get(f"access-{tag}/feed.json") == SECRET
    assert list(storage.site.keys(f"access-{tag}/")) == [f"access-{tag}/index.html"]
    assert list(storage.data.keys(f"access-{tag}/")) == [f"access-{tag}/feed.json"]


def test_the_stacks_key_pair_signs_everything_and_a_wrong_secret_nothing(
    stack: Stack, store: tuple[Storage, str]
) -> None:
    storage, tag = store
    wrong = Storage.from_settings(stack.settings(s3_secret_access_key="wrong" * 8))

    storage.data.put(f"access-{tag}/signed.json", b"{}", content_type="application/json")

    assert storage.data.get(f"access-{tag}/feed.json") == SECRET
    assert f"access-{tag}/signed.json" in set(storage.data.keys(f"access-{tag}/"))
    with pytest.raises(StorageUnavailable, match="403"):
        wrong.data.get(f"access-{tag}/feed.json")
    with pytest.raises(StorageUnavailable, match="403"):
        wrong.site.put(f"access-{tag}/index.html", b"defaced", content_type="text/html")
    assert storage.site.get(f"access-{tag}/index.html") == PAGE


def test_the_filer_and_volume_http_apis_do_not_go_round_s3(
    stack: Stack, store: tuple[Storage, str]
) -> None:
    storage, tag = store
    filer = f"http://127.0.0.1:{stack.ports.s3 + 3}/buckets/{storage.data.name}"

    statuses, seen = access.filer_probe(f"{filer}/access-{tag}")

    assert statuses == (401, 401, 401)
    assert b"do-not-show" not in seen
    assert list(storage.data.keys(f"access-{tag}/planted")) == []


def http2_answer(port: int, tls: ssl.SSLContext | None) -> bytes:
    """The first bytes a gRPC port answers to a client's HTTP/2 preface (b"" if refused)."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            if tls is None:
                raw.sendall(preface)
                return raw.recv(9)
            with tls.wrap_socket(raw) as conn:
                conn.sendall(preface)
                return conn.recv(9)
        except (ssl.SSLError, ConnectionError):
            return b""


@pytest.mark.parametrize("part", ["master", "filer"])
def test_weeds_grpc_ports_answer_only_the_holder_of_its_certificate(
    stack: Stack, part: str
) -> None:
    """`weed shell` (gRPC) lists, deletes and drops buckets without any S3 credential."""
    port = stack.ports.s3 + 10000 + {"master": 1, "filer": 3}[part]
    config = Path(stack.home / "s3-config")
    holder = ssl.create_default_context(cafile=config / "ca.crt")
    holder.check_hostname = False
    holder.load_cert_chain(config / "weed.crt", config / "weed.key")
    holder.set_alpn_protocols(["h2"])
    stranger = ssl.create_default_context()
    stranger.check_hostname, stranger.verify_mode = False, ssl.CERT_NONE
    stranger.set_alpn_protocols(["h2"])

    settings_frame = http2_answer(port, holder)

    assert settings_frame[3:4] == b"\x04"  # the server's SETTINGS: this is a gRPC server
    assert http2_answer(port, None)[3:4] != b"\x04"  # plain gRPC, as weed shell speaks
    assert http2_answer(port, stranger) == b""  # TLS without the certificate


def test_weed_runs_without_telemetry(stack: Stack) -> None:
    weed = stack.infra["s3"]
    assert weed.process is not None

    running = psutil.Process(weed.process.pid).cmdline()

    assert "-master.telemetry=false" in weed.argv
    assert "-master.telemetry=false" in running
    assert not any(a.startswith("-master.telemetry.url") for a in running)
    assert weed.running  # weed accepts the flag: it is the store every test here uses


def test_credentials_are_made_per_home_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("PRESSROOM_S3_ACCESS_KEY_ID", "PRESSROOM_S3_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(variable)

    first, again = Stack(tmp_path / "a"), Stack(tmp_path / "a")
    other = Stack(tmp_path / "b")

    assert first.credentials == again.credentials  # kept for the next `pressroom run`
    assert first.credentials[1] != other.credentials[1]
    assert len(first.credentials[1]) >= 32
    kept = tmp_path / "a" / "s3-credentials.json"
    assert kept.stat().st_mode & 0o077 == 0
    assert json.loads(kept.read_text())["secret_access_key"] == first.credentials[1]
    assert first.env["PRESSROOM_S3_SECRET_ACCESS_KEY"] == first.credentials[1]
