"""The readers alone, no servers: mysqldump's syntax, DedeCMS's rows, WordPress's items."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.importer.readers.base import BadRow, SourceArticle
from services.importer.readers.dedecms import DedeCMSReader
from services.importer.readers.sqldump import CHUNK, DumpReader
from services.importer.readers.wordpress import WordPressReader
from tests.importer.dumps import Archive, Category, inserts, literal, write_dump

pytestmark = pytest.mark.unit

TRICKY = ["'", "\\", '"', ";", "(", ")", ",", "\n", "\r", "\x00", "\x1a", "''", "\\'",
          "\\n", "%", "_", "\\%", "新闻", "&nbsp;", "&ldquo;", "é", "`", "/*", "*/", "--", "#",
          " "]  # fmt: skip
pieces = st.sampled_from(TRICKY) | st.characters(codec="utf-8")
values = st.one_of(
    st.none(),
    st.integers(-(2**40), 2**40),
    st.lists(pieces, max_size=30).map("".join),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(values, min_size=3, max_size=3), min_size=1, max_size=12),
    per_statement=st.integers(1, 5),
    chunk=st.integers(1, 64),
)
def test_any_values_read_back_as_written(
    rows: list[list[str | int | None]], per_statement: int, chunk: int
) -> None:
    out = io.StringIO()
    out.write("CREATE TABLE `t` (\n  `a` text,\n  `b` text,\n  `c` text\n);\n")
    inserts(out, "t", rows, per_statement)
    # tiny chunks: every value, escape and multi-byte character meets a buffer boundary
    reader = DumpReader(io.BytesIO(out.getvalue().encode()), "utf-8", chunk=chunk)

    read = [list(r.values.values()) for r in reader.rows({"t"})]

    assert read == rows


def test_mysql_spellings_of_values_and_statements() -> None:
    dump = (
        "/*!40101 SET NAMES utf8mb4 */;\n# a comment; with a semicolon\n"
        "INSERT INTO `other` VALUES ('skip;me','x');\n"
        "INSERT IGNORE INTO `t` (`a`,`b`) VALUES (_binary 'bin\\'s',0x4142),"
        "\n(X'e696b0', b'101'), ('it''s', -1.5e3);\n"
    )
    reader = DumpReader(io.BytesIO(dump.encode()))

    rows = [list(r.values.values()) for r in reader.rows({"t"})]

    assert rows == [["bin's", "AB"], ["新", 5], ["it's", -1500.0]]


def test_a_gbk_dump_with_a_backslash_trail_byte_reads_right() -> None:
    # 稀 is 0xCF 0x5C in GBK: mysqldump leaves that 0x5C unescaped
    text = "CREATE TABLE `t` (\n  `a` text\n);\nINSERT INTO `t` VALUES ('稀有'),('x');\n"
    raw = b"/*!40101 SET NAMES gbk */;\n" + text.encode("gbk")

    rows = [r.values["a"] for r in DumpReader(io.BytesIO(raw)).rows({"t"})]

    assert rows == ["稀有", "x"]


NEWS = Category(1, "新闻动态", "{cmspath}/a/news")


def read_all(reader: DedeCMSReader) -> tuple[dict[str, SourceArticle], dict[str, str]]:
    articles: dict[str, SourceArticle] = {}
    bad: dict[str, str] = {}
    for item in reader.articles():
        if isinstance(item, BadRow):
            bad[item.source_id] = item.reason
        else:
            articles[item.source_id] = item
    return articles, bad


def test_dedecms_rows_become_articles_with_their_old_addresses(tmp_path: Path) -> None:
    archives = [
        Archive(556, 1, "教育部:推动&ldquo;高校&rdquo;服务企业",
                '<p>总台记者……<img alt="" src="/uploads/allimg/2.jpg"></p>', click=4321,
                flag="h,p", litpic="/uploads/allimg/220711/1.jpg", keywords="教育\uff0c高校 科技"),
        Archive(557, 1, "未审核的稿件", "<p>草稿</p>", arcrank=-1),
    ]  # fmt: skip
    dump = write_dump(tmp_path / "d.sql", [NEWS], archives)
    reader = DedeCMSReader(dump, site_url="http://old.example.cn")

    articles, bad = read_all(reader)

    first = articles["556"]
    assert first.title == "教育部:推动“高校”服务企业"
    assert first.headline
    assert first.clicks == 4321
    assert first.source == "央视新闻"
    assert first.writer == "单思月"
    assert first.tags == ("教育", "高校", "科技")
    assert first.old_urls == ("/a/news/2022/0711/556.html", "/plus/view.php?aid=556")
    assert first.lead_image == "http://old.example.cn/uploads/allimg/220711/1.jpg"
    assert 'src="http://old.example.cn/uploads/allimg/2.jpg"' in first.body_html
    assert articles["557"].hidden
    assert bad == {}
    (category,) = reader.categories()
    assert category.directory == "/a/news"
    assert category.name == "新闻动态"
    assert "/a/news/list_1_*.html" in category.old_urls


def test_bad_rows_are_reported_by_source_id_and_the_rest_imported(tmp_path: Path) -> None:
    good = Archive(1, 1, "好稿件", "<p>正文</p>")
    archives = [
        good,
        Archive(2, 1, "没有正文", None),
        Archive(3, 1, "", "<p>没有标题</p>"),
        Archive(4, 9, "栏目不存在", "<p>x</p>"),
        Archive(1, 1, "重复的编号", "<p>y</p>"),
        Archive(5, 1, "图集", None, channel=2),
    ]
    dump = write_dump(tmp_path / "d.sql", [NEWS], archives, addons=[good, archives[2], archives[3]])

    articles, bad = read_all(DedeCMSReader(dump))

    assert list(articles) == ["1"]
    assert articles["1"].title == "好稿件"
    assert bad["2"] == "no body in dede_addonarticle"
    assert bad["3"] == "empty title"
    assert bad["4"] == "category 9 is not in arctype"
    assert bad["1"].startswith("duplicate id")
    assert "channel type 2" in bad["5"]


def test_a_truncated_dump_keeps_every_whole_row_and_reports_the_cut(tmp_path: Path) -> None:
    cut_off = Category(2, "通知公告", "{cmspath}/a/notices")
    archives = [Archive(n, 1 + n % 2, f"第{n}篇", f"<p>{'正文' * 200}</p>") for n in range(1, 41)]
    dump = write_dump(tmp_path / "d.sql", [NEWS, cut_off], archives, per_statement=1)
    raw = dump.read_bytes()
    # mysqldump writes arctype last: cut inside its last row
    dump.write_bytes(raw[: raw.rindex(b"INSERT INTO `dede_arctype`") + 60])

    reader = DedeCMSReader(dump)
    articles, bad = read_all(reader)

    assert reader.unknown_categories() == {"2": 20}
    assert reader.cut is not None
    assert "ends inside" in reader.cut
    assert sorted(int(a) for a in articles) == list(range(2, 41, 2))
    assert all(bad[str(n)] == "category 2 is not in arctype" for n in range(1, 41, 2))
    assert any("ends inside" in reason for reason in bad.values()), bad


WXR = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel><title>旧站</title>
<wp:category><wp:term_id>3</wp:term_id><wp:category_nicename>news</wp:category_nicename>
<wp:category_parent></wp:category_parent><wp:cat_name><![CDATA[新闻]]></wp:cat_name></wp:category>
{items}
</channel></rss>"""
ITEM = """<item><title>{title}</title><link>https://old.example.cn/2022/07/{n}/</link>
<pubDate>Mon, 11 Jul 2022 02:00:00 +0000</pubDate><dc:creator><![CDATA[editor]]></dc:creator>
<content:encoded><![CDATA[{body}]]></content:encoded><excerpt:encoded><![CDATA[]]></excerpt:encoded>
<wp:post_id>{n}</wp:post_id><wp:post_date_gmt>2022-07-11 02:00:00</wp:post_date_gmt>
<wp:status>{status}</wp:status><wp:post_type>post</wp:post_type><wp:is_sticky>0</wp:is_sticky>
<category domain="category" nicename="news"><![CDATA[新闻]]></category>
<category domain="post_tag" nicename="edu"><![CDATA[教育]]></category>
<wp:postmeta><wp:meta_key>views</wp:meta_key><wp:meta_value>77</wp:meta_value></wp:postmeta>
</item>"""


def test_wordpress_posts_become_articles(tmp_path: Path) -> None:
    items = [
        ITEM.format(n=1, title="高校&amp;企业", body="<p>正文<b>未闭合</p>", status="publish"),
        ITEM.format(n=2, title="草稿", body="<p>x</p>", status="draft"),
        ITEM.format(n=1, title="重复", body="<p>x</p>", status="publish"),
        ITEM.format(n=3, title="空", body="", status="publish"),
    ]
    export = tmp_path / "wp.xml"
    export.write_text(WXR.format(items="".join(items)), encoding="utf-8")
    reader = WordPressReader(export)

    read = list(reader.articles())

    articles = {a.source_id: a for a in read if isinstance(a, SourceArticle)}
    bad = {b.source_id: b.reason for b in read if isinstance(b, BadRow)}
    assert articles["1"].title == "高校&企业"
    assert articles["1"].clicks == 77
    assert articles["1"].category_id == "news"
    assert articles["1"].tags == ("教育",)
    assert articles["1"].old_urls == ("/2022/07/1/",)
    assert articles["2"].hidden
    assert bad == {"1": "duplicate post_id: the first item was kept", "3": "empty body"}
    assert [c.name for c in reader.categories()] == ["新闻"]


def test_literal_escapes_as_mysqldump() -> None:
    assert literal("it's\n\\") == "'it\\'s\\n\\\\'"


def test_the_reader_streams_and_never_holds_the_dump(tmp_path: Path) -> None:
    archives = [Archive(n, 1, f"第{n}篇", f"<p>{'正文' * 2000}</p>") for n in range(1, 801)]
    dump = write_dump(tmp_path / "d.sql", [NEWS], archives)
    assert dump.stat().st_size > 8 * CHUNK
    with dump.open("rb") as stream:
        reader = DumpReader(stream)

        rows = reader.rows({"dede_addonarticle"})
        next(rows)
        assert reader.bytes_read <= 2 * CHUNK
        for _ in rows:
            assert len(reader._buf) <= 3 * CHUNK  # a chunk decoded, plus what is being read
