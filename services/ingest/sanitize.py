"""Body HTML sanitizing: an allow-list, applied with nh3 (Ammonia) before anything is stored."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
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


@dataclass(frozen=True)
class BodyLimits:
    """What one body_html may ask of the sanitizer (IngestSettings.body_max_*)."""

    depth: int
    elements: int
    references: int
    growth: float  # how many times its own size the sanitized body may be (past GROWTH_ALLOWANCE)
    size: int  # bytes the sanitized body may never exceed

    def growth_problem(self, html: str, cleaned_length: int) -> str | None:
        """Why a body that sanitizes to `cleaned_length` characters is too large, if it is."""
        allowed = min(self.size, max(self.growth * len(html), len(html) + GROWTH_ALLOWANCE))
        if cleaned_length > allowed:
            return f"would become {cleaned_length} characters once sanitized; at most {allowed:.0f}"
        return None


# Room for what sanitizing adds to a small body (a few links' rel attributes), so that the
# growth limit is about bodies built to grow, not about short ones.
GROWTH_ALLOWANCE = 64 * 1024
# What the sanitizer adds to each <a>: rel="noopener noreferrer nofollow".
REL_ADDED = len(' rel="noopener noreferrer nofollow"')


# The HTML tokenizer's own rule: "<" then an ASCII letter opens a tag, "</" and a letter
# closes one; anything else is text.
TAG = re.compile(r"<(/?)([A-Za-z][^\t\n\f\r />]*)")
# An "&" that cannot start a character reference: written back as "&amp;".
BARE_AMPERSAND = re.compile(r"&(?![#A-Za-z])")
# Markup that starts a new text node ("<" followed by a tag, a comment or a declaration).
NODE_BREAK = re.compile(r"<[A-Za-z/!?]")
VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "keygen",
}  # fmt: skip
# Formatting elements an HTML parser re-opens ("reconstructs") in every later block when
# they were closed implicitly: the way a short body becomes millions of elements.
FORMATTING = {
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong",
    "tt", "u",
}  # fmt: skip
# Start tags that close an open <p> (HTML's "close a p element"), and elements that stop the
# search for an implied end tag (a simplified "scope").
CLOSES_P = {
    "address", "article", "aside", "blockquote", "details", "div", "dl", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "main", "menu", "nav", "ol", "p", "pre", "section", "table", "ul",
}  # fmt: skip
SCOPE = {"table", "td", "th", "caption", "html", "applet", "marquee", "object", "template"}
IMPLIED_BY = {
    "li": ({"li"}, SCOPE | {"ul", "ol"}),
    "dt": ({"dt", "dd"}, SCOPE | {"dl"}),
    "dd": ({"dt", "dd"}, SCOPE | {"dl"}),
    "tr": ({"tr"}, {"table"}),
    "td": ({"td", "th"}, {"table", "tr"}),
    "th": ({"td", "th"}, {"table", "tr"}),
    "option": ({"option"}, {"select"}),
}


class BodyTooComplex(ValueError):
    """body_html would cost the sanitizer more than its limits allow; says which limit."""


class BodyTooLarge(ValueError):
    """body_html would grow past its limits once sanitized; says by how much."""


def check_body(html: str, limits: BodyLimits) -> None:
    """Refuse a body whose sanitizing would cost more than the limits allow, in time linear in
    its length: a scan of its tags (an upper bound of what an HTML parser builds), not a parse.
    """
    if html.count("&") > limits.references:
        longest = max(run.count("&") for run in NODE_BREAK.split(html))
        if longest > limits.references:
            raise BodyTooComplex(
                f"{longest} character references in one text run; at most {limits.references}"
            )
    tags = TAG.findall(html)
    if len(tags) > 2 * limits.elements:
        raise BodyTooComplex(f"{len(tags)} tags; at most {2 * limits.elements}")
    _Tree(limits).walk(tags)
    # Known before sanitizing: a "<" or ">" that is not markup is escaped (3 more characters)
    # and every link gains a rel attribute.
    links = sum(1 for slash, name in tags if not slash and name.lower() == "a")
    text_brackets = html.count("<") + html.count(">") - 2 * len(tags)
    bare_ampersands = len(BARE_AMPERSAND.findall(html))
    estimate = len(html) + 3 * max(0, text_brackets) + 4 * bare_ampersands + REL_ADDED * links
    problem = limits.growth_problem(html, estimate)
    if problem:
        raise BodyTooLarge(problem)


def clean_body_within(html: str, limits: BodyLimits) -> str:
    """clean_body, for a body that passed check_body; refuses what still grows too far."""
    cleaned = clean_body(html)
    problem = limits.growth_problem(html, len(cleaned))
    if problem is None and len(cleaned.encode()) > limits.size:
        problem = f"would be {len(cleaned.encode())} bytes once sanitized; at most {limits.size}"
    if problem:
        raise BodyTooLarge(problem)
    return cleaned


class _Tree:
    """The stack of open elements as an HTML parser would keep it, roughly and never smaller:
    enough to bound the depth and the element count."""

    def __init__(self, limits: BodyLimits) -> None:
        self.limits = limits
        self.open: list[str] = []
        self.opened: Counter[str] = Counter()  # how many of each name are in `open`
        self.closed_formatting: list[str] = []  # implicitly closed, re-opened by the next tag
        self.elements = 0

    def walk(self, tags: list[tuple[str, str]]) -> None:
        for slash, raw in tags:
            name = raw.lower()
            if slash:
                self.end(name)
            else:
                self.start(name)
        self.count(len(self.closed_formatting))

    def start(self, name: str) -> None:
        inline = name in FORMATTING or name in VOID
        if inline:  # re-opened around the new element...
            self.reconstruct()
        if name in CLOSES_P:
            self.close_in_scope({"p"}, SCOPE | {"button"})
        if name in IMPLIED_BY:
            self.close_in_scope(*IMPLIED_BY[name])
        if name in ("a", "nobr"):  # a link inside a link closes the first one for good
            self.close_in_scope({name}, SCOPE, formatting=name)
        self.count(1)
        if name not in VOID:
            self.open.append(name)
            self.opened[name] += 1
            if len(self.open) > self.limits.depth:
                raise BodyTooComplex(f"nested more than {self.limits.depth} elements deep")
        if not inline:  # ...or inside it, by the text it holds
            self.reconstruct()

    def end(self, name: str) -> None:
        if name in FORMATTING and name in self.closed_formatting:
            self.closed_formatting.reverse()
            self.closed_formatting.remove(name)
            self.closed_formatting.reverse()
            return
        if not self.opened[name]:
            return
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index] == name:
                self.pop_to(index, formatting=name)
                return

    def close_in_scope(self, names: set[str], barriers: set[str], formatting: str = "") -> None:
        if not any(self.opened[name] for name in names):
            return
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index] in names:
                self.pop_to(index, formatting)
                return
            if self.open[index] in barriers:
                return

    def pop_to(self, index: int, formatting: str = "") -> None:
        """Close open[index] and everything inside it; formatting elements closed on the way
        (not the one named by an explicit end tag) are re-opened later."""
        for name in self.open[index + 1 :]:
            if name in FORMATTING:
                self.closed_formatting.append(name)
        if self.open[index] in FORMATTING and self.open[index] != formatting:
            self.closed_formatting.append(self.open[index])
        self.opened.subtract(self.open[index:])
        del self.open[index:]

    def reconstruct(self) -> None:
        if self.closed_formatting:
            self.count(len(self.closed_formatting))
            self.open.extend(self.closed_formatting)
            self.opened.update(self.closed_formatting)
            self.closed_formatting.clear()
            if len(self.open) > self.limits.depth:
                raise BodyTooComplex(f"nested more than {self.limits.depth} elements deep")

    def count(self, elements: int) -> None:
        self.elements += elements
        if self.elements > self.limits.elements:
            raise BodyTooComplex(f"more than {self.limits.elements} elements")
