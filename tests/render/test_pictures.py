"""Pictures on the pages: left out until media has them ready, then served from the site
bucket as <picture> elements, and the pages that show them follow without a new version."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from services.ingest.pictures import image_ref
from services.media.schemas import Picture, PictureState, Rendition
from services.render.picture_events import picture_ready
from services.render.reindex import reindex
from shared.models import Article
from tests.render.conftest import Newsroom
from tests.render.test_html_valid import vnu_errors

UPSTREAM = "https://img.agency.example"
LEAD = f"{UPSTREAM}/lead.jpg"
INLINE = f"{UPSTREAM}/inline.png"
WIDTHS = (320, 640, 960, 1280)


def with_pictures(**fields: Any) -> dict[str, Any]:
    return {
        "body_html": f'<p>第一段</p><p><img src="{INLINE}" alt="会场"></p><p>第二段</p>',
        "images": [
            {"ref": image_ref(LEAD), "source": LEAD, "caption": "签约现场", "credit": "新华社"},
            {"ref": image_ref(INLINE), "source": INLINE, "alt": "会场", "inline": True},
        ],
        "headline": True,
    } | fields


def ready(room: Newsroom, source: str) -> Picture:
    """What media records once a picture's renditions are stored, then tells render."""
    ref = image_ref(source)
    renditions = [
        Rendition(width=w, height=w * 3 // 4, format=kind, url=f"/media/{ref}-{w}.{kind}")
        for w in WIDTHS
        for kind in ("webp", "jpeg")
    ]
    picture = Picture(
        ref=ref,
        source=source,
        state=PictureState.ready,
        width=1280,
        height=960,
        sha256="0" * 64,
        renditions=renditions,
    )
    room.ctx.redis.set(room.ctx.keys.picture(ref), picture.model_dump_json())
    picture_ready(room.ctx, ref)
    return picture


def failed(room: Newsroom, source: str) -> None:
    ref = image_ref(source)
    picture = Picture(ref=ref, source=source, state=PictureState.failed, error="HTTP 404")
    room.ctx.redis.set(room.ctx.keys.picture(ref), picture.model_dump_json())


def imgs(page: str) -> list[str]:
    return re.findall(r"<img\b[^>]*>", page)


def test_an_article_publishes_before_its_pictures_and_never_names_the_upstream(
    newsroom: Newsroom,
) -> None:
    article = newsroom.publish(1, **with_pictures())
    page = newsroom.page(newsroom.url(article))

    assert page is not None
    assert "第一段" in page
    assert "第二段" in page
    assert UPSTREAM not in page
    assert imgs(page) == []
    linked = newsroom.ctx.redis.smembers(newsroom.ctx.keys.picture_articles(image_ref(LEAD)))
    assert linked == {article.id}  # media was asked for it


def test_a_ready_picture_reaches_the_article_page_and_the_lists(newsroom: Newsroom) -> None:
    article = newsroom.publish(1, **with_pictures())
    newsroom.flush()
    ready(newsroom, LEAD)
    ready(newsroom, INLINE)

    newsroom.flush()

    page = newsroom.page(newsroom.url(article)) or ""
    assert UPSTREAM not in page
    lead, inline = imgs(page)
    assert 'loading="lazy"' not in lead
    assert 'width="1280" height="960"' in lead
    assert 'alt="签约现场"' in lead  # no description: the caption
    assert 'loading="lazy"' in inline
    assert 'alt="会场"' in inline
    assert re.search(r'<source type="image/webp" srcset="/media/\S+-320\.webp 320w, ', page)
    assert "图片来源:新华社" in page
    assert page.index("第一段") < page.index(inline) < page.index("第二段")  # in place
    assert f"/media/{image_ref(LEAD)}-1280.jpeg" in page  # og:image: the largest JPEG
    home = newsroom.page("index.html") or ""
    assert 'class="focus-strip"' in home
    assert article.title in home
    assert f"/media/{image_ref(LEAD)}-320.jpeg" in home
    assert f"/media/{image_ref(LEAD)}-1280.webp" in home  # the 焦点图 fills a wide slot
    listed = newsroom.page("news/index.html") or ""
    assert f"/media/{image_ref(LEAD)}-320.jpeg" in listed
    assert f"/media/{image_ref(LEAD)}-1280." not in listed  # a thumbnail never needs it


def test_a_failed_picture_is_left_out_and_the_article_stays(newsroom: Newsroom) -> None:
    article = newsroom.publish(1, **with_pictures())
    failed(newsroom, INLINE)
    ready(newsroom, LEAD)
    newsroom.flush()

    page = newsroom.page(newsroom.url(article)) or ""

    assert len(imgs(page)) == 1  # the lead only
    assert "第一段" in page
    assert INLINE not in page


def test_a_decorative_picture_has_an_empty_alt_and_others_never_do(newsroom: Newsroom) -> None:
    fields = with_pictures()
    fields["images"][0] |= {"decorative": True}
    article = newsroom.publish(1, **fields)
    ready(newsroom, LEAD)
    ready(newsroom, INLINE)
    newsroom.flush()

    lead, inline = imgs(newsroom.page(newsroom.url(article)) or "")

    assert 'alt=""' in lead
    assert 'alt="会场"' in inline


def test_a_picture_already_ready_shows_on_first_publish(newsroom: Newsroom) -> None:
    first = newsroom.publish(1, **with_pictures())
    ready(newsroom, LEAD)
    second = newsroom.publish(2, **with_pictures(body_html="<p>另一篇</p>"))

    page = newsroom.page(newsroom.url(second)) or ""

    assert f"/media/{image_ref(LEAD)}-640.jpeg" in page
    linked = newsroom.ctx.redis.smembers(newsroom.ctx.keys.picture_articles(image_ref(LEAD)))
    assert linked == {first.id, second.id}


def test_unpublishing_lets_go_of_the_pictures_another_article_keeps_them(
    newsroom: Newsroom,
) -> None:
    first = newsroom.publish(1, **with_pictures())
    second = newsroom.publish(2, **with_pictures())

    newsroom.unpublish(first)

    linked = newsroom.ctx.redis.smembers(newsroom.ctx.keys.picture_articles(image_ref(LEAD)))
    assert linked == {second.id}


def test_a_stored_cover_image_is_served_as_a_picture_not_hotlinked(newsroom: Newsroom) -> None:
    article: Article = newsroom.publish(1, cover_image=LEAD)
    assert UPSTREAM not in (newsroom.page(newsroom.url(article)) or "")

    ready(newsroom, LEAD)
    newsroom.flush()

    assert f"/media/{image_ref(LEAD)}-640.jpeg" in (newsroom.page(newsroom.url(article)) or "")


def test_pages_with_pictures_are_valid_html5(newsroom: Newsroom, tmp_path: Path) -> None:
    first = newsroom.publish(1, **with_pictures())
    newsroom.publish(2, **with_pictures(body_html="<p>无图正文</p>"))
    ready(newsroom, LEAD)
    ready(newsroom, INLINE)
    newsroom.flush()
    files = []
    for name, key in {"home": "index.html", "channel": "news/index.html"}.items():
        files.append(tmp_path / f"{name}.html")
        files[-1].write_text(newsroom.page(key) or "")
    files.append(tmp_path / "article.html")
    files[-1].write_text(newsroom.page(newsroom.url(first)) or "")

    assert "<picture>" in files[0].read_text()
    assert "<picture>" in files[-1].read_text()
    assert vnu_errors(files) == []


def test_a_picture_without_description_or_caption_takes_the_title_as_alt(
    newsroom: Newsroom,
) -> None:
    article = newsroom.publish(1, images=[{"ref": image_ref(LEAD), "source": LEAD}])
    ready(newsroom, LEAD)
    newsroom.flush()

    (lead,) = imgs(newsroom.page(newsroom.url(article)) or "")

    assert f'alt="{article.title}"' in lead


def test_reindex_after_redis_lost_its_data_links_the_pictures_again(
    newsroom: Newsroom,
) -> None:
    article = newsroom.publish(1, **with_pictures())
    newsroom.ctx.redis.delete(
        newsroom.ctx.keys.picture_articles(image_ref(LEAD)),
        newsroom.ctx.keys.article_pictures(article.id),
    )

    reindex(newsroom.ctx)

    linked = newsroom.ctx.redis.smembers(newsroom.ctx.keys.picture_articles(image_ref(LEAD)))
    assert linked == {article.id}


def test_an_article_stored_before_pictures_gets_its_body_images_from_the_site(
    newsroom: Newsroom,
) -> None:
    article = newsroom.publish(1, body_html=f'<p>旧文</p><p><img src="{INLINE}" alt="会场"></p>')
    assert UPSTREAM not in (newsroom.page(newsroom.url(article)) or "")

    ready(newsroom, INLINE)
    newsroom.flush()

    (inline,) = imgs(newsroom.page(newsroom.url(article)) or "")
    assert f"/media/{image_ref(INLINE)}-640.jpeg" in inline


def test_the_article_page_shows_a_ready_picture_at_once_lists_at_the_flush(
    newsroom: Newsroom,
) -> None:
    article = newsroom.publish(1, **with_pictures())
    newsroom.flush()

    ready(newsroom, LEAD)

    assert f"/media/{image_ref(LEAD)}-640.jpeg" in (newsroom.page(newsroom.url(article)) or "")
    assert "<picture>" not in (newsroom.page("news/index.html") or "")
    newsroom.flush()
    assert f"/media/{image_ref(LEAD)}-320.jpeg" in (newsroom.page("news/index.html") or "")
