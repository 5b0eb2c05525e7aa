"""DedeCMS addresses named by the title's pinyin (`{pinyin}`, `{py}`): rebuilt as GetPinyin
spelled them, and redirected whatever spelling the old site's table gave a character."""

from __future__ import annotations

import html
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.importer.readers.base import SourceArticle
from services.importer.readers.dedecms import DedeCMSReader
from services.importer.readers.dedepinyin import dede_pinyin
from services.ingest import legacy
from tests.conftest import Isolated
from tests.importer.dumps import Archive, Category, write_dump

hanzi = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
ascii_ = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
wide = st.sampled_from(
    "\uff0c\uff1a“”《》、\uff01\uff1f\uff08\uff09\u3000\uff21\uff22\uff11\uff12"
)  # full-width punctuation and letters
titles = st.lists(hanzi | ascii_ | wide | st.sampled_from(["&quot;", "&amp;", "𠀀"]), max_size=30)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("title", "spelled", "initials"),
    [
        (
            "教育部:推动高校支撑服务企业",
            "jiaoyubu_tuidonggaoxiaozhichengfuwuqiye",
            "jyb_tdgxzcfwqy",
        ),
        ("CCTV新闻 2022", "CCTVxinwen_2022", "CCTVxw_2022"),
        ("女排夺冠\uff0c绿色", "nvpaiduoguan_lvse", "npdg_ls"),
        ("&quot;你好&quot;", "_quot_nihao_quot_", "_quot_nh_quot_"),
        ("  a ", "a", "a"),  # under two bytes after trim(): returned as it is
    ],
)
def test_titles_are_spelled_as_dedecms_spelled_them(
    title: str, spelled: str, initials: str
) -> None:
    assert dede_pinyin(title) == spelled
    assert dede_pinyin(title, initials=True) == initials


@pytest.mark.unit
@settings(max_examples=200, deadline=None)
@given(title=titles.map("".join))
def test_every_character_becomes_one_letter_or_underscore_with_initials(title: str) -> None:
    # utf82gb writes a character outside GB2312 as &#N;, which is then read byte by byte
    trimmed = title.strip(" \t\n\r\0\x0b")
    escaped = "".join(c if c.isascii() or _gb2312(c) else f"&#{ord(c)};" for c in trimmed)
    if sum(1 if c.isascii() else 2 for c in escaped) < 2:
        return
    initials = dede_pinyin(title, initials=True)
    assert len(initials) == len(escaped)
    assert re.fullmatch(r"[A-Za-z0-9_]*", initials)
    for char, letter in zip(escaped, initials, strict=True):
        if char.isascii():
            assert letter == (char if char.isalnum() else "_")
    assert re.fullmatch(r"[A-Za-z0-9_]*", dede_pinyin(title))


def _gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=titles.map("".join), other_spelling=st.from_regex(r"[a-z_]{0,12}", fullmatch=True))
def test_an_old_pinyin_address_redirects_to_the_article(
    isolated: Isolated, title: str, other_spelling: str
) -> None:
    if not html.unescape(title).strip():
        return  # an empty title is reported, not imported
    news = Category(3, "新闻", "/a/news", namerule="{typedir}/{Y}{M}/{pinyin}.html")
    with tempfile.TemporaryDirectory() as home:
        dump = write_dump(Path(home) / "d.sql", [news], [Archive(556, 3, title, "<p>正文</p>")])
        [article] = DedeCMSReader(dump).articles()
    assert isinstance(article, SourceArticle)
    exact = f"/a/news/202207/{dede_pinyin(title)}_556.html"
    assert exact in article.old_urls
    legacy.remember(
        isolated.redis, isolated.keys, isolated.storage.data, "import-dedecms/articles-556",
        dict.fromkeys(article.old_urls, "/news/202207/abc.html"),
    )  # fmt: skip

    assert legacy.lookup(isolated.redis, isolated.keys, exact) == "/news/202207/abc.html"
    spelled_otherwise = f"/a/news/202207/{other_spelling}_556.html"
    assert (
        legacy.lookup(isolated.redis, isolated.keys, spelled_otherwise) == "/news/202207/abc.html"
    )
    assert legacy.lookup(isolated.redis, isolated.keys, "/a/news/202207/x_557.html") is None
    assert legacy.lookup(isolated.redis, isolated.keys, "/a/news/202208/x_556.html") is None
