"""Pictures on the pages: what media has ready for an article, as `<picture>` elements from
the site bucket. A picture not ready yet is left out; readers never load an upstream URL."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from markupsafe import Markup
from redis.typing import EncodableT, FieldT

from services.ingest.pictures import body_images, image_ref
from services.media.schemas import Picture, PictureState, Rendition
from services.media.service import pictures, request_pictures, unlink_article
from services.render.context import Entry, RenderContext
from shared.models import Article, ArticleImage

MIME = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}
# Modern formats first: the browser takes the first <source> whose type it supports.
MODERN = ("avif", "webp")
# nh3 writes every attribute double-quoted, so a tag ends at the first ">" outside quotes.
IMG_TAG = re.compile(r'<img\b(?:[^>"]|"[^"]*")*>', re.IGNORECASE)
ATTRIBUTE = re.compile(r'([a-zA-Z-]+)="([^"]*)"')

Pictures = Mapping[str, Picture]
# A list's thumbnail is at most 128 CSS pixels wide: 640 covers a 3x screen.
THUMBNAIL_WIDEST = 640


@dataclass(frozen=True)
class PictureView:
    """One ready picture as the `_picture.html.j2` macro prints it."""

    sources: tuple[tuple[str, str], ...]  # (MIME type, srcset) of each modern format
    src: str  # the JPEG fallback
    srcset: str
    width: int
    height: int
    alt: str
    caption: str = ""
    credit: str = ""
    lead: bool = False


def ref_of(image: ArticleImage) -> str:
    return image.ref or image_ref(image.source)


def with_body_pictures(article: Article) -> Article:
    """The article with every `<img>` of its body among its pictures: documents stored
    before ingest listed them would otherwise lose their inline pictures from the page."""
    if "<img" not in article.body_html:
        return article
    known = {i.source for i in article.images}
    missing = [
        ArticleImage(ref=image_ref(src), source=src, alt=alt, inline=True)
        for src, alt in dict(body_images(article.body_html)).items()
        if src not in known
    ]
    if not missing:
        return article
    return article.model_copy(update={"images": [*article.images, *missing]})


def prepare(ctx: RenderContext, article: Article, had_pictures: bool) -> dict[str, Picture]:
    """Link the article to its pictures (queueing what media has not fetched) and read their
    states. Linking first: a picture that turns ready after the read then finds the article
    among its own and re-renders it. An article that shows no picture, now or before,
    costs nothing."""
    if not article.images and not had_pictures:
        return {}
    sources = {ref_of(i): i.source for i in article.images}
    request_pictures(ctx.redis, ctx.keys, article.id, sources)
    return pictures(ctx.redis, ctx.keys, list(sources)) if sources else {}


def release(ctx: RenderContext, article_id: str, had_pictures: bool) -> None:
    """An unpublished or killed article lets go of its pictures (other articles keep them)."""
    if had_pictures:
        unlink_article(ctx.redis, ctx.keys, article_id)


def states(ctx: RenderContext, refs: list[str]) -> dict[str, Picture]:
    """Picture records for many refs in one round trip (none asked, none sent)."""
    return pictures(ctx.redis, ctx.keys, sorted(set(refs))) if refs else {}


def view(
    image: ArticleImage | None,
    found: Pictures,
    *,
    lead: bool = False,
    title: str = "",
    widest: int | None = None,
) -> PictureView | None:
    """The picture as the page shows it, if media has its renditions ready; `widest` leaves
    out the renditions a small slot never needs (the narrowest always stays)."""
    picture = found.get(ref_of(image)) if image else None
    if image is None or picture is None or picture.state != PictureState.ready:
        return None
    renditions = _at_most(picture.renditions, widest)
    jpeg = _widest_first([r for r in renditions if r.format == "jpeg"])
    if not jpeg:
        return None
    sources = tuple(
        (MIME[kind], _srcset([r for r in renditions if r.format == kind]))
        for kind in MODERN
        if any(r.format == kind for r in renditions)
    )
    return PictureView(
        sources=sources,
        src=_fallback(jpeg).url,
        srcset=_srcset(jpeg),
        width=jpeg[0].width,
        height=jpeg[0].height,
        alt=alt_text(image, title),
        caption=image.caption,
        credit=image.credit,
        lead=lead,
    )


def alt_text(image: ArticleImage, title: str) -> str:
    """The feed's description, else the caption, else the article's title: empty only for a
    picture the feed calls decorative."""
    return "" if image.decorative else (image.alt or image.caption or title)


def og_image(article: Article, found: Pictures) -> str | None:
    """Site path of the lead picture's largest JPEG, for og:image (the theme makes it
    absolute)."""
    picture = found.get(ref_of(article.thumbnail)) if article.thumbnail else None
    if picture is None or picture.state != PictureState.ready:
        return None
    jpeg = _widest_first([r for r in picture.renditions if r.format == "jpeg"])
    return jpeg[0].url if jpeg else None


def body_with_pictures(
    body_html: str, article: Article, found: Pictures, render: Callable[[PictureView], str]
) -> Markup:
    """The sanitized body with each `<img>` replaced by its ready `<picture>`, and left out
    while it is not ready (or could never be: a relative src)."""
    by_source = {i.source: i for i in article.images}

    def swap(match: re.Match[str]) -> str:
        attributes = {k.lower(): html.unescape(v) for k, v in ATTRIBUTE.findall(match.group(0))}
        image = by_source.get(attributes.get("src", "").strip())
        shown = view(image, found, title=article.title)
        return render(shown) if shown else ""

    return Markup(IMG_TAG.sub(swap, body_html))  # already sanitized by ingest


def _at_most(renditions: list[Rendition], widest: int | None) -> list[Rendition]:
    if widest is None or not renditions:
        return renditions
    narrowest = min(r.width for r in renditions)
    return [r for r in renditions if r.width <= max(widest, narrowest)]


def _widest_first(renditions: list[Rendition]) -> list[Rendition]:
    return sorted(renditions, key=lambda r: r.width, reverse=True)


def _srcset(renditions: list[Rendition]) -> str:
    return ", ".join(f"{r.url} {r.width}w" for r in sorted(renditions, key=lambda r: r.width))


def _fallback(jpeg: list[Rendition]) -> Rendition:
    """For browsers without srcset: a middle width, not the largest download."""
    fitting = [r for r in jpeg if r.width <= 960]
    return fitting[0] if fitting else jpeg[-1]


# --- lists: thumbnails beside entries ------------------------------------------------------


def thumbnail_fields(article: Article) -> dict[FieldT, EncodableT]:
    """What lists need of the article's thumbnail, kept in its Redis hash: the ref and its
    alt text (empty ref: no picture)."""
    image = article.thumbnail
    if image is None:
        return {"picture": "", "picture_alt": ""}
    alt = alt_text(image, article.title)
    return {"picture": ref_of(image), "picture_alt": alt}


def add_thumbnails(
    ctx: RenderContext, groups: list[list[Entry]], widest: int | None = THUMBNAIL_WIDEST
) -> list[list[Entry]]:
    """The same lists, each entry with its ready thumbnail (renditions up to `widest`): two
    round trips for them all, one when no entry has a picture."""
    ids = sorted({e.id for group in groups for e in group})
    if not ids:
        return groups
    pipe = ctx.redis.pipeline(transaction=False)
    for aid in ids:
        pipe.hmget(ctx.keys.article(aid), "picture", "picture_alt")
    named = {
        aid: (ref, alt or "") for aid, (ref, alt) in zip(ids, pipe.execute(), strict=True) if ref
    }
    found = states(ctx, [ref for ref, _ in named.values()])
    shown = {
        aid: view(
            ArticleImage(ref=ref, source="", alt=alt, decorative=not alt), found, widest=widest
        )
        for aid, (ref, alt) in named.items()
    }
    return [[replace(e, thumbnail=shown.get(e.id)) for e in group] for group in groups]


def link_pictures(ctx: RenderContext, articles: list[Article]) -> None:
    """Link published articles to their pictures again (a reindex after Redis lost its
    data): media fetches what it no longer has a record of, and render.pictures_ready
    brings the pictures back to the pages."""
    for article in articles:
        if article.images:
            request_pictures(
                ctx.redis, ctx.keys, article.id, {ref_of(i): i.source for i in article.images}
            )
