"""Body HTML sanitizing: an allow-list, applied with nh3 (Ammonia) before anything is stored."""

from __future__ import annotations

from html import escape, unescape

import nh3

ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "a", "img", "ul", "ol", "li", "blockquote", "strong", "em",
    "b", "i", "figure", "figcaption", "table", "thead", "tbody", "tr", "th", "td", "caption",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}


def clean_body(html: str) -> str:
    """Keep the allow-listed structure; drop scripts, styles, frames, handlers, bad URLs."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        clean_content_tags={"script", "style", "iframe", "object", "embed", "noscript", "template"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def plain_text(html: str) -> str:
    """Text of an HTML fragment (for summaries and headlines that arrive as HTML)."""
    return unescape(nh3.clean(html, tags=set(), clean_content_tags={"script", "style"})).strip()


def paragraphs(text: str) -> str:
    """Plain text as body HTML: blank lines separate paragraphs; everything is escaped."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{escape(b)}</p>" for b in blocks if b)
