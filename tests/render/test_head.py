"""What a crawler and a link preview read in <head>: description, canonical, Open Graph,
Twitter card, and JSON-LD that is valid schema.org and survives any text an article holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from schema_org import registry

from services.render.articles import Neighbours, article_page
from services.render.search.page import render_search_page
from services.render.site_files import publish_site_files
from services.render.site_pages import render_site_page
from services.render.structured_data import DESCRIPTION_CHARS, article_description, describe
from services.render.theme import Theme
from shared.models import Article
from shared.site import load_site
from shared.site_pages import SitePage, page_key
from shared.text import xml_safe
from tests.render.conftest import Newsroom

SITE = load_site(Path(__file__).resolve().parents[2] / "config" / "site.toml")
BASE = SITE.base_url.rstrip("/")
WHEN = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


class Head(HTMLParser):
    """Meta tags, canonical and JSON-LD scripts, parsed as a browser's tokenizer would:
    a script's text ends at the first `</script`, whatever JSON it was meant to hold."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.canonical: list[str] = []
        self.json_ld: list[str] = []
        self._in_json_ld = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in found or "name" in found):
            key = found.get("property") or found["name"]
            assert key not in self.meta, f"{key} given twice"
            self.meta[key] = found.get("content", "")
        elif tag == "link" and found.get("rel") == "canonical":
            self.canonical.append(found["href"])
        elif tag == "script" and found.get("type") == "application/ld+json":
            self._in_json_ld = True
            self.json_ld.append("")

    def handle_data(self, data: str) -> None:
        if self._in_json_ld:
            self.json_ld[-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_json_ld = False

    def structured(self) -> dict[str, dict[str, Any]]:
        """The JSON-LD objects by @type."""
        nodes = [node for text in self.json_ld for node in _as_list(json.loads(text))]
        return {node["@type"]: node for node in nodes}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- schema.org --------------------------------------------------------------------------

TEXTUAL = {"Text", "URL", "Date", "DateTime", "Time"}


def schema_problems(node: Any, where: str = "$") -> list[str]:
    """Where `node` breaks the schema.org vocabulary: a type that does not exist, a property
    its type (or any type it inherits from) does not have, a value outside the property's
    range."""
    if isinstance(node, list):
        return [p for n, item in enumerate(node) for p in schema_problems(item, f"{where}[{n}]")]
    kind = node.get("@type")
    if kind not in registry.CLASS_METADATA:
        return [f"{where}: no schema.org type {kind!r}"]
    lineage = {kind, *registry.ancestry(kind)}
    problems: list[str] = []
    for key, value in node.items():
        if key.startswith("@"):
            continue
        prop = registry.PROPERTY_BY_SCHEMA.get(key)
        if prop is None:
            problems.append(f"{where}.{key}: no schema.org property")
        elif not lineage & set(prop.domains):
            problems.append(f"{where}.{key}: not a property of {kind} (domains {prop.domains})")
        else:
            for n, item in enumerate(_as_list(value)):
                problems += _range_problems(item, prop.ranges, f"{where}.{key}[{n}]")
    return problems


def _range_problems(value: Any, ranges: tuple[str, ...], where: str) -> list[str]:
    if isinstance(value, dict):
        kind = value.get("@type", "")
        if not {kind, *registry.ancestry(kind)} & set(ranges):
            return [f"{where}: a {kind} where {ranges} is expected"]
        return schema_problems(value, where)
    if isinstance(value, bool):
        return [] if "Boolean" in ranges else [f"{where}: a Boolean where {ranges} is expected"]
    if isinstance(value, int):
        fits = {"Integer", "Number"} & set(ranges)
        return [] if fits else [f"{where}: a number where {ranges} is expected"]
    if not isinstance(value, str):
        return [f"{where}: {value!r} is no JSON-LD value"]
    if ranges_of_dates := {"Date", "DateTime"} & set(ranges):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return [f"{where}: {value!r} is no {ranges_of_dates}"]
        return []
    is_url = value.startswith(("https://", "http://"))
    # schema.org lets a URL stand for any entity, and text for a URL only where Text fits
    if "Text" in ranges or (is_url and (set(ranges) - TEXTUAL or "URL" in ranges)):
        return []
    return [f"{where}: {value!r} where {ranges} is expected"]


@pytest.mark.unit
def test_the_checker_refuses_what_schema_org_does_not_define() -> None:
    assert schema_problems({"@type": "NewsArticle", "headline": "x"}) == []
    assert schema_problems({"@type": "NewsArticel"}) == ["$: no schema.org type 'NewsArticel'"]
    assert schema_problems({"@type": "Person", "headline": "x"})  # a CreativeWork property
    assert schema_problems({"@type": "NewsArticle", "title": "x"})  # no such property
    assert schema_problems({"@type": "NewsArticle", "datePublished": "yesterday"})
    assert schema_problems({"@type": "NewsArticle", "publisher": {"@type": "ImageObject"}})
    assert schema_problems(
        {"@type": "NewsArticle", "publisher": {"@type": "Organization", "logo": 3}}
    )


# --- the article page, as render.article builds it ------------------------------------------

THEME = Theme(SITE)
ArticleHead = Callable[..., Head]


def article(**fields: Any) -> Article:
    values: dict[str, Any] = {
        "id": "a" * 20,
        "feed": "desk",
        "external_id": "story",
        "version": 1,
        "title": "教育部:推动高校支撑服务企业",
        "body_html": "<p>总台记者今天从教育部获悉。</p>",
        "channel": "news",
        "published_at": WHEN,
        "received_at": WHEN,
    }
    return Article.model_validate(values | fields)


@pytest.fixture
def article_head(newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch) -> ArticleHead:
    """The head of an article's page as the pipeline renders it; `og_image` stands in for the
    lead picture the media pipeline would have found."""
    ctx = newsroom.ctx

    def head(story: Article, **picture: str | None) -> Head:
        if picture:
            monkeypatch.setattr(ctx, "render", lambda t, **c: ctx.theme.render(t, **c | picture))
        page = article_page(
            ctx, story, f"news/202403/{story.id}.html", Neighbours(None, None), Markup("")
        )
        return Head(page.decode())

    return head


def test_article_json_ld_is_valid_schema_org_with_every_fact(article_head: ArticleHead) -> None:
    updated = WHEN + timedelta(hours=3)
    story = article(
        author="张三", editor="单思月", source="央视新闻", updated_at=updated, tags=["教育"]
    )
    head = article_head(story)

    found = head.structured()
    assert set(found) == {"NewsArticle", "BreadcrumbList"}
    assert schema_problems(list(found.values())) == []
    news = found["NewsArticle"]
    page_url = f"{BASE}/news/202403/{story.id}.html"
    assert news["headline"] == story.title
    assert news["mainEntityOfPage"] == page_url
    assert datetime.fromisoformat(news["datePublished"]) == WHEN
    assert datetime.fromisoformat(news["dateModified"]) == updated
    assert news["author"] == {"@type": "Person", "name": "张三"}
    assert news["editor"] == {"@type": "Person", "name": "单思月"}
    assert news["publisher"]["name"] == SITE.name
    assert news["publisher"]["logo"]["url"] == BASE + THEME.asset_url("logo.png")
    assert "image" not in news  # no picture: the logo stands in for og:image only
    crumbs = [
        (c["position"], c["name"], c["item"]) for c in found["BreadcrumbList"]["itemListElement"]
    ]
    assert crumbs == [
        (1, "首页", f"{BASE}/"),
        (2, "新闻动态", f"{BASE}/news/"),
        (3, story.title, page_url),
    ]


def test_without_an_update_the_article_was_last_modified_when_published(
    article_head: ArticleHead,
) -> None:
    news = article_head(article()).structured()["NewsArticle"]
    assert news["dateModified"] == news["datePublished"]
    assert "author" not in news
    assert "editor" not in news


@pytest.mark.parametrize(
    "picture",
    ["/media/ab/lead.1200.jpg", "https://img.example.cn/lead.jpg"],
)
def test_a_lead_picture_makes_a_large_card_and_the_json_ld_image(
    article_head: ArticleHead, picture: str
) -> None:
    head = article_head(article(), og_image=picture)
    absolute = picture if picture.startswith("https://") else BASE + picture

    assert head.meta["og:image"] == absolute
    assert head.meta["twitter:card"] == "summary_large_image"
    assert head.structured()["NewsArticle"]["image"] == [absolute]


def test_without_a_picture_the_card_is_small_and_shows_the_logo(article_head: ArticleHead) -> None:
    head = article_head(article(), og_image=None)
    assert head.meta["og:image"] == BASE + THEME.asset_url("logo.png")
    assert head.meta["twitter:card"] == "summary"


@pytest.mark.parametrize(
    ("summary", "body", "described"),
    [
        ("一句摘要", "<p>正文</p>", "一句摘要"),
        ("", "<p>第一段<b>重点</b>。</p>\n<p>第二段</p>", "第一段重点。\n第二段"),
        ("", "<figure><img src='/a.jpg' alt=''></figure><p> 正文 </p>", "正文"),
        ("", "", ""),
        ("长" * 300, "", "长" * 119 + "…"),
    ],
)
def test_the_description_is_the_summary_or_the_body_opening(
    article_head: ArticleHead, summary: str, body: str, described: str
) -> None:
    story = article(summary=summary, body_html=body)
    head = article_head(story)
    expected = " ".join(described.split())
    assert article_description(story) == expected
    assert head.meta["description"] == (expected or SITE.description)
    assert head.meta["og:description"] == head.meta["description"]


@pytest.mark.unit
@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        st.text(alphabet="<>/!-= htmlbodyscriptp中文", max_size=80),
        st.sampled_from(["<html><!-- c --><script>x</script>", "<html><!--x--><html>"]),
    )
)
def test_any_stored_body_gives_a_description_not_a_failed_page(body: str) -> None:
    assert len(describe(body)) <= DESCRIPTION_CHARS


HOSTILE = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["</script><script>alert(1)</script>", '"引号"\'', "<!--", "]]>", "&amp;"]),
    st.text(alphabet="<>/&\"'\\!-scriptSCRIPT\u2028\u2029\x00\x1f中文🙂", max_size=40),
)


# the fixture's context is only read: every example may share it
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=HOSTILE, summary=HOSTILE, author=HOSTILE, body=HOSTILE)
def test_any_text_survives_as_the_same_json_ld_values(
    article_head: ArticleHead, title: str, summary: str, author: str, body: str
) -> None:
    story = article(title=title, summary=summary, author=author, body_html=body)
    head = article_head(story)

    assert len(head.json_ld) == 1  # nothing in the text ended the script or began another
    found = head.structured()
    news = found["NewsArticle"]
    assert news["headline"] == xml_safe(title)
    assert news["description"] == xml_safe(article_description(story))
    assert news.get("author", {}).get("name", "") == xml_safe(author)
    assert found["BreadcrumbList"]["itemListElement"][-1]["name"] == xml_safe(title)
    assert schema_problems(list(found.values())) == []


# --- every page kind, through the render pipeline ------------------------------------------


def test_every_page_kind_has_its_description_canonical_and_card(small_pages: Newsroom) -> None:
    for n in range(1, 13):  # two full archive pages of 5, whichever the index shows
        small_pages.publish(n, summary="" if n == 2 else f"摘要 {n}")
    small_pages.flush()
    site = small_pages.ctx.site
    news = site.channel("news")
    assert news is not None
    second = small_pages.url(small_pages.file(2))
    about = SitePage(
        slug="about",
        title="关于我们",
        body_html="<p>研究会简介。</p>",
        feed="init",
        updated_at=WHEN,
    )
    small_pages.isolated.storage.data.put_json(page_key("about"), about.model_dump(mode="json"))
    assert render_site_page(small_pages.ctx, "about") == "published"
    render_search_page(small_pages.ctx)
    pages = {
        "": (site.description, "website", site.name),
        "news/": (news.description, "website", news.name),
        "news/list_1.html": (news.description, "website", f"{news.name} 第1页"),
        second: ("正文 2", "article", "稿件 2"),
        "about.html": ("研究会简介。", "website", "关于我们"),
        "query.html": (f"在{site.name}的全部文章中查询", "website", "相关查询"),
    }
    for path, (description, kind, title) in pages.items():
        body = small_pages.page(path + "index.html" if path.endswith("/") or not path else path)
        assert body is not None, path
        head = Head(body)
        url = site.base_url.rstrip("/") + "/" + path
        assert head.canonical == [url], path
        assert head.meta["description"] == description, path
        assert head.meta["og:url"] == url, path
        assert head.meta["og:type"] == kind, path
        assert head.meta["og:title"] == title, path
        assert head.meta["og:description"] == description, path
        assert head.meta["og:site_name"] == site.name, path
        assert head.meta["og:locale"] == "zh_CN", path
        assert head.meta["og:image"].startswith(site.base_url.rstrip("/") + "/static/logo."), path
        assert head.meta["twitter:card"] == "summary", path
        assert schema_problems(list(head.structured().values())) == [], path

    home = Head(small_pages.page("index.html") or "").structured()
    assert list(home) == ["WebSite"]
    assert home["WebSite"]["url"] == site.base_url.rstrip("/") + "/"
    assert home["WebSite"]["publisher"]["logo"]["url"] == head.meta["og:image"]
    assert set(Head(small_pages.page(second) or "").structured()) == {
        "NewsArticle",
        "BreadcrumbList",
    }

    publish_site_files(small_pages.ctx)
    missing = Head(small_pages.page("404.html") or "")
    assert missing.canonical == []  # answered at every missing address: none is its own
    assert missing.meta["description"] == site.description
    assert missing.meta["og:site_name"] == site.name
