"""Where pictures live: originals and records in the data bucket, renditions in the site
bucket under names derived from the original's SHA-256, records' fast copies in Redis."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import redis

from services.media import images
from services.media.fetch import PictureFetcher
from services.media.images import CONTENT_TYPES, EXTENSIONS
from services.media.schemas import Picture, PictureState, Rendition, RenditionFormat
from services.media.settings import MediaSettings
from shared.keys import Keys
from shared.redis_client import connect
from shared.storage import Storage

UPLOAD_SCHEME = "upload:"
DIGESTS = "media/digests/"


@dataclass
class MediaContext:
    settings: MediaSettings
    storage: Storage
    redis: redis.Redis
    keys: Keys
    fetcher: PictureFetcher


def build_context(settings: MediaSettings) -> MediaContext:
    return MediaContext(
        settings=settings,
        storage=Storage.from_settings(settings),
        redis=connect(settings),
        keys=Keys(settings.key_prefix),
        fetcher=PictureFetcher(settings),
    )


def original_key(sha256: str) -> str:
    return f"media/originals/{sha256}"


def record_key(ref: str) -> str:
    return f"media/pictures/{ref}.json"


def digest_key(sha256: str, settings: MediaSettings) -> str:
    """The renditions already made of these bytes with these settings (written last: its
    presence means done)."""
    return f"{DIGESTS}{sha256}-{set_recipe(settings)}.json"


def recipe(settings: MediaSettings, fmt: RenditionFormat) -> str:
    """A short hash of how a format's renditions are made; in their names, so a change of
    the recipe makes new names instead of new bytes under names cached as immutable."""
    quality = settings.media_jpeg_quality if fmt == "jpeg" else settings.media_modern_quality
    spec = {"v": images.RECIPE_VERSION, "fmt": fmt, **images.encoder_options(fmt, quality)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]


def set_recipe(settings: MediaSettings) -> str:
    """The recipe of a whole set: its widths and both formats' recipes."""
    modern = recipe(settings, settings.media_format)
    spec = [settings.media_widths, modern, recipe(settings, "jpeg")]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:10]


def rendition_key(sha256: str, width: int, fmt: RenditionFormat, settings: MediaSettings) -> str:
    return f"media/{sha256[:2]}/{sha256}-{width}-{recipe(settings, fmt)}.{EXTENSIONS[fmt]}"


def rendition(
    sha256: str, width: int, height: int, fmt: RenditionFormat, settings: MediaSettings
) -> Rendition:
    key = rendition_key(sha256, width, fmt, settings)
    return Rendition(width=width, height=height, format=fmt, url="/" + key)


def content_type(fmt: RenditionFormat) -> str:
    return CONTENT_TYPES[fmt]


def load_record(ctx: MediaContext, ref: str) -> Picture | None:
    """The Redis copy, or else the durable one (put back into Redis)."""
    raw = ctx.redis.get(ctx.keys.picture(ref))
    if raw is not None:
        return Picture.model_validate_json(raw)
    stored = ctx.storage.data.get(record_key(ref))
    if stored is None:
        return None
    picture = Picture.model_validate_json(stored)
    ctx.redis.set(ctx.keys.picture(ref), picture.model_dump_json(), nx=True)
    return picture


def save_record(ctx: MediaContext, picture: Picture) -> None:
    """Durable first, then the fast copy; a ready picture joins its digest's refs."""
    body = picture.model_dump_json()
    ctx.storage.data.put(record_key(picture.ref), body.encode(), content_type="application/json")
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.set(ctx.keys.picture(picture.ref), body)
    if picture.sha256:
        pipe.sadd(ctx.keys.digest_pictures(picture.sha256), picture.ref)
    pipe.execute()


def render_picture(ctx: MediaContext, record: Picture, data: bytes) -> Picture:
    """The ready record of these bytes; renders them only if no other ref did already."""
    sha256 = hashlib.sha256(data).hexdigest()
    digest = ctx.storage.data.get(digest_key(sha256, ctx.settings))
    if digest is not None:
        done = Picture.model_validate_json(digest)
    else:
        done = _render_original(ctx, sha256, data)
    return record.model_copy(
        update={
            "state": PictureState.ready,
            "error": None,
            "width": done.width,
            "height": done.height,
            "sha256": sha256,
            "renditions": done.renditions,
        }
    )


def _render_original(ctx: MediaContext, sha256: str, data: bytes) -> Picture:
    header = images.inspect(data, ctx.settings.media_max_pixels)
    made = _make_renditions(ctx, sha256, data)
    # Kept only once it rendered: a picture that fails leaves nothing for the sweep to find.
    ctx.storage.data.put(original_key(sha256), data, content_type=f"image/{header.kind}")
    done = Picture(
        ref=sha256,
        source=UPLOAD_SCHEME + sha256,
        state=PictureState.ready,
        width=header.width,
        height=header.height,
        sha256=sha256,
        renditions=made,
    )
    _save_digest(ctx, done)
    return done


def _make_renditions(ctx: MediaContext, sha256: str, data: bytes) -> list[Rendition]:
    settings = ctx.settings
    made: list[Rendition] = []
    for encoded in images.render(
        data,
        settings.media_max_pixels,
        settings.media_widths,
        settings.media_format,
        jpeg_quality=settings.media_jpeg_quality,
        modern_quality=settings.media_modern_quality,
    ):
        ctx.storage.site.put(
            rendition_key(sha256, encoded.width, encoded.format, settings),
            encoded.body,
            content_type=content_type(encoded.format),
            cache_control=settings.media_cache_control,
        )
        made.append(rendition(sha256, encoded.width, encoded.height, encoded.format, settings))
    made.sort(key=lambda r: (r.width, r.format))
    return made


def _save_digest(ctx: MediaContext, done: Picture) -> None:
    assert done.sha256 is not None
    ctx.storage.data.put(
        digest_key(done.sha256, ctx.settings),
        done.model_dump_json().encode(),
        content_type="application/json",
    )


def restore_renditions(ctx: MediaContext) -> int:
    """Render again, from the kept originals, the pictures none of whose renditions is in
    the site bucket (emptied or lost); the records of the pictures with those bytes get
    what was made. Returns how many originals were rendered again."""
    present = set(ctx.storage.site.keys("media/"))
    # Two listings decide; only the digests of bytes with a rendition missing are read.
    shown = {key.rsplit("/", 1)[-1].split("-", 1)[0] for key in present}
    restored = 0
    for key in list(ctx.storage.data.keys(DIGESTS)):
        if key.removeprefix(DIGESTS).removesuffix(".json").split("-", 1)[0] in shown:
            continue
        raw = ctx.storage.data.get(key)
        done = Picture.model_validate_json(raw) if raw else None
        if done is None or done.sha256 is None:
            continue
        data = ctx.storage.data.get(original_key(done.sha256))
        if data is None:  # swept meanwhile: nothing shows it any more
            continue
        made = _make_renditions(ctx, done.sha256, data)
        if made != done.renditions:  # the recipe changed since: new names
            _save_digest(ctx, done.model_copy(update={"renditions": made}))
            _give_renditions(ctx, done.sha256, made)
        restored += 1
    return restored


def _give_renditions(ctx: MediaContext, sha256: str, made: list[Rendition]) -> None:
    for ref in sorted(ctx.redis.smembers(ctx.keys.digest_pictures(sha256))):
        record = load_record(ctx, str(ref))
        if record is not None and record.state == PictureState.ready:
            save_record(ctx, record.model_copy(update={"renditions": made}))
