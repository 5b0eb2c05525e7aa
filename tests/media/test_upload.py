"""POST /v1/media on the running stack, through the edge: the picture's renditions are made by
the render workers and served from the site bucket; bad pictures get a 4xx naming the body."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from services.media.settings import MediaSettings
from services.media.store import rendition_key
from tests.media.pictures import EVIL_SVG, NOT_A_PICTURE, photo, png_bomb
from tests.test_end_to_end import wait_for_page

UPLOAD = "/api/ingest/v1/media"


def upload(site: httpx.Client, key: str, body: bytes, content_type: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    return site.post(UPLOAD, content=body, headers=headers)


def test_an_uploaded_picture_is_served_from_the_site(site: httpx.Client, feed_key: str) -> None:
    answer = upload(site, feed_key, photo(1000, 700, "PNG"), "image/png")

    assert answer.status_code == 201, answer.text
    uploaded = answer.json()
    assert uploaded["url"].startswith("/media/")
    assert (uploaded["width"], uploaded["height"]) == (1000, 700)
    served = wait_for_page(site, uploaded["url"], timeout=60)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert "immutable" in served.headers["cache-control"]
    assert Image.open(io.BytesIO(served.content)).size == (1000, 700)
    sha256 = uploaded["url"].rsplit("/", 1)[-1].split("-", 1)[0]
    narrow = rendition_key(sha256, 320, "webp", MediaSettings(environment="development"))
    webp = wait_for_page(site, "/" + narrow, timeout=60)
    assert Image.open(io.BytesIO(webp.content)).size == (320, 224)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (EVIL_SVG, "image/svg+xml", 422, "SVG"),
        (NOT_A_PICTURE, "image/jpeg", 422, "not a picture"),
        (png_bomb(), "image/png", 422, "pixels"),
        (photo(64, 48), "text/plain", 415, "text/plain"),
    ],
    ids=["svg", "text-as-jpeg", "png-bomb", "not-image-type"],
)
def test_a_bad_picture_is_refused_with_a_problem_naming_it(
    site: httpx.Client, feed_key: str, body: bytes, content_type: str, status: int, says: str
) -> None:
    answer = upload(site, feed_key, body, content_type)

    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert says in problem["detail"]
    if status == 422:
        assert problem["errors"][0]["field"] == "body"


def test_an_upload_without_the_feed_key_is_refused(site: httpx.Client) -> None:
    answer = site.post(UPLOAD, content=photo(64, 48), headers={"Content-Type": "image/jpeg"})

    assert answer.status_code == 401


def test_an_upload_over_the_size_limit_is_refused(site: httpx.Client, feed_key: str) -> None:
    too_big = photo(64, 48) + bytes(20 * 1024 * 1024)

    answer = upload(site, feed_key, too_big, "image/jpeg")

    assert answer.status_code == 413
