"""`pressroom rebuild` brings pictures back with the pages: renditions of an emptied site
bucket are made again from the kept originals, and articles are linked to their pictures
as reindex links them."""

from __future__ import annotations

import io
import re

from PIL import Image

from services.ingest.pictures import image_ref
from services.media.fetch import PictureFetcher
from services.media.schemas import Picture
from services.media.settings import MediaSettings
from services.media.store import MediaContext, render_picture, save_record
from services.render.picture_events import picture_ready
from tests.media.pictures import photo
from tests.render.conftest import Newsroom
from tests.render.test_rebuild import run

LEAD = "https://img.agency.example/rebuild.jpg"


def media_of(room: Newsroom) -> MediaContext:
    settings = MediaSettings.model_validate(room.isolated.settings.model_dump())
    return MediaContext(
        settings,
        room.isolated.storage,
        room.isolated.redis,
        room.isolated.keys,
        PictureFetcher(settings),
    )


def shown_renditions(page: str) -> set[str]:
    """Site keys of every rendition the page's <picture> elements name."""
    return set(re.findall(r"/(media/[0-9a-f]{2}/[^\s\",]+)", page))


def with_a_ready_picture(room: Newsroom) -> tuple[str, set[str]]:
    """An article whose lead picture media has rendered for real; its page and renditions."""
    article = room.publish(1, images=[{"ref": image_ref(LEAD), "source": LEAD, "caption": "现场"}])
    media = media_of(room)
    save_record(media, render_picture(media, Picture(ref=image_ref(LEAD), source=LEAD), photo()))
    picture_ready(room.ctx, image_ref(LEAD))
    url = room.url(article)
    shown = shown_renditions(room.page(url) or "")
    assert shown
    assert run(room, "init")[0] == 0  # the site pages its nav and footer link to
    return url, shown


def test_rebuild_of_an_emptied_site_bucket_shows_the_pictures_again(newsroom: Newsroom) -> None:
    url, shown = with_a_ready_picture(newsroom)
    site = newsroom.isolated.storage.site
    site.delete_many(list(site.keys("")))
    assert site.get(next(iter(shown))) is None

    code, output = run(newsroom, "rebuild", "--force")

    assert code == 0, output
    page = newsroom.page(url) or ""
    assert "<picture>" in page
    assert shown_renditions(page) == shown
    for key in shown:
        body = site.get(key)
        assert body is not None, key
        assert Image.open(io.BytesIO(body)).size[0] > 0


def test_rebuild_links_articles_to_their_pictures_as_reindex_does(newsroom: Newsroom) -> None:
    url, _ = with_a_ready_picture(newsroom)
    keys, redis = newsroom.ctx.keys, newsroom.ctx.redis
    article_id = str(redis.smembers(keys.picture_articles(image_ref(LEAD))).pop())
    redis.delete(keys.picture_articles(image_ref(LEAD)), keys.article_pictures(article_id))

    code, output = run(newsroom, "rebuild", "--force")

    assert code == 0, output
    assert redis.smembers(keys.picture_articles(image_ref(LEAD))) == {article_id}
    assert "<picture>" in (newsroom.page(url) or "")
