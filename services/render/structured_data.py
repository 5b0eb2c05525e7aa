"""What crawlers read about a page beside its text: its meta description and schema.org JSON-LD."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import lxml.etree
import lxml.html
import orjson
from markupsafe import Markup

from shared.models import Article
from shared.site import SiteConfig
from shared.text import Printed, xml_safe

if TYPE_CHECKING:
    from services.render.theme import Theme

JsonObject = dict[str, Any]

DESCRIPTION_CHARS = 120  # about what a search result shows of a Chinese snippet
BODY_PREFIX = 8192
# Inside <script> the HTML parser only looks for "</script" (and "<!--"): with every <, >
# and & written as a JSON escape, no text an article carries can end the element early.
SCRIPT_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))
LOGO = "logo.png"  # the theme asset that stands for the site: publisher logo, og:image fallback


def page_image(theme: Theme, image: str | None) -> str:
    """Absolute URL of a page's picture (a site path or a URL), else of the site's logo."""
    if not image:
        return theme.site_facts.logo_url
    if image.startswith(("https://", "http://")):
        return image
    return theme.absolute(image)


@dataclass(frozen=True)
class SiteFacts:
    """What every page's JSON-LD says of the site, built once per theme: an article page
    then only adds what is its own."""

    home_label: str
    home_url: str
    logo_url: str
    language: str
    publisher: JsonObject
    sections: dict[str, tuple[str, str]]
    """channel slug -> (its name, its index's absolute URL)"""
    crumb: str
    """The section an article of an unknown channel is filed under."""

    @classmethod
    def of(cls, theme: Theme) -> SiteFacts:
        site = theme.site
        logo_url = theme.absolute(theme.asset_url(LOGO))
        return cls(
            home_label=xml_safe(site.home_label),
            home_url=xml_safe(theme.absolute("")),
            logo_url=xml_safe(logo_url),
            language=xml_safe(site.language),
            publisher=_printable(publisher(site, logo_url)),
            sections={
                c.slug: (xml_safe(c.name), xml_safe(theme.absolute(f"{c.slug}/")))
                for c in site.channels
            },
            crumb=xml_safe(site.article_crumb),
        )

    def section(self, theme: Theme, channel: str) -> tuple[str, str]:
        known = self.sections.get(channel)
        return known or (self.crumb, xml_safe(theme.absolute(f"{channel}/")))


def article_json_ld(
    theme: Theme,
    article: Article,
    path: str,
    image: str | None,
    description: str | None = None,
) -> Markup:
    """The article page's JSON-LD: its NewsArticle and its BreadcrumbList (首页 > channel >
    article), as the theme's templates print it; `description` is the page's meta
    description when the template has it already."""
    facts = theme.site_facts
    page_url = xml_safe(theme.absolute(path))
    section, section_url = facts.section(theme, article.channel)
    story = news_article(
        article,
        facts=facts,
        page_url=page_url,
        image_url=xml_safe(page_image(theme, image)) if image else None,
        section=section,
        description=article_description(article) if description is None else description,
    )
    title = xml_safe(article.title)
    trail = breadcrumb_list(
        [
            (facts.home_label, facts.home_url),
            (section, section_url),
            (title, page_url),
        ]
    )
    return json_ld_script([story, trail], printable=True)


def article_description(article: Article) -> str:
    """The meta description: the summary, else the first text of the body, shortened."""
    return describe(article.body_html, article.summary)


def describe(body_html: str, summary: str = "") -> str:
    """A page's meta description: `summary`, else the opening text of `body_html`, shortened."""
    text = summary or _body_text(body_html)
    text = " ".join(text.split())  # every run of whitespace one space, none at the ends
    if len(text) > DESCRIPTION_CHARS:
        text = text[: DESCRIPTION_CHARS - 1].rstrip() + "…"
    return text


def _body_text(body_html: str) -> str:
    """The text at the start of a body: its opening part is parsed, which holds far more
    than a description needs, so a long body costs no more than a short one."""
    opening = xml_safe(body_html[:BODY_PREFIX])
    if not opening.strip():
        return ""
    try:
        fragment = lxml.html.fragment_fromstring(opening, create_parent="div")
    # lxml asserts on some documents (an <html> after a comment): no description then,
    # never a page that fails
    except (lxml.etree.ParserError, ValueError, AssertionError):
        return ""
    return str(fragment.text_content())


def site_json_ld(theme: Theme) -> Markup:
    """The home page's JSON-LD: the site and the organisation behind it, with its logo."""
    site = theme.site
    facts = theme.site_facts
    data: JsonObject = {
        "@context": "https://schema.org",
        "@type": "WebSite",
        "name": site.name,
        "url": facts.home_url,
        "inLanguage": site.language,
        "publisher": facts.publisher,
    }
    if site.description:
        data["description"] = site.description
    return json_ld_script(data)


def publisher(site: SiteConfig, logo_url: str) -> JsonObject:
    return {
        "@type": "Organization",
        "name": site.name,
        "url": site.base_url.rstrip("/") + "/",
        "logo": {"@type": "ImageObject", "url": logo_url},
    }


def news_article(
    article: Article,
    *,
    facts: SiteFacts,
    page_url: str,
    image_url: str | None,
    section: str,
    description: str,
) -> JsonObject:
    """schema.org NewsArticle: the facts a search engine shows beside the headline. Every
    text is printable already: the site's from `facts`, the article's made so here."""
    data: JsonObject = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": xml_safe(article.title),
        "description": xml_safe(description),
        "url": page_url,
        "mainEntityOfPage": page_url,
        "datePublished": _iso(article.published_at),
        "dateModified": _iso(article.updated_at or article.published_at),
        "inLanguage": facts.language,
        "articleSection": section,
        "publisher": facts.publisher,
    }
    if article.author:
        data["author"] = {"@type": "Person", "name": xml_safe(article.author)}
    if article.editor:
        data["editor"] = {"@type": "Person", "name": xml_safe(article.editor)}
    if article.source:
        data["sourceOrganization"] = {"@type": "Organization", "name": xml_safe(article.source)}
    if image_url:
        data["image"] = [image_url]
    if article.tags:
        data["keywords"] = [xml_safe(t) for t in article.tags]
    return data


def breadcrumb_list(crumbs: list[tuple[str, str]]) -> JsonObject:
    """schema.org BreadcrumbList of (name, absolute URL), outermost first."""
    return {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": n, "name": name, "item": url}
            for n, (name, url) in enumerate(crumbs, start=1)
        ],
    }


def json_ld_script(data: JsonObject | list[JsonObject], *, printable: bool = False) -> Printed:
    """A <script type="application/ld+json"> holding `data`, safe for any text inside it;
    `printable` says every text in `data` is free of what XML 1.0 forbids already."""
    text = orjson.dumps(data if printable else _printable(data))
    for char, escape in SCRIPT_ESCAPES:
        text = text.replace(char, escape)
    return Printed(f'<script type="application/ld+json">{text.decode()}</script>')


def _printable(value: Any) -> Any:
    """`value` without what XML 1.0 forbids, as the theme prints every other value."""
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
