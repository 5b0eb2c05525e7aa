"""Generated DedeCMS 5.7 dumps, written as mysqldump writes them.

The three tables' columns are DedeCMS 5.7's own (install/sql-dftables.txt of the 5.7 GBK
release), in its order; the rows are made up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

Value = str | int | None

ARCTYPE = [
    ("id", "smallint(5) unsigned NOT NULL AUTO_INCREMENT"),
    ("reid", "smallint(5) unsigned NOT NULL DEFAULT '0'"),
    ("topid", "smallint(5) unsigned NOT NULL DEFAULT '0'"),
    ("sortrank", "smallint(5) unsigned NOT NULL DEFAULT '50'"),
    ("typename", "char(30) NOT NULL DEFAULT ''"),
    ("typedir", "char(60) NOT NULL DEFAULT ''"),
    ("isdefault", "smallint(6) NOT NULL DEFAULT '0'"),
    ("defaultname", "char(15) NOT NULL DEFAULT 'index.html'"),
    ("issend", "smallint(6) NOT NULL DEFAULT '0'"),
    ("channeltype", "smallint(6) DEFAULT '1'"),
    ("maxpage", "smallint(6) NOT NULL DEFAULT '-1'"),
    ("ispart", "smallint(6) NOT NULL DEFAULT '0'"),
    ("corank", "smallint(6) NOT NULL DEFAULT '0'"),
    ("tempindex", "char(50) NOT NULL DEFAULT ''"),
    ("templist", "char(50) NOT NULL DEFAULT ''"),
    ("temparticle", "char(50) NOT NULL DEFAULT ''"),
    ("namerule", "char(50) NOT NULL DEFAULT ''"),
    ("namerule2", "char(50) NOT NULL DEFAULT ''"),
    ("modname", "char(20) NOT NULL DEFAULT ''"),
    ("description", "char(150) NOT NULL DEFAULT ''"),
    ("keywords", "varchar(60) NOT NULL DEFAULT ''"),
    ("seotitle", "varchar(80) NOT NULL DEFAULT ''"),
    ("moresite", "tinyint(1) unsigned NOT NULL DEFAULT '0'"),
    ("sitepath", "char(60) NOT NULL DEFAULT ''"),
    ("siteurl", "char(50) NOT NULL DEFAULT ''"),
    ("ishidden", "smallint(6) NOT NULL DEFAULT '0'"),
    ("cross", "tinyint(1) NOT NULL DEFAULT '0'"),
    ("crossid", "text"),
    ("content", "text"),
    ("smalltypes", "text"),
]
ARCHIVES = [
    ("id", "mediumint(8) unsigned NOT NULL DEFAULT '0'"),
    ("typeid", "smallint(5) unsigned NOT NULL DEFAULT '0'"),
    ("typeid2", "varchar(90) NOT NULL DEFAULT '0'"),
    ("sortrank", "int(10) unsigned NOT NULL DEFAULT '0'"),
    ("flag", "set('c','h','p','f','s','j','a','b') DEFAULT NULL"),
    ("ismake", "smallint(6) NOT NULL DEFAULT '0'"),
    ("channel", "smallint(6) NOT NULL DEFAULT '1'"),
    ("arcrank", "smallint(6) NOT NULL DEFAULT '0'"),
    ("click", "mediumint(8) unsigned NOT NULL DEFAULT '0'"),
    ("money", "smallint(6) NOT NULL DEFAULT '0'"),
    ("title", "char(60) NOT NULL DEFAULT ''"),
    ("shorttitle", "char(36) NOT NULL DEFAULT ''"),
    ("color", "char(7) NOT NULL DEFAULT ''"),
    ("writer", "char(20) NOT NULL DEFAULT ''"),
    ("source", "char(30) NOT NULL DEFAULT ''"),
    ("litpic", "char(100) NOT NULL DEFAULT ''"),
    ("pubdate", "int(10) unsigned NOT NULL DEFAULT '0'"),
    ("senddate", "int(10) unsigned NOT NULL DEFAULT '0'"),
    ("mid", "mediumint(8) unsigned NOT NULL DEFAULT '0'"),
    ("keywords", "char(30) NOT NULL DEFAULT ''"),
    ("lastpost", "int(10) unsigned NOT NULL DEFAULT '0'"),
    ("scores", "mediumint(8) NOT NULL DEFAULT '0'"),
    ("goodpost", "mediumint(8) unsigned NOT NULL DEFAULT '0'"),
    ("badpost", "mediumint(8) unsigned NOT NULL DEFAULT '0'"),
    ("voteid", "mediumint(8) NOT NULL"),
    ("notpost", "tinyint(1) unsigned NOT NULL DEFAULT '0'"),
    ("description", "varchar(255) NOT NULL DEFAULT ''"),
    ("filename", "varchar(40) NOT NULL DEFAULT ''"),
    ("dutyadmin", "mediumint(8) unsigned NOT NULL DEFAULT '0'"),
    ("tackid", "int(10) NOT NULL DEFAULT '0'"),
    ("mtype", "mediumint(8) unsigned NOT NULL DEFAULT '0'"),
    ("weight", "int(10) NOT NULL DEFAULT '0'"),
]
ADDONARTICLE = [
    ("aid", "mediumint(8) unsigned NOT NULL DEFAULT '0'"),
    ("typeid", "smallint(5) unsigned NOT NULL DEFAULT '0'"),
    ("body", "mediumtext"),
    ("redirecturl", "varchar(255) NOT NULL DEFAULT ''"),
    ("templet", "varchar(30) NOT NULL DEFAULT ''"),
    ("userip", "char(15) NOT NULL DEFAULT ''"),
]
_ESCAPES = {"\x00": "\\0", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "\\'", '"': '\\"',
            "\x1a": "\\Z"}  # fmt: skip


def literal(value: Value) -> str:
    """A value as mysqldump writes it (mysql_real_escape_string's escapes)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"


def create_table(out: IO[str], table: str, columns: Sequence[tuple[str, str]], key: str) -> None:
    out.write(f"\n--\n-- Table structure for table `{table}`\n--\n\n")
    out.write(f"DROP TABLE IF EXISTS `{table}`;\n")
    out.write("/*!40101 SET @saved_cs_client = @@character_set_client */;\n")
    out.write(f"CREATE TABLE `{table}` (\n")
    out.write("".join(f"  `{name}` {kind},\n" for name, kind in columns))
    out.write(f"  PRIMARY KEY (`{key}`)\n) ENGINE=MyISAM DEFAULT CHARSET=utf8;\n\n")


def inserts(out: IO[str], table: str, rows: Iterable[Sequence[Value]], per_statement: int) -> None:
    out.write(f"LOCK TABLES `{table}` WRITE;\n/*!40000 ALTER TABLE `{table}` DISABLE KEYS */;\n")
    batch: list[str] = []
    for row in rows:
        batch.append("(" + ",".join(literal(v) for v in row) + ")")
        if len(batch) == per_statement:
            out.write(f"INSERT INTO `{table}` VALUES {','.join(batch)};\n")
            batch = []
    if batch:
        out.write(f"INSERT INTO `{table}` VALUES {','.join(batch)};\n")
    out.write(f"/*!40000 ALTER TABLE `{table}` ENABLE KEYS */;\nUNLOCK TABLES;\n")


@dataclass
class Category:
    id: int
    typename: str
    typedir: str
    namerule: str = "{typedir}/{Y}/{M}{D}/{aid}.html"

    def row(self) -> list[Value]:
        values: dict[str, Value] = {
            "id": self.id, "typename": self.typename, "typedir": self.typedir,
            "defaultname": "index.html", "channeltype": 1, "maxpage": -1,
            "namerule": self.namerule, "namerule2": "{typedir}/list_{tid}_{page}.html",
            "tempindex": "{style}/index_article.htm", "modname": "default", "sortrank": 50,
            "crossid": "", "content": "&nbsp;", "smalltypes": "",
        }  # fmt: skip
        return [values.get(name, 0 if "int" in kind else "") for name, kind in ARCTYPE]


@dataclass
class Archive:
    id: int
    typeid: int
    title: str
    body: str | None
    pubdate: int = 1657505000  # 2022-07-11 10:03 in Beijing
    click: int = 0
    flag: str | None = None
    arcrank: int = 0
    writer: str = "单思月"
    source: str = "央视新闻"
    keywords: str = "教育,高校"
    description: str = "总台记者今天从教育部获悉"
    litpic: str = ""
    channel: int = 1
    extra: dict[str, Value] = field(default_factory=dict)

    def row(self) -> list[Value]:
        values: dict[str, Value] = {
            "id": self.id, "typeid": self.typeid, "typeid2": "0", "sortrank": self.pubdate,
            "flag": self.flag, "ismake": 1, "channel": self.channel, "arcrank": self.arcrank,
            "click": self.click, "title": self.title, "writer": self.writer,
            "source": self.source, "litpic": self.litpic, "pubdate": self.pubdate,
            "senddate": self.pubdate, "mid": 1, "keywords": self.keywords, "voteid": 0,
            "description": self.description, **self.extra,
        }  # fmt: skip
        return [values.get(name, 0 if "int" in kind else "") for name, kind in ARCHIVES]

    def addon(self) -> list[Value]:
        return [self.id, self.typeid, self.body, "", "", "127.0.0.1"]


def write_dump(
    path: Path,
    categories: Sequence[Category],
    archives: Iterable[Archive],
    *,
    prefix: str = "dede_",
    per_statement: int = 50,
    addons: Iterable[Archive] | None = None,
) -> Path:
    """mysqldump's layout: tables in name order, so the bodies come before their records."""
    listed = list(archives)
    with path.open("w", encoding="utf-8") as out:
        out.write("-- MySQL dump 10.13  Distrib 5.7.44, for Linux (x86_64)\n")
        out.write("/*!40101 SET NAMES utf8 */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n")
        create_table(out, f"{prefix}addonarticle", ADDONARTICLE, "aid")
        bodies = [a for a in (addons if addons is not None else listed) if a.body is not None]
        inserts(out, f"{prefix}addonarticle", (a.addon() for a in bodies), per_statement)
        create_table(out, f"{prefix}archives", ARCHIVES, "id")
        inserts(out, f"{prefix}archives", (a.row() for a in listed), per_statement)
        create_table(out, f"{prefix}arctype", ARCTYPE, "id")
        inserts(out, f"{prefix}arctype", (c.row() for c in categories), per_statement)
        out.write("-- Dump completed on 2026-12-01  5:00:00\n")
    return path
