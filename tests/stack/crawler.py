"""A link crawler for tests: walk every page of a site reachable from some start pages
(HTML links, assets, feeds and sitemaps alike) and report each internal link that does not
answer 200, with the pages that link to it."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
from lxml import etree, html

# Elements and attributes of a page that make a browser or crawler ask for another URL.
HTML_LINKS = (
    ("a", "href"),
    ("link", "href"),
    ("script", "src"),
    ("img", "src"),
    ("source", "src"),
    ("form", "action"),
    ("aside", "data-fragment"),  # the sidebar pressroom.js loads
)
XML_LINK_TAGS = ("loc", "link", "comments", "guid", "id", "url")
PARSED = ("text/html", "application/xml", "text/xml", "application/rss+xml", "application/atom+xml")


@dataclass
class Crawl:
    """What a walk found: status of every internal URL, and who links to each."""

    origin: str
    status: dict[str, int] = field(default_factory=dict)
    linked_from: dict[str, set[str]] = field(default_factory=dict)

    @property
    def broken(self) -> dict[str, int]:
        return {url: code for url, code in sorted(self.status.items()) if code != 200}

    def report(self) -> str:
        """One line per broken link, naming up to three pages that link to it."""
        lines = []
        for url, code in self.broken.items():
            sources = sorted(self.linked_from.get(url, {"(start)"}))
            lines.append(f"{code} {url} <- {', '.join(sources[:3])}")
        return "\n".join(lines)

    def pages(self, prefix: str = "") -> list[str]:
        return sorted(u for u, c in self.status.items() if c == 200 and u.startswith(prefix))


def crawl(
    client: httpx.Client,
    origin: str,
    starts: Iterable[str],
    *,
    limit: int = 5000,
    threads: int = 8,
) -> Crawl:
    """Breadth-first from `starts` (paths or absolute URLs of `origin`), fetching each
    internal URL once, `threads` at a time; links of HTML, feeds and sitemaps are followed.
    Stops with an AssertionError past `limit` URLs (a site that keeps generating them)."""
    found = Crawl(origin.rstrip("/"))
    queue = deque(u for u in (found_url(found.origin, s, s) for s in starts) if u)
    seen = set(queue)
    with ThreadPoolExecutor(threads) as pool:
        while queue:
            batch = [queue.popleft() for _ in range(min(len(queue), threads * 4))]
            for url, code, links in pool.map(lambda u: fetch(client, u), batch):
                found.status[url] = code
                for link in links:
                    target = found_url(found.origin, url, link)
                    if target is None:
                        continue
                    found.linked_from.setdefault(target, set()).add(url)
                    if target not in seen:
                        seen.add(target)
                        queue.append(target)
            assert len(seen) <= limit, f"more than {limit} URLs: {sorted(seen)[-5:]}"
    return found


def found_url(origin: str, base: str, link: str) -> str | None:
    """The absolute URL of an internal link (fragment dropped), or None for another site,
    a mailto:/tel:/javascript: link or a data: URL."""
    absolute, _ = urldefrag(urljoin(base if "://" in base else origin + "/", link.strip()))
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    return absolute


def fetch(client: httpx.Client, url: str) -> tuple[str, int, list[str]]:
    """(url, status, links it holds); a page that cannot be fetched is status 0."""
    try:
        answer = client.get(url)
    except httpx.HTTPError:
        return url, 0, []
    media = answer.headers.get("content-type", "").split(";")[0].strip()
    if answer.status_code != 200 or media not in PARSED or not answer.content:
        return url, answer.status_code, []
    return url, 200, list(links_in(answer.content, media))


def links_in(body: bytes, media: str) -> Iterator[str]:
    """The URLs a page, feed or sitemap refers to, as written (relative ones included)."""
    if media == "text/html":
        document = html.fromstring(body)
        for tag, attribute in HTML_LINKS:
            for element in document.iter(tag):
                value = element.get(attribute)
                if value and (tag != "form" or element.get("method", "get").lower() == "get"):
                    yield value
        for element in document.xpath("//*[@srcset]"):  # responsive pictures' renditions
            for candidate in str(element.get("srcset")).split(","):
                if candidate.strip():
                    yield candidate.split()[0]
        return
    feed = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    for node in feed.iter():
        if not isinstance(node.tag, str):
            continue
        if node.get("href"):
            yield str(node.get("href"))
        name = etree.QName(node).localname
        if name in XML_LINK_TAGS and node.text and "://" in node.text:
            yield node.text.strip()
