"""From an old site's categories and rows to Pressroom's channels and articles."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import ValidationError

from services.importer.readers.base import SourceArticle, SourceCategory
from services.importer.schemas import CHANNEL_SLUG, ChannelPlan, MappingFile
from services.ingest.schemas import ArticleIn, ImageIn
from shared.site import Channel, SiteConfig

_NOT_SLUG = re.compile(r"[^a-z0-9-]+")


def load_mapping(path: Path | None) -> MappingFile:
    if path is None:
        return MappingFile()
    with path.open("rb") as f:
        return MappingFile.model_validate(tomllib.load(f))


def default_slug(category: SourceCategory) -> str:
    """The last segment of the category's directory, as a channel slug (`c<id>` when that
    leaves nothing usable, e.g. a Chinese directory name)."""
    last = category.directory.rstrip("/").rsplit("/", 1)[-1].lower()
    slug = _NOT_SLUG.sub("-", last).strip("-")[:40].strip("-")
    return slug if re.fullmatch(CHANNEL_SLUG, slug) else f"c{category.source_id}"


def plan_channels(
    categories: list[SourceCategory], mapping: MappingFile, site: SiteConfig
) -> list[ChannelPlan]:
    plans = []
    for category in categories:
        chosen = mapping.channels.get(category.source_id)
        if chosen is None:
            chosen = mapping.channels.get(category.directory)
        slug = default_slug(category) if chosen is None else chosen
        if slug and not re.fullmatch(CHANNEL_SLUG, slug):
            raise ValueError(f"category {category.source_id}: {slug!r} is not a channel slug")
        known = site.channel(slug) if slug else None
        title = known.name if known else mapping.names.get(slug, category.name)
        plans.append(
            ChannelPlan(
                category_id=category.source_id,
                category_name=category.name,
                directory=category.directory,
                slug=slug,
                title=title,
                new=bool(slug) and known is None,
            )
        )
    return plans


def with_channels(site: SiteConfig, plans: list[ChannelPlan]) -> SiteConfig:
    """The site with the plan's new channels added (out of the nav: an editor chooses)."""
    added = {p.slug: Channel(slug=p.slug, name=p.title, in_nav=False) for p in plans if p.new}
    return site.model_copy(update={"channels": [*site.channels, *added.values()]})


def add_channels_to_file(path: Path, plans: list[ChannelPlan]) -> list[str]:
    """Write the new channels into the site file's `channels = [...]` list, keeping the
    rest of the file as it is; returns the lines added. Raises when the file cannot take
    them (read-only, or written another way): the operator adds them by hand."""
    lines = channel_lines(plans)
    if not lines:
        return []
    text = path.read_text(encoding="utf-8")
    found = re.search(r"^channels\s*=\s*\[\s*\n(?P<body>.*?)^\]", text, re.M | re.S)
    if found is None:
        raise ValueError(f"{path} has no `channels = [` list to add to")
    updated = text[: found.end("body")] + "".join(f"{line}\n" for line in lines)
    updated += text[found.end("body") :]
    site = SiteConfig.model_validate(tomllib.loads(updated))
    missing = [p.slug for p in plans if p.new and site.channel(p.slug) is None]
    if missing:
        raise ValueError(f"{path}: could not add channels {missing}")
    path.write_text(updated, encoding="utf-8")
    return lines


def channel_lines(plans: list[ChannelPlan]) -> list[str]:
    seen: dict[str, str] = {}
    for plan in plans:
        if plan.new:
            seen.setdefault(plan.slug, plan.title)
    escaped = {
        slug: title.replace("\\", "\\\\").replace('"', '\\"') for slug, title in seen.items()
    }
    return [
        f'  {{ slug = "{slug}", name = "{title}", in_nav = false }},'
        for slug, title in escaped.items()
    ]


def article_in(source: SourceArticle, channel: str) -> ArticleIn | str:
    """The article as a feed would send it, or why it cannot be one (each bad field)."""
    images = []
    if source.lead_image:
        try:
            images = [ImageIn.model_validate({"href": source.lead_image})]
        except ValidationError:
            images = []  # a lead picture the pipeline cannot fetch is not worth the article
    fields = {
        "external_id": source.source_id,
        "title": _text(source.title)[:300],
        "body_html": _text(source.body_html),
        "summary": _text(source.description)[:2000],
        "source": _text(source.source)[:100],
        "author": _text(source.author)[:100],
        "editor": _text(source.writer)[:100],
        "channel": channel,
        "tags": [_text(t)[:100] for t in source.tags][:50],
        "headline": source.headline,
        "published_at": source.published_at,
        "images": images,
    }
    try:
        return ArticleIn.model_validate(fields)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _text(value: str) -> str:
    """Text a page can carry: bytes the dump's charset could not decode become U+FFFD."""
    return value.encode("utf-8", "replace").decode("utf-8")
