"""Pictures from every kind of feed become the article's images; bad ones are named."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest import formats
from services.ingest.errors import InvalidArticle
from services.ingest.pictures import article_images, image_ref
from services.ingest.schemas import ArticleIn
from services.media.service import picture_ref
from shared.models import Article

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {"external_id": "pic-1", "title": "图片新闻"}


def native(**fields: Any) -> ArticleIn:
    item = formats.parse_single(formats.JSON, orjson.dumps(BASE | fields), None)
    assert item.article is not None
    return item.article


def refused(media: str, document: Any) -> list[dict[str, str]]:
    with pytest.raises(InvalidArticle) as caught:
        formats.parse_single(media, orjson.dumps(document), None)
    errors: list[dict[str, str]] = caught.value.extra["errors"]
    return errors


def stored(article: ArticleIn, body: str | None = None) -> Article:
    images, lead = article_images(article, article.body_html if body is None else body)
    return Article(
        id="a" * 20,
        feed="wire",
        external_id=article.external_id,
        version=1,
        title=article.title,
        channel="news",
        published_at="2024-01-01T00:00:00Z",
        received_at="2024-01-01T00:00:00Z",
        images=images,
        lead_image=lead,
    )


# --- native JSON ---------------------------------------------------------------------------


def test_native_images_keep_caption_credit_and_alt_and_the_first_leads() -> None:
    article = stored(
        native(
            images=[
                {"href": "https://img.example.cn/a.jpg", "caption": "会场", "credit": "新华社"},
                {"media_id": "u1", "alt": "两位代表握手"},
            ]
        )
    )

    first, upload = article.images
    assert (first.source, first.caption, first.credit) == (
        "https://img.example.cn/a.jpg",
        "会场",
        "新华社",
    )
    assert first.ref == picture_ref("https://img.example.cn/a.jpg")
    assert (upload.source, upload.ref, upload.alt) == ("media:u1", "u1", "两位代表握手")
    assert article.lead == first


def test_lead_image_names_another_picture() -> None:
    article = stored(
        native(
            images=[{"href": "https://img.example.cn/a.jpg"}, {"media_id": "u2"}],
            lead_image="u2",
        )
    )

    assert article.lead is not None
    assert article.lead.source == "media:u2"


def test_a_legacy_cover_image_becomes_the_lead_picture() -> None:
    article = stored(native(cover_image="https://img.example.cn/cover.jpg"))

    assert article.lead is not None
    assert article.lead.source == "https://img.example.cn/cover.jpg"


def test_a_stored_document_with_cover_image_reads_as_a_lead_picture() -> None:
    old = {
        "id": "b" * 20,
        "feed": "wire",
        "external_id": "old",
        "version": 1,
        "title": "旧文",
        "channel": "news",
        "published_at": "2022-07-11T09:30:00+08:00",
        "received_at": "2022-07-11T09:30:00+08:00",
        "cover_image": "https://img.example.cn/old.jpg",
    }

    article = Article.model_validate(old)

    assert article.lead is not None
    assert article.lead.source == "https://img.example.cn/old.jpg"
    assert article.cover_image is None


def test_every_img_of_the_body_becomes_an_inline_picture_once() -> None:
    body = (
        '<p><img src="https://img.example.cn/1.jpg" alt="一"></p>'
        '<p><img src="https://img.example.cn/2.png"><img src="https://img.example.cn/1.jpg"></p>'
        '<p><img src="/relative.jpg"></p>'
    )
    article = stored(
        native(images=[{"href": "https://img.example.cn/2.png", "caption": "二"}]), body
    )

    assert [(i.source, i.inline) for i in article.images] == [
        ("https://img.example.cn/2.png", True),
        ("https://img.example.cn/1.jpg", True),
    ]
    assert article.images[0].caption == "二"  # named in images: its caption stays
    assert article.images[1].alt == "一"
    assert article.lead is None  # every picture is in the body already
    assert article.thumbnail == article.images[0]


@pytest.mark.parametrize(
    ("images", "field"),
    [
        ([{"href": "ftp://img.example.cn/a.jpg"}], "images.0.href"),
        ([{"href": "javascript:alert(1)"}], "images.0.href"),
        ([{"href": "data:image/png;base64,AAAA"}], "images.0.href"),
        ([{"caption": "无图"}], "images.0"),
        ([{"href": "https://a.cn/x.jpg", "media_id": "u"}], "images.0"),
        ([{"media_id": "../../etc/passwd"}], "images.0.media_id"),
        ([{"href": "https://a.cn/x.jpg", "alt": "bad\x01"}], "images.0.alt"),
        ([{"href": "https://a.cn/x.jpg", "width": 3}], "images.0.width"),
    ],
)
def test_a_bad_picture_is_refused_naming_its_field(images: list[Any], field: str) -> None:
    errors = refused(formats.JSON, BASE | {"images": images})

    assert field in [e["field"] for e in errors]


def test_a_lead_image_that_names_no_picture_is_refused() -> None:
    errors = refused(formats.JSON, BASE | {"images": [], "lead_image": "https://a.cn/x.jpg"})

    assert [e["field"] for e in errors] == ["lead_image"]


text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=40)
image = st.fixed_dictionaries(
    {},
    optional={
        "href": st.one_of(
            st.sampled_from(["https://img.example.cn/a.jpg", "http://x.cn/b.png", "ftp://x/c"]),
            text,
        ),
        "media_id": st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True) | text,
        "caption": text,
        "credit": text,
        "alt": text,
        "decorative": st.booleans(),
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images=st.lists(image, max_size=4), lead=st.none() | text)
def test_any_images_either_store_http_pictures_or_name_the_field(
    images: list[dict[str, Any]], lead: str | None
) -> None:
    document = BASE | {"images": images} | ({"lead_image": lead} if lead is not None else {})
    try:
        article = stored(native(**{k: v for k, v in document.items() if k not in BASE}))
    except InvalidArticle as exc:
        fields = [e["field"] for e in exc.extra["errors"]]
    else:
        fields = []
    if fields:
        assert all(f.startswith(("images", "lead_image")) for f in fields)
        return
    for picture in article.images:
        assert picture.source.startswith(("http://", "https://", "media:"))
        assert picture.ref == image_ref(picture.source)
    if lead is not None:
        assert article.lead is not None
    elif article.images:
        assert article.lead == article.images[0]


# --- ninjs ---------------------------------------------------------------------------------

NINJS_BASE: dict[str, Any] = {"uri": "urn:pic:1", "headlines": [{"value": "标题"}]}


def ninjs(**fields: Any) -> ArticleIn:
    item = formats.parse_single(formats.NINJS, orjson.dumps(NINJS_BASE | fields), None)
    assert item.article is not None
    return item.article


def test_ninjs_2_picture_association_takes_the_largest_rendition_and_its_texts() -> None:
    article = ninjs(
        associations=[
            {
                "name": "main",
                "type": "picture",
                "renditions": [
                    {
                        "name": "thumb",
                        "href": "https://img.example.cn/t.jpg",
                        "width": 200,
                        "height": 150,
                        "contenttype": "image/jpeg",
                    },
                    {
                        "name": "original",
                        "href": "https://img.example.cn/o.jpg",
                        "width": 4000,
                        "height": 3000,
                        "contenttype": "image/jpeg",
                    },
                    {
                        "name": "preview",
                        "href": "https://img.example.cn/p.jpg",
                        "width": 800,
                        "height": 600,
                    },
                ],
                "headlines": [{"value": "签约仪式"}],
                "descriptions": [
                    {"role": "caption", "value": "校企签约仪式现场。"},
                    {"role": "alt", "value": "多人在台上握手"},
                ],
                "by": "王莉",
                "copyrightholder": "新华社",
            },
            {"name": "clip", "type": "video", "renditions": [{"href": "https://v/x.mp4"}]},
        ]
    )

    (picture,) = article.images
    assert str(picture.href) == "https://img.example.cn/o.jpg"
    assert (picture.caption, picture.alt, picture.credit) == (
        "校企签约仪式现场。",
        "多人在台上握手",
        "王莉 / 新华社",
    )


def test_ninjs_1_associations_map_is_read_too() -> None:
    article = ninjs(
        associations={
            "featureimage": {
                "type": "picture",
                "renditions": {"baseImage": {"href": "https://img.example.cn/b.jpg"}},
                "description_text": "A signing ceremony.",
                "byline": "Xinhua",
            }
        }
    )

    (picture,) = article.images
    assert (str(picture.href), picture.alt, picture.caption, picture.credit) == (
        "https://img.example.cn/b.jpg",
        "A signing ceremony.",
        "A signing ceremony.",
        "Xinhua",
    )


def test_a_ninjs_picture_that_is_not_http_is_refused_naming_associations() -> None:
    document = NINJS_BASE | {
        "associations": [{"type": "picture", "renditions": [{"href": "file:///etc/passwd"}]}]
    }

    errors = refused(formats.NINJS, document)

    assert [e["field"] for e in errors] == ["associations"]
    assert "http" in errors[0]["message"]


# --- RSS and Atom --------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>新华网</title>
<item><title>一</title><guid>rss-1</guid>
<enclosure url="https://img.example.cn/e.jpg" type="image/jpeg" length="100"/>
<enclosure url="https://audio.example.cn/a.mp3" type="audio/mpeg" length="100"/>
<media:content url="https://img.example.cn/m.jpg" medium="image" width="800" height="600"/>
<media:content url="https://img.example.cn/e.jpg" medium="image"/>
<media:credit>新华社</media:credit>
</item>
<item><title>二</title><guid>rss-2</guid>
<enclosure url="/relative.jpg" type="image/jpeg" length="100"/></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title><id>urn:f</id>
<updated>2024-01-01T00:00:00Z</updated>
<entry><id>urn:atom:1</id><title>一</title><updated>2024-01-01T00:00:00Z</updated>
<link rel="alternate" href="https://news.example.cn/1"/>
<link rel="enclosure" type="image/png" href="https://img.example.cn/a.png" title="会场全景"/>
</entry></feed>"""


def test_rss_enclosures_and_media_content_become_pictures_audio_does_not() -> None:
    first, second = formats.parse_collection(formats.RSS, RSS.encode(), None, 10)

    assert first.article is not None
    assert [(str(i.href), i.credit) for i in first.article.images] == [
        ("https://img.example.cn/e.jpg", "新华社"),
        ("https://img.example.cn/m.jpg", "新华社"),
    ]
    assert second.article is None
    assert [e["field"] for e in second.errors] == ["items.1.images.0.href"]


def test_atom_enclosure_link_becomes_a_picture_with_its_title_as_caption() -> None:
    (entry,) = formats.parse_collection(formats.ATOM, ATOM.encode(), None, 10)

    assert entry.article is not None
    assert [(str(i.href), i.caption) for i in entry.article.images] == [
        ("https://img.example.cn/a.png", "会场全景")
    ]


def test_lead_image_may_name_an_href_as_sent_before_normalizing() -> None:
    article = stored(
        native(
            images=[{"media_id": "u3"}, {"href": "https://img.example.cn"}],
            lead_image="https://img.example.cn",
        )
    )

    assert article.lead is not None
    assert article.lead.source == "https://img.example.cn/"
