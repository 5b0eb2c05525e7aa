"""The XSS corpus, and a check that finds script-capable markup in an HTML page."""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

CORPUS_PATH = Path(__file__).parent / "xss_corpus.json"

# Tags that run script, load active content, or change how the page is read.
DANGEROUS_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "style", "base",
    "form", "input", "svg", "math", "template", "noscript", "marquee", "xml", "isindex",
    "video", "audio", "source", "param", "details", "body", "title", "meta", "link",
}  # fmt: skip
# Attributes that carry script or restyle the page, besides every on* handler.
DANGEROUS_ATTRIBUTES = {
    "style", "srcdoc", "formaction", "background", "dynsrc", "lowsrc", "srcset", "xlink:href",
    "data", "action", "http-equiv",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "poster", "cite"}
SAFE_SCHEMES = {"http", "https", "mailto"}
# Browsers drop these inside a URL's scheme ("jav\tascript:" runs).
IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]+")
# What a URL parser takes for a scheme (WHATWG URL); anything else is a relative URL,
# e.g. "`javascript:..." (a backtick is no quote in HTML5).
URL_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")


def corpus() -> list[dict[str, str]]:
    payloads: list[dict[str, str]] = json.loads(CORPUS_PATH.read_text())["payloads"]
    return payloads


Signature = tuple[str, tuple[str, ...], str]


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[Signature] = Counter()
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DANGEROUS_TAGS:
            src = next((v or "" for n, v in attrs if n == "src"), "") if tag == "script" else ""
            self.tags[(tag, tuple(sorted(n for n, _ in attrs)), src)] += 1
        for name, value in attrs:
            problem = _attribute_problem(name, value or "")
            if problem:
                self.attributes.append(f"<{tag} {problem}>")

    handle_startendtag = handle_starttag


def _attribute_problem(name: str, value: str) -> str:
    if name.startswith("on") or name in DANGEROUS_ATTRIBUTES:
        return name
    if name in URL_ATTRIBUTES:
        scheme = URL_SCHEME.match(IGNORED_IN_URLS.sub("", value).lower())
        if scheme and scheme[1] not in SAFE_SCHEMES:
            return f"{name}={scheme[1]}:"
    return ""


def _scan(html: str) -> _Scanner:
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner


def dangers(html: str, control: str = "") -> list[str]:
    """Script-capable markup in `html` that the clean `control` page (same template, harmless
    article) does not have: extra dangerous tags, handlers, styles, non-web URLs."""
    page, clean = _scan(html), _scan(control)
    extra_tags = [f"<{tag} {' '.join(names)}>" for tag, names, _ in (page.tags - clean.tags)]
    return extra_tags + [a for a in page.attributes if a not in clean.attributes]
