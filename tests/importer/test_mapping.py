"""Categories to channels, and what the site file learns; the legacy map's keys."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from services.importer.mapping import (
    add_channels_to_file,
    default_slug,
    plan_channels,
    with_channels,
)
from services.importer.readers.base import SourceCategory
from services.importer.schemas import MappingFile
from services.ingest.legacy import normalized
from shared.settings import REPO_ROOT
from shared.site import SiteConfig, load_site

pytestmark = pytest.mark.unit
SITE = REPO_ROOT / "config" / "site.toml"


def category(tid: str, directory: str, name: str = "栏目") -> SourceCategory:
    return SourceCategory(tid, name, directory)


def test_default_channels_are_named_after_the_directory() -> None:
    assert default_slug(category("1", "/a/news")) == "news"
    assert default_slug(category("2", "/a/news/GuoNei_2")) == "guonei-2"
    assert default_slug(category("3", "/a/新闻")) == "c3"
    assert default_slug(category("4", "")) == "c4"


def test_a_mapping_file_wins_and_can_skip_a_category() -> None:
    site = load_site(SITE)
    categories = [category("1", "/a/news", "新闻"), category("2", "/a/zc", "政策"),
                  category("3", "/a/ad", "广告")]  # fmt: skip
    mapping = MappingFile(channels={"/a/zc": "policy", "3": ""}, names={"policy": "政策法规"})

    plans = {p.category_id: p for p in plan_channels(categories, mapping, site)}

    assert (plans["1"].slug, plans["1"].new, plans["1"].title) == ("news", False, "新闻动态")
    assert (plans["2"].slug, plans["2"].new, plans["2"].title) == ("policy", True, "政策法规")
    assert plans["3"].slug == ""
    assert with_channels(site, list(plans.values())).channel("policy") is not None


def test_a_slug_the_site_cannot_use_is_refused() -> None:
    with pytest.raises(ValueError, match="not a channel slug"):
        plan_channels(
            [category("1", "/a/x")], MappingFile(channels={"1": "Bad Slug"}), load_site(SITE)
        )


def test_new_channels_are_written_into_the_site_file_keeping_the_rest(tmp_path: Path) -> None:
    site_file = tmp_path / "site.toml"
    shutil.copy(SITE, site_file)
    before = site_file.read_text(encoding="utf-8")
    plans = plan_channels(
        [category("2", "/a/zhengce", '政策"法规"')], MappingFile(), SiteConfig.model_validate(
            tomllib.loads(before)),
    )  # fmt: skip

    added = add_channels_to_file(site_file, plans)

    after = site_file.read_text(encoding="utf-8")
    site = SiteConfig.model_validate(tomllib.loads(after))
    assert len(added) == 1
    assert site.channel("zhengce") is not None
    assert site.channel("zhengce").name == '政策"法规"'  # type: ignore[union-attr]
    assert [c.slug for c in site.channels][:3] == ["news", "notices", "reviews"]
    assert after.replace(added[0] + "\n", "") == before  # comments and layout kept
    assert add_channels_to_file(site_file, plan_channels(
        [category("2", "/a/zhengce")], MappingFile(), site)) == []  # fmt: skip


def test_old_addresses_are_keyed_by_path_and_the_page_id_of_php_ones() -> None:
    assert normalized("/a/news/2022/0711/556.html?from=baidu") == "/a/news/2022/0711/556.html"
    assert normalized("/plus/view.php?aid=556&pageno=2") == "/plus/view.php?aid=556"
    assert normalized("/plus/list.php?tid=5") == "/plus/list.php?tid=5"
    assert normalized("/a/%E6%96%B0%E9%97%BB/") == "/a/新闻/"
