"""Rendition names carry the recipe (format, encoder settings, recipe version) beside the
original's hash and the width: a changed recipe makes new names, and no file already
cached as immutable ever gets new bytes."""

from __future__ import annotations

import time

import pytest

from services.media import images, service
from services.media.schemas import PictureState
from services.media.settings import MediaSettings
from services.media.store import MediaContext, rendition_key
from tests.media.pictures import PictureServer, photo

SHA = "ab" * 32
BASE = MediaSettings(environment="development")


def names(settings: MediaSettings) -> dict[str, str]:
    return {fmt: rendition_key(SHA, 640, fmt, settings) for fmt in ("jpeg", "webp", "avif")}


def with_settings(media: MediaContext, **changes: object) -> MediaContext:
    settings = MediaSettings.model_validate(media.settings.model_dump() | changes)
    return MediaContext(settings, media.storage, media.redis, media.keys, media.fetcher)


@pytest.mark.unit
def test_the_same_recipe_gives_the_same_names_and_each_part_of_it_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = names(BASE)
    assert before == names(MediaSettings(environment="development"))
    assert all(SHA in name and "-640-" in name for name in before.values())

    jpeg = names(BASE.model_copy(update={"media_jpeg_quality": 90}))
    assert jpeg["jpeg"] != before["jpeg"]
    assert jpeg["webp"] == before["webp"]  # a format's name follows its own recipe only

    modern = names(BASE.model_copy(update={"media_modern_quality": 60}))
    assert modern["webp"] != before["webp"]
    assert modern["jpeg"] == before["jpeg"]

    monkeypatch.setattr(images, "RECIPE_VERSION", images.RECIPE_VERSION + 1)
    assert all(names(BASE)[fmt] != before[fmt] for fmt in before)


def test_a_new_quality_renders_new_names_and_leaves_cached_files_as_they_were(
    media: MediaContext, server: PictureServer
) -> None:
    data = photo(1400, 900)
    first = service.picture_ref(server.serve("/recipe-1.jpg", data))
    service.request_pictures(media.redis, media.keys, "a1", {first: server.url("/recipe-1.jpg")})
    service.run_fetch(media, first, attempt=1)
    old = service.pictures(media.redis, media.keys, [first])[first].renditions
    cached = {r.url: media.storage.site.get(r.url[1:]) for r in old}

    sharper = with_settings(media, media_jpeg_quality=92)
    second = service.picture_ref(server.serve("/recipe-2.jpg", data))  # the same bytes
    service.request_pictures(media.redis, media.keys, "a2", {second: server.url("/recipe-2.jpg")})
    service.run_fetch(sharper, second, attempt=1)

    new = service.pictures(media.redis, media.keys, [second])[second]
    assert new.state == PictureState.ready
    old_jpeg = {r.url for r in old if r.format == "jpeg"}
    new_jpeg = {r.url for r in new.renditions if r.format == "jpeg"}
    assert new_jpeg
    assert not new_jpeg & old_jpeg  # rendered again, under new names
    for url, body in cached.items():
        assert media.storage.site.get(url[1:]) == body  # what readers cached is unchanged
    for rendition in new.renditions:
        assert media.storage.site.get(rendition.url[1:]) is not None

    # Once no article shows either, the sweep removes the renditions of both recipes.
    service.request_pictures(media.redis, media.keys, "a1", {})
    service.request_pictures(media.redis, media.keys, "a2", {})
    assert service.sweep(sharper, now=time.time() + 10**6) == 2
    assert not list(media.storage.site.keys("media/"))
    assert not list(media.storage.data.keys("media/digests/"))
