"""PUT/GET/DELETE /v1/pages/{slug}: authenticated like articles, slugs that could clash with
the site's own files refused (422 naming the slug), bodies sanitized and bounded alike."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.site_pages import seed_pages
from shared.settings import CommonSettings
from shared.site import load_site
from shared.site_pages import RESERVED, SLUG, page_key, slug_problem
from shared.site_pages import seed_pages as placeholders
from tests.conftest import Isolated
from tests.ingest.conftest import Ingest

SITE = load_site(CommonSettings(environment="development").site_config)
BAD_SLUGS = [
    "About",
    "about.html",
    "a.b",
    "..",
    "../feeds/dev",
    "a/b",
    "a\\b",
    "-about",
    "about-",
    "a b",
    "关于",
    "x" * 65,
    "index",
    "404",
    "robots",
    "sitemap",
    "query",
    "static",
    "news",  # a channel
    "reviews",
]


def encoded(slug: str) -> str:
    """Every byte percent-encoded: the client would otherwise resolve `..` itself."""
    return "".join(f"%{byte:02X}" for byte in slug.encode())


def put(api: Ingest, slug: str, body: object, feed: str = "wire", **headers: str) -> Any:
    return api.client.put(
        f"/v1/pages/{encoded(slug)}", json=body, headers=api.headers(feed, **headers)
    )


def page_of(api: Ingest, slug: str) -> dict[str, object] | None:
    found: dict[str, object] | None = api.isolated.storage.data.get_json(page_key(slug))
    return found


@pytest.mark.unit
@settings(max_examples=200, deadline=None)
@given(st.from_regex(SLUG, fullmatch=True))
def test_a_slug_is_refused_only_for_a_reserved_name_or_a_channel(slug: str) -> None:
    problem = slug_problem(slug, SITE)
    assert (problem is None) == (slug not in RESERVED and SITE.channel(slug) is None), slug


@pytest.mark.unit
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_a_slug_never_names_a_path_outside_the_site_root(slug: str) -> None:
    if slug_problem(slug, SITE) is None:
        assert re.fullmatch(r"[a-z0-9-]+", slug)
        assert not slug.startswith("-")


def test_a_page_is_stored_sanitized_read_back_and_deleted(module_api: Ingest) -> None:
    body = '<p onclick="x()">关于本站<script>alert(1)</script><a href="javascript:x">链接</a></p>'
    answer = put(module_api, "about-us", {"title": " 关于我们 ", "body_html": body})

    assert answer.status_code == 202, answer.text
    assert answer.json()["url"].endswith("/about-us.html")
    stored = page_of(module_api, "about-us")
    assert stored is not None
    assert stored["title"] == "关于我们"
    for unsafe in ("<script", "onclick", "javascript:"):
        assert unsafe not in str(stored["body_html"])
    assert "关于本站" in str(stored["body_html"])
    read = module_api.client.get("/v1/pages/about-us", headers=module_api.headers())
    assert read.json()["body_html"] == stored["body_html"]

    again = put(module_api, "about-us", {"title": "关于我们", "body_html": body})
    assert (again.status_code, again.json()["changed"]) == (200, False)

    gone = module_api.client.delete("/v1/pages/about-us", headers=module_api.headers())
    assert gone.status_code == 202
    assert page_of(module_api, "about-us") is None
    missing = module_api.client.delete("/v1/pages/about-us", headers=module_api.headers())
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("slug", BAD_SLUGS)
def test_a_bad_slug_is_a_problem_naming_it_and_stores_nothing(
    module_api: Ingest, slug: str
) -> None:
    answer = put(module_api, slug, {"title": "关于我们", "body_html": "<p>x</p>"})

    assert answer.status_code == 422, (slug, answer.status_code)
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["slug"]
    assert not [k for k in module_api.data_keys("site-pages/") if slug in k]
    deleted = module_api.client.delete(f"/v1/pages/{encoded(slug)}", headers=module_api.headers())
    assert deleted.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body_html": "<p>x</p>"}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x\x00"}, "title"),
        ({"title": "x", "body_html": "<p>\x01</p>"}, "body_html"),
        ({"title": "x", "author": "y"}, "author"),
        ({"title": "x" * 301}, "title"),
        ({"title": "x", "body_html": "<div>" * 5000}, "body_html"),
    ],
)
def test_a_bad_page_is_a_problem_naming_the_field(
    module_api: Ingest, body: dict[str, object], field: str
) -> None:
    answer = put(module_api, "bad-page", body)

    assert answer.status_code in (413, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in answer.json()["errors"]}
    assert page_of(module_api, "bad-page") is None


def test_pages_take_the_feed_key_and_json(module_api: Ingest) -> None:
    page = {"title": "免责声明"}
    unauthenticated = module_api.client.put("/v1/pages/terms", json=page)
    wrong_type = module_api.client.put(
        "/v1/pages/terms",
        content=b"title=x",
        headers=module_api.headers(**{"Content-Type": "text/plain"}),
    )
    unsigned = put(module_api, "terms", page, feed="signed")

    assert unauthenticated.status_code == 401
    assert wrong_type.status_code == 415
    assert unsigned.status_code == 403
    assert page_of(module_api, "terms") is None


def test_init_seeds_each_placeholder_once_and_never_over_an_operators_page(
    isolated: Isolated,
) -> None:
    data = isolated.storage.data
    operator = {"slug": "about", "title": "本站简介", "body_html": "<p>运营者的页面</p>"}
    data.put(page_key("about"), json.dumps(operator).encode(), content_type="application/json")
    seeds = placeholders(CommonSettings(environment="development").site_config)

    first = seed_pages(isolated.storage, SITE, seeds)
    data.delete(page_key("ads"))  # the operator takes a placeholder down
    second = seed_pages(isolated.storage, SITE, seeds)

    assert first == [s.slug for s in seeds if s.slug != "about"]
    assert second == []
    assert data.get_json(page_key("about")) == operator
    assert data.get(page_key("ads")) is None
    disclaimer = data.get_json(page_key("disclaimer"))
    assert disclaimer["feed"] == "init"
    assert disclaimer["title"] == "免责声明"
