"""The pictures an incoming article shows: its `images` (and legacy `cover_image`), and
every `<img>` of its sanitized body as an inline picture."""

from __future__ import annotations

from html.parser import HTMLParser

from redis import Redis, RedisError

from services.ingest.schemas import ArticleIn, ImageIn, PictureStatus
from services.media.schemas import PictureState
from services.media.service import picture_ref, pictures
from shared.keys import Keys
from shared.models import Article, ArticleImage

UPLOAD = "media:"


def image_ref(source: str) -> str:
    """The media ref of a picture: an upload is named by its id, a URL by its hash."""
    return source.removeprefix(UPLOAD) if source.startswith(UPLOAD) else picture_ref(source)


def article_images(incoming: ArticleIn, body_html: str) -> tuple[list[ArticleImage], str | None]:
    """The article's pictures (each source once) and the ref of the lead it names, if any."""
    named = list(incoming.images)
    if incoming.cover_image is not None and not any(i.href == incoming.cover_image for i in named):
        named.insert(0, ImageIn(href=incoming.cover_image))
    images: dict[str, ArticleImage] = {}
    for image in named:
        _add(images, _stored(image))
    for src, alt in body_images(body_html):
        _add(images, ArticleImage(ref=image_ref(src), source=src, alt=alt, inline=True))
    lead = next((i for i in named if incoming.lead_image and i.names(incoming.lead_image)), None)
    return list(images.values()), image_ref(lead.source) if lead else None


def _stored(image: ImageIn) -> ArticleImage:
    return ArticleImage(
        ref=image_ref(image.source),
        source=image.source,
        caption=image.caption,
        credit=image.credit,
        alt=image.alt,
        decorative=image.decorative,
    )


def _add(images: dict[str, ArticleImage], image: ArticleImage) -> None:
    """A picture named in `images` and shown in the body too keeps its caption and credit,
    and is inline: the body already shows it."""
    known = images.get(image.ref)
    if known is None:
        images[image.ref] = image
    elif image.inline:
        images[image.ref] = known.model_copy(update={"inline": True, "alt": known.alt or image.alt})


def body_images(body_html: str) -> list[tuple[str, str]]:
    """(src, alt) of each `<img>` of a body whose src is an absolute http(s) URL, in order;
    the sanitizer has already dropped every other scheme, and a relative src cannot be
    fetched (the page leaves such an image out)."""
    finder = _ImageFinder()
    finder.feed(body_html)
    finder.close()
    return finder.found


class _ImageFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        values = dict(attrs)
        src = (values.get("src") or "").strip()
        if src.lower().startswith(("http://", "https://")):
            self.found.append((src, (values.get("alt") or "").strip()))


def picture_states(redis_client: Redis, keys: Keys, article: Article) -> list[PictureStatus]:
    """Each picture of the article as media last recorded it: pending until its first
    fetch is recorded (render requests it), ready, or failed with the reason."""
    lead = article.lead
    refs = [i.ref or image_ref(i.source) for i in article.images]
    try:
        known = pictures(redis_client, keys, refs)
    except RedisError:
        known = {}
    states = []
    for image, ref in zip(article.images, refs, strict=True):
        picture = known.get(ref)
        states.append(
            PictureStatus(
                ref=ref,
                source=image.source,
                state=picture.state if picture else PictureState.pending,
                error=picture.error if picture else None,
                lead=image is lead,
            )
        )
    return states
