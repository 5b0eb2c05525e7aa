"""What crawlers read about a page beside its text: its meta description and schema.org JSON-LD."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import lxml.etree
import lxml.html
from markupsafe import Markup

from shared.models import Article
from shared.site import SiteConfig
from shared.text import xml_safe

if TYPE_CHECKING:
    from services.render.theme import Theme

JsonObject = dict[str, Any]

DESCRIPTION_CHARS = 120  # about what a search result shows of a Chinese snippet
BODY_PREFIX = 8192
SPACES = re.compile(r"\s+")
# Inside <script> the HTML parser only looks for "</script" (and "<!--"): with every <, >
# and & written as a JSON escape, no text an article carries can end the element early.
SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
LOGO = "logo.png"  # the theme asset that stands for the site: publisher logo, og:image fallback


def page_image(theme: Theme, image: str | None) -> str:
    """Absolute URL of a page's picture (a site path or a URL), else of the site's logo."""
    if image and image.startswith(("https://", "http://")):
        return image
    return theme.absolute(image or theme.asset_url(LOGO))


def article_json_ld(theme: Theme, article: Article, path: str, image: str | None) -> Markup:
    """The article page's JSON-LD: its NewsArticle and its BreadcrumbList (首页 > channel >
    article), as the theme's templates print it."""
    site = theme.site
    page_url = theme.absolute(path)
    channel = site.channel(article.channel)
    section = channel.name if channel else site.article_crumb
    story = news_article(
        article,
        site=site,
        page_url=page_url,
        logo_url=page_image(theme, None),
        image_url=page_image(theme, image) if image else None,
        section=section,
    )
    trail = breadcrumb_list(
        [
            (site.home_label, theme.absolute("")),
            (section, theme.absolute(f"{article.channel}/")),
            (article.title, page_url),
        ]
    )
    return json_ld_script([story, trail])


def article_description(article: Article) -> str:
    """The meta description: the summary, else the first text of the body, shortened."""
    return describe(article.body_html, article.summary)


def describe(body_html: str, summary: str = "") -> str:
    """A page's meta description: `summary`, else the opening text of `body_html`, shortened."""
    text = summary or _body_text(body_html)
    text = SPACES.sub(" ", text).strip()
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
    except (lxml.etree.ParserError, ValueError):
        return ""
    return str(fragment.text_content())


def site_json_ld(theme: Theme) -> Markup:
    """The home page's JSON-LD: the site and the organisation behind it, with its logo."""
    site = theme.site
    home = theme.absolute("")
    data: JsonObject = {
        "@context": "https://schema.org",
        "@type": "WebSite",
        "name": site.name,
        "url": home,
        "inLanguage": site.language,
        "publisher": publisher(site, page_image(theme, None)),
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
    site: SiteConfig,
    page_url: str,
    logo_url: str,
    image_url: str | None,
    section: str,
) -> JsonObject:
    """schema.org NewsArticle: the facts a search engine shows beside the headline."""
    data: JsonObject = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "description": article_description(article),
        "url": page_url,
        "mainEntityOfPage": page_url,
        "datePublished": _iso(article.published_at),
        "dateModified": _iso(article.updated_at or article.published_at),
        "inLanguage": site.language,
        "articleSection": section,
        "publisher": publisher(site, logo_url),
    }
    if article.author:
        data["author"] = {"@type": "Person", "name": article.author}
    if article.editor:
        data["editor"] = {"@type": "Person", "name": article.editor}
    if article.source:
        data["sourceOrganization"] = {"@type": "Organization", "name": article.source}
    if image_url:
        data["image"] = [image_url]
    if article.tags:
        data["keywords"] = article.tags
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


def json_ld_script(data: JsonObject | list[JsonObject]) -> Markup:
    """A <script type="application/ld+json"> holding `data`, safe for any text inside it."""
    text = json.dumps(_printable(data), ensure_ascii=False, separators=(",", ":"))
    return Markup('<script type="application/ld+json">{}</script>').format(
        Markup(text.translate(SCRIPT_ESCAPES))
    )


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
