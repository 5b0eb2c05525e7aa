"""DedeCMS 5.7 from a mysqldump file: `<prefix>arctype`, `<prefix>archives`, `<prefix>addonarticle`.

Columns are read by name from the dump's own CREATE TABLE (DedeCMS 5.7's install/
sql-dftables.txt defines them), so dumps of other 5.x releases, with a column more or less,
read alike. mysqldump writes tables in name order, bodies (addonarticle) first: the reader
makes two passes, the first keeping categories and a compact record per archive, the second
joining each body to its record as it streams by.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from services.importer.readers.base import BadRow, SourceArticle, SourceCategory
from services.importer.readers.dedepinyin import dede_pinyin
from services.importer.readers.sqldump import DumpError, DumpReader, Value
from services.ingest import legacy

# keywords are split on ASCII and full-width commas and semicolons, 、 and spaces
# a picture in a body addressed from the old site's root (DedeCMS writes /uploads/allimg/...)
ROOT_RELATIVE_IMG = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*["']?)/(?!/)""", re.I)
KEYWORD_SPLIT = re.compile(r"[,\uff0c;\uff1b\u3001\s]+")


@dataclass(frozen=True, slots=True)
class _Archive:
    """What the import needs of one `archives` row (held for every article between passes)."""

    typeid: str
    title: str
    flag: str
    channel: int
    arcrank: int
    click: int
    writer: str
    source: str
    litpic: str
    pubdate: int
    senddate: int  # when it was entered, which dated its address
    keywords: str
    description: str
    filename: str


@dataclass(frozen=True)
class _Category:
    category: SourceCategory
    namerule: str


class DedeCMSReader:
    format = "dedecms"

    def __init__(
        self,
        dump: Path,
        *,
        prefix: str = "dede_",
        encoding: str | None = None,
        cmspath: str = "",
        timezone: str = "Asia/Shanghai",
        site_url: str = "",
    ) -> None:
        self.dump = dump
        self.prefix = prefix
        self.encoding = encoding
        self.cmspath = cmspath.rstrip("/")
        self.zone = ZoneInfo(timezone)  # the old server's clock, which dated its URLs
        self.site_url = site_url.rstrip("/")
        self.size = dump.stat().st_size
        self.position = 0  # bytes of the dump read so far (both passes: up to twice the size)
        self._categories: dict[str, _Category] = {}
        self._archives: dict[str, _Archive] = {}
        self._early: list[BadRow] = []
        self._scanned = False
        self.cut: str | None = None  # why the first pass stopped early, if it did
        self._utf8 = True  # the old site's charset (its dump's), which its GetPinyin minded

    def categories(self) -> list[SourceCategory]:
        self._scan()
        return [c.category for c in self._categories.values()]

    @property
    def archive_count(self) -> int:
        self._scan()
        return len(self._archives)

    def articles(self) -> Iterator[SourceArticle | BadRow]:
        self._scan()
        yield from self._early
        joined: set[str] = set()
        table = f"{self.prefix}addonarticle"
        with self.dump.open("rb") as stream:
            reader = DumpReader(stream, self.encoding)
            try:
                for row in reader.rows({table}):
                    self.position = self.size + reader.bytes_read
                    aid = _text(row.values.get("aid"))
                    if aid in joined:
                        yield BadRow(aid, f"duplicate id in {table}: the first row was kept")
                        continue
                    archive = self._archives.get(aid)
                    if archive is None:
                        yield BadRow(aid, f"a body in {table} without its archives row")
                        continue
                    joined.add(aid)
                    yield self._article(aid, archive, row.values.get("body"))
            except DumpError as exc:
                yield BadRow(f"after {len(joined)} bodies", f"dump unreadable: {exc}")
        self.position = 2 * self.size
        for aid, archive in self._archives.items():
            if aid not in joined:
                kind = "" if archive.channel == 1 else f" (channel type {archive.channel})"
                yield BadRow(aid, f"no body in {table}{kind}")

    # --- first pass -----------------------------------------------------------------------
    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        tables = {f"{self.prefix}arctype", f"{self.prefix}archives"}
        with self.dump.open("rb") as stream:
            reader = DumpReader(stream, self.encoding)
            self._utf8 = reader.encoding.replace("-", "").lower().startswith("utf8")
            try:
                for row in reader.rows(tables):
                    self.position = reader.bytes_read
                    if row.table.endswith("arctype"):
                        self._add_category(row.values)
                    else:
                        self._add_archive(row.values)
            except DumpError as exc:
                self.cut = str(exc)
                self._early.append(BadRow(f"after {len(self._archives)} archives", str(exc)))
        self.position = self.size

    def unknown_categories(self) -> Counter[str]:
        """Category ids the archives name that arctype does not hold, with their counts (a
        dump cut short loses arctype whole: mysqldump writes it after the archives)."""
        self._scan()
        return Counter(
            a.typeid for a in self._archives.values() if a.typeid not in self._categories
        )

    def _add_category(self, values: dict[str, Value]) -> None:
        tid = _text(values.get("id"))
        typedir = _text(values.get("typedir")).replace("{cmspath}", self.cmspath).rstrip("/")
        directory = "/" + typedir.lstrip("/") if typedir else ""
        default = _text(values.get("defaultname")) or "index.html"
        namerule2 = _text(values.get("namerule2")) or "{typedir}/list_{tid}_{page}.html"
        lists = namerule2.replace("{typedir}", directory).replace("{tid}", tid)
        old = [f"{directory}/", f"{directory}/{default}", lists.replace("{page}", "*")]
        old.append(f"{self.cmspath}/plus/list.php?tid={tid}")
        category = SourceCategory(
            source_id=tid,
            name=html.unescape(_text(values.get("typename"))).strip() or f"栏目{tid}",
            directory=directory,
            old_urls=tuple(dict.fromkeys(old)),
        )
        namerule = _text(values.get("namerule")) or "{typedir}/{Y}/{M}{D}/{aid}.html"
        self._categories.setdefault(tid, _Category(category, namerule))

    def _add_archive(self, values: dict[str, Value]) -> None:
        aid = _text(values.get("id"))
        if aid in self._archives:
            self._early.append(BadRow(aid, "duplicate id in archives: the first row was kept"))
            return
        pubdate = _int(values.get("pubdate")) or _int(values.get("senddate"))
        self._archives[aid] = _Archive(
            typeid=_text(values.get("typeid")),
            title=_text(values.get("title")),
            flag=_text(values.get("flag")),
            channel=_int(values.get("channel"), 1),
            arcrank=_int(values.get("arcrank")),
            click=max(0, _int(values.get("click"))),
            writer=_text(values.get("writer")),
            source=_text(values.get("source")),
            litpic=_text(values.get("litpic")),
            pubdate=pubdate,
            senddate=_int(values.get("senddate")) or pubdate,
            keywords=_text(values.get("keywords")),
            description=_text(values.get("description")),
            filename=_text(values.get("filename")),
        )

    # --- one article ----------------------------------------------------------------------
    def _article(self, aid: str, archive: _Archive, body: Value) -> SourceArticle | BadRow:
        title = html.unescape(archive.title).strip()
        if not title:
            return BadRow(aid, "empty title")
        if not _text(body).strip():
            return BadRow(aid, "empty body")
        if archive.pubdate <= 0:
            return BadRow(aid, "no pubdate or senddate")
        category = self._categories.get(archive.typeid)
        if category is None:
            return BadRow(aid, f"category {archive.typeid} is not in arctype")
        published = datetime.fromtimestamp(archive.pubdate, UTC)
        return SourceArticle(
            source_id=aid,
            category_id=archive.typeid,
            title=title,
            body_html=self._absolute_pictures(_text(body)),
            published_at=published,
            source=html.unescape(archive.source).strip(),
            writer=html.unescape(archive.writer).strip(),
            description=html.unescape(archive.description).strip(),
            tags=tuple(dict.fromkeys(t for t in KEYWORD_SPLIT.split(archive.keywords) if t)),
            headline="h" in archive.flag.split(","),
            hidden=archive.arcrank < 0,
            clicks=archive.click,
            lead_image=self._absolute(archive.litpic),
            old_urls=self._old_urls(aid, archive, category),
        )

    def _old_urls(self, aid: str, archive: _Archive, category: _Category) -> tuple[str, ...]:
        """As DedeCMS's GetFileName built them: the rule lowercased, dated by `senddate`."""
        local = datetime.fromtimestamp(archive.senddate, self.zone)
        rule = category.namerule.lower()
        if archive.filename:  # a custom file name replaces the rule's last segment
            name = archive.filename if "." in archive.filename else f"{archive.filename}.html"
            rule = f"{rule.rsplit('/', 1)[0]}/{name}"
        path = (
            rule.replace("{typedir}", category.category.directory)
            .replace("{y}", f"{local:%Y}")
            .replace("{m}", f"{local:%m}")
            .replace("{d}", f"{local:%d}")
            .replace("{timestamp}", str(archive.senddate))
            .replace("{aid}", aid)
        )
        if "{p" in path:  # the raw title, entities and all, as GetPinyin read it
            spelled = dede_pinyin(archive.title, utf8_site=self._utf8)
            path = path.replace("{pinyin}", f"{spelled}_{aid}")
            initials = dede_pinyin(archive.title, initials=True, utf8_site=self._utf8)
            path = path.replace("{py}", f"{initials}_{aid}")
        urls = [f"{self.cmspath}/plus/view.php?aid={aid}"]
        if "{" in path:  # a rule with DedeCMS's hashed {cc} cannot be rebuilt offline
            return tuple(urls)
        path = "/" + path.lstrip("/")
        if "{p" in rule and (named := legacy.SPELLED_NAME.match(path)):
            # any spelling of the title: a reading pypinyin and the old table disagree on
            urls.insert(0, legacy.any_spelling(named))
        return (path, *urls)

    def _absolute_pictures(self, body: str) -> str:
        """Pictures of the old site given its origin, so the media pipeline can fetch them."""
        if not self.site_url:
            return body
        return ROOT_RELATIVE_IMG.sub(lambda m: f"{m.group(1)}{self.site_url}/", body)

    def _absolute(self, path: str) -> str | None:
        path = path.strip()
        if not path:
            return None
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.site_url}/{path.lstrip('/')}" if self.site_url else None


def _text(value: Value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _int(value: Value, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default
