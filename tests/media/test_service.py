"""Pictures from request to renditions in SeaweedFS, their states, dedupe, links and sweep,
through the media service with Valkey and SeaweedFS (media.fetch's work, run in-process)."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
from PIL import Image

from services.media import service
from services.media.schemas import Picture, PictureState
from services.media.store import MediaContext, original_key
from shared.celery_app import MEDIA_QUEUE, RENDER_QUEUE, queue_name
from tests.media.pictures import (
    EVIL_SVG,
    NOT_A_PICTURE,
    PictureServer,
    Route,
    photo,
    png_bomb,
    with_gps,
)
from tests.shared.reader import boto3_client

JPEG = photo(1400, 900)


def request(media: MediaContext, article: str, *urls: str) -> list[str]:
    sources = {service.picture_ref(url): url for url in urls}
    service.request_pictures(media.redis, media.keys, article, sources)
    return list(sources)


def state(media: MediaContext, ref: str) -> Picture:
    return service.pictures(media.redis, media.keys, [ref])[ref]


def sent(media: MediaContext, queue: str) -> list[tuple[str, list[str]]]:
    """The (task, args) of every message waiting on one of this test's Celery queues."""
    messages = media.redis.lrange(queue_name(media.settings, queue), 0, -1)
    found: list[tuple[str, list[str]]] = []
    for raw in messages:
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], body[0]))
    return found


def stored(media: MediaContext, prefix: str, *, site: bool = False) -> list[str]:
    bucket = media.storage.site if site else media.storage.data
    return sorted(bucket.keys(prefix))


def test_a_requested_picture_is_queued_once_and_pending(
    media: MediaContext, server: PictureServer
) -> None:
    url = server.serve("/queued.jpg", JPEG)

    (ref,) = request(media, "a1", url)
    request(media, "a2", url)  # a second article before the fetch ran: no second fetch

    assert state(media, ref).state == PictureState.pending
    assert state(media, ref).source == url
    assert sent(media, MEDIA_QUEUE) == [("media.fetch", [ref])]


def test_a_fetched_picture_has_immutable_renditions_in_the_site_bucket(
    media: MediaContext, server: PictureServer
) -> None:
    (ref,) = request(media, "a1", server.serve("/photo.jpg", JPEG))

    assert service.run_fetch(media, ref, attempt=1) == "done"

    picture = state(media, ref)
    assert picture.state == PictureState.ready
    assert (picture.width, picture.height) == (1400, 900)
    assert {(r.width, r.format) for r in picture.renditions} == {
        (w, f) for w in (320, 640, 960, 1280, 1400) for f in ("webp", "jpeg")
    }
    s3 = boto3_client(media.settings)
    for rendition in picture.renditions:
        head = s3.head_object(Bucket=media.storage.site.name, Key=rendition.url[1:])
        assert head["CacheControl"] == "public, max-age=31536000, immutable"
        assert head["ContentType"] == f"image/{rendition.format}"
        assert picture.sha256
        assert picture.sha256 in rendition.url
    assert stored(media, "media/originals/") == [original_key(picture.sha256 or "")]
    assert ("render.pictures_ready", [ref]) in sent(media, RENDER_QUEUE)


def test_no_rendition_in_the_bucket_carries_the_photos_gps(
    media: MediaContext, server: PictureServer
) -> None:
    (ref,) = request(media, "a1", server.serve("/gps.jpg", with_gps(1200, 800)))
    service.run_fetch(media, ref, attempt=1)

    picture = state(media, ref)
    assert picture.renditions
    for rendition in picture.renditions:
        body = media.storage.site.get(rendition.url[1:])
        assert body is not None
        assert b"PressCam" not in body
        assert dict(Image.open(io.BytesIO(body)).getexif()) == {}
        assert rendition.height > rendition.width  # orientation 6: shown upright


def test_the_same_bytes_at_two_addresses_are_stored_and_rendered_once(
    media: MediaContext, server: PictureServer
) -> None:
    first, second = request(
        media, "a1", server.serve("/one.jpg", JPEG), server.serve("/copy-of-one.jpg", JPEG)
    )
    service.run_fetch(media, first, attempt=1)
    renditions = stored(media, "media/", site=True)
    service.run_fetch(media, second, attempt=1)

    assert len(stored(media, "media/originals/")) == 1
    assert stored(media, "media/", site=True) == renditions
    assert state(media, first).renditions == state(media, second).renditions
    assert state(media, second).state == PictureState.ready


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (Route(body=png_bomb(), headers={"Content-Type": "image/png"}), "pixels"),
        (Route(body=JPEG[: len(JPEG) // 2]), "truncated"),
        (Route(body=EVIL_SVG, headers={"Content-Type": "image/svg+xml"}), "SVG"),
        (Route(body=NOT_A_PICTURE, headers={"Content-Type": "image/jpeg"}), "not a picture"),
        (Route(status=404), "answered 404"),
        (Route(status=302, headers={"Location": "http://169.254.169.254/"}), "link-local"),
        (Route(status=302, headers={"Location": "http://10.0.0.1/x.jpg"}), "private"),
    ],
    ids=["png-bomb", "truncated-jpeg", "svg-script", "text-as-jpg", "404", "metadata", "10-net"],
)
def test_a_hostile_or_broken_picture_fails_with_its_reason(
    media: MediaContext, server: PictureServer, route: Route, reason: str
) -> None:
    path = f"/hostile-{reason.replace(' ', '-')}.jpg"
    server.routes[path] = route
    (ref,) = request(media, "a1", server.url(path))

    assert service.run_fetch(media, ref, attempt=1) == "done"

    picture = state(media, ref)
    assert picture.state == PictureState.failed
    assert reason in (picture.error or "")
    assert stored(media, "media/", site=True) == []
    assert ("render.pictures_ready", [ref]) in sent(media, RENDER_QUEUE)
    # the failure is final: the next render of the article does not fetch it again
    request(media, "a1", server.url(path))
    assert media.redis.exists(media.keys.picture_fetching(ref)) == 0


def test_an_upstream_that_is_down_is_retried_then_failed(
    media: MediaContext, server: PictureServer
) -> None:
    server.routes["/down.jpg"] = Route(status=503)
    (ref,) = request(media, "a1", server.url("/down.jpg"))

    assert service.run_fetch(media, ref, attempt=1) == "retry"
    assert state(media, ref).state == PictureState.pending
    assert service.run_fetch(media, ref, attempt=3) == "done"
    failed = state(media, ref)
    assert failed.state == PictureState.failed
    assert "answered 503 (after 3 tries)" in (failed.error or "")


def test_an_upstream_back_up_before_the_last_try_gives_a_ready_picture(
    media: MediaContext, server: PictureServer
) -> None:
    server.routes["/flaky.jpg"] = Route(status=502)
    (ref,) = request(media, "a1", server.url("/flaky.jpg"))
    assert service.run_fetch(media, ref, attempt=1) == "retry"

    server.serve("/flaky.jpg", JPEG)

    assert service.run_fetch(media, ref, attempt=2) == "done"
    assert state(media, ref).state == PictureState.ready


def test_a_picture_stays_while_any_article_shows_it_and_is_swept_after_the_grace(
    media: MediaContext, server: PictureServer
) -> None:
    url = server.serve("/shared.jpg", JPEG)
    (ref,) = request(media, "a1", url)
    request(media, "a2", url)
    service.run_fetch(media, ref, attempt=1)
    later = time.time() + media.settings.media_sweep_grace_seconds + 60

    service.unlink_article(media.redis, media.keys, "a1")
    assert service.sweep(media, now=later) == 0
    assert state(media, ref).state == PictureState.ready

    request(media, "a2")  # a new version of a2 without the picture
    assert service.sweep(media, now=time.time()) == 0  # within the grace period
    assert service.sweep(media, now=later) == 1

    assert service.pictures(media.redis, media.keys, [ref]) == {}
    assert stored(media, "media/", site=True) == []
    assert stored(media, "media/originals/") == []
    assert stored(media, "media/pictures/") == []


def test_the_sweep_keeps_bytes_another_picture_still_uses(
    media: MediaContext, server: PictureServer
) -> None:
    kept, dropped = request(
        media, "a1", server.serve("/keep.jpg", JPEG), server.serve("/drop.jpg", JPEG)
    )
    service.run_fetch(media, kept, attempt=1)
    service.run_fetch(media, dropped, attempt=1)
    request(media, "a1", server.url("/keep.jpg"))

    assert service.sweep(media, now=time.time() + 10**6) == 1

    assert state(media, kept).state == PictureState.ready
    for rendition in state(media, kept).renditions:
        assert media.storage.site.get(rendition.url[1:]) is not None
    assert len(stored(media, "media/originals/")) == 1


def test_an_uploaded_picture_gets_an_id_and_its_renditions(media: MediaContext) -> None:
    data = photo(2400, 1600, "PNG")

    uploaded = service.upload_picture(media, data)
    again = service.upload_picture(media, data)

    assert again == uploaded
    assert (uploaded.width, uploaded.height) == (1920, 1280)
    assert sent(media, MEDIA_QUEUE) == [("media.fetch", [uploaded.id])]
    assert service.run_fetch(media, uploaded.id, attempt=1) == "done"
    picture = state(media, uploaded.id)
    assert picture.state == PictureState.ready
    assert uploaded.url in {r.url for r in picture.renditions}


def test_an_article_naming_an_upload_finds_it_after_redis_lost_its_record(
    media: MediaContext,
) -> None:
    uploaded = service.upload_picture(media, photo(800, 600))
    service.run_fetch(media, uploaded.id, attempt=1)
    media.redis.delete(media.keys.picture(uploaded.id), media.keys.picture_fetching(uploaded.id))

    sources = {uploaded.id: f"media:{uploaded.id}"}
    service.request_pictures(media.redis, media.keys, "a1", sources)
    assert service.run_fetch(media, uploaded.id, attempt=1) == "done"

    assert state(media, uploaded.id).state == PictureState.ready
    assert uploaded.url in {r.url for r in state(media, uploaded.id).renditions}


def test_an_article_naming_an_unknown_upload_gets_a_failed_picture(media: MediaContext) -> None:
    service.request_pictures(media.redis, media.keys, "a1", {"f" * 32: "media:" + "f" * 32})

    assert service.run_fetch(media, "f" * 32, attempt=1) == "done"

    assert "no uploaded picture" in (state(media, "f" * 32).error or "")
