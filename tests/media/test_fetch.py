"""The guarded fetch against a real HTTP server on loopback: limits, redirects, refusals."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from ipaddress import ip_network
from pathlib import Path

import pytest

from services.media.fetch import FetchRefused, PictureFetcher, UpstreamDown
from services.media.settings import MediaSettings
from tests.media.pictures import (
    PictureServer,
    Route,
    photo,
    picture_server,
    self_signed,
    tls_picture_server,
)

JPEG = photo(320, 240)


@pytest.fixture(scope="module")
def far_server() -> Iterator[PictureServer]:
    # 127.0.0.2: production allows it below by name, so that a hop to 127.0.0.1 is refused.
    with picture_server("127.0.0.2") as running:
        yield running


def fetcher(**overrides: object) -> PictureFetcher:
    options: dict[str, object] = {
        "environment": "production",
        "media_allowed_networks": [ip_network("127.0.0.2/32")],
        "media_fetch_seconds": 10.0,
    }
    return PictureFetcher(MediaSettings.model_validate(options | overrides))


def test_a_picture_is_fetched_whole(far_server: PictureServer) -> None:
    fetched = fetcher().fetch(far_server.serve("/photo.jpg", JPEG))

    assert fetched.body == JPEG


def test_the_connection_goes_to_the_checked_address_and_names_the_host() -> None:
    named = fetcher(media_allowed_networks=[ip_network("127.0.0.0/8"), ip_network("::1")])
    with picture_server("127.0.0.1") as local:
        url = local.serve("/named.jpg", JPEG).replace("127.0.0.1", "localhost")

        assert named.fetch(url).body == JPEG
        assert local.requests == [("/named.jpg", f"localhost:{local.port}")]


def test_loopback_is_refused_in_production() -> None:
    with picture_server("127.0.0.1") as local, pytest.raises(FetchRefused, match="loopback"):
        fetcher().fetch(local.serve("/photo.jpg", JPEG))
    assert local.requests == []


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("http://127.0.0.1/x.jpg", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/x.jpg", "private"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[::1]/", "loopback"),
    ],
)
def test_a_redirect_to_a_forbidden_address_is_refused(
    far_server: PictureServer, target: str, kind: str
) -> None:
    url = far_server.redirect(f"/to/{kind}", target)

    with pytest.raises(FetchRefused, match=kind):
        fetcher().fetch(url)


def test_three_redirects_are_followed_and_a_fourth_is_refused(far_server: PictureServer) -> None:
    far_server.serve("/end.jpg", JPEG)
    for hop in (3, 2, 1):
        far_server.redirect(f"/hop{hop}", f"/hop{hop + 1}" if hop < 3 else "/end.jpg", 301)
    far_server.redirect("/hop0", "/hop1", 307)

    assert fetcher().fetch(far_server.url("/hop1")).body == JPEG
    with pytest.raises(FetchRefused, match="more than 3 redirects"):
        fetcher().fetch(far_server.url("/hop0"))


def test_a_certificate_that_does_not_prove_the_name_is_refused(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "localhost")
    local = fetcher(media_allowed_networks=[ip_network("127.0.0.0/8"), ip_network("::1")])
    with tls_picture_server("127.0.0.1", cert, key) as tls:
        tls.serve("/photo.jpg", JPEG)

        with pytest.raises(FetchRefused, match=r"TLS refused.*certificate verify failed"):
            local.fetch(f"https://localhost:{tls.port}/photo.jpg")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/x.jpg", "gopher://x/", "//no-scheme/x"]
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(FetchRefused, match="http or https only"):
        fetcher().fetch(url)


def test_a_declared_oversize_is_refused_before_reading(far_server: PictureServer) -> None:
    far_server.routes["/big-declared.jpg"] = Route(body=JPEG + bytes(2048))

    with pytest.raises(FetchRefused, match="larger than 1024 bytes"):
        fetcher(media_max_bytes=1024).fetch(far_server.url("/big-declared.jpg"))


def test_an_endless_stream_is_cut_at_the_limit(far_server: PictureServer) -> None:
    far_server.routes["/endless.jpg"] = Route(stream=64 * 1024 * 1024)

    with pytest.raises(FetchRefused, match=f"larger than {256 * 1024} bytes"):
        fetcher(media_max_bytes=256 * 1024).fetch(far_server.url("/endless.jpg"))


def test_a_download_that_trickles_past_the_deadline_is_cut(far_server: PictureServer) -> None:
    far_server.routes["/trickle.jpg"] = Route(stream=64 * 1024, trickle=0.1)

    with pytest.raises(UpstreamDown, match=r"took longer than 0\.3 s"):
        fetcher(media_fetch_seconds=0.3).fetch(far_server.url("/trickle.jpg"))
    assert far_server.streamed["/trickle.jpg"] < 64 * 1024  # cut off, not read to the end


@pytest.mark.parametrize(("status", "error"), [(404, FetchRefused), (403, FetchRefused)])
def test_a_client_error_is_final(far_server: PictureServer, status: int, error: type) -> None:
    far_server.routes[f"/status/{status}"] = Route(status=status)

    with pytest.raises(error, match=f"answered {status}"):
        fetcher().fetch(far_server.url(f"/status/{status}"))


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_server_error_is_worth_retrying(far_server: PictureServer, status: int) -> None:
    far_server.routes[f"/status/{status}"] = Route(status=status)

    with pytest.raises(UpstreamDown, match=f"answered {status}"):
        fetcher().fetch(far_server.url(f"/status/{status}"))


def test_a_server_that_is_not_there_is_worth_retrying() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.2", 0))
        port = closed.getsockname()[1]
    with pytest.raises(UpstreamDown):
        fetcher().fetch(f"http://127.0.0.2:{port}/photo.jpg")
