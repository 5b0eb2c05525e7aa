"""A streaming reader of mysqldump output: the rows of chosen tables, without a MySQL server.

No maintained Python library streams mysqldump's INSERT syntax (sqlparse and sqlglot parse a
whole statement tree, far too slow and memory-hungry for an archive), so this is a small
tokenizer over text decoded once: GBK dumps are decoded before tokenizing because a GBK trail
byte may be 0x5C, which mysqldump does not escape.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 20
HEAD = 1 << 16  # characters an INSERT's or CREATE TABLE's head (with its column list) fits in
Value = str | int | float | None
# A string literal: runs of plain characters, backslash escapes, doubled quotes. Possessive
# quantifiers: a literal cut short by the end of the buffer fails at once, without backtracking.
_STRING = r"'(?:[^'\\]++|\\.|'')*+'"
_VALUE = re.compile(
    rf"""\s*(?:
      (?P<str>{_STRING})
    | (?P<null>NULL)\b
    | 0x(?P<hex>[0-9A-Fa-f]*)
    | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | _binary\s*(?P<bin>{_STRING})
    | [xX]'(?P<xhex>[0-9A-Fa-f]*)'
    | [bB]'(?P<bits>[01]*)'
    )\s*""",
    re.S | re.X,
)
_INSERT = re.compile(
    r"(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*INTO\s+"
    r"`?(?P<table>[^`\s(]+)`?\s*(?:\((?P<columns>[^)]*)\)\s*)?VALUES?\s*",
    re.I,
)
_CREATE = re.compile(
    r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(?P<table>[^`\s(]+)`?\s*\(", re.I
)
_COLUMN = re.compile(r"^\s*`(?P<name>[^`]+)`\s", re.M)
# Anything up to the end of a statement that is not one of the above (strings may hold ';').
_REST = re.compile(r"(?:[^';`\"]++|" + _STRING + r"|`[^`]*+`|\"(?:[^\"\\]++|\\.)*+\")*+;", re.S)
_SKIP = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*.*?\*/;?)*", re.S)
_ESCAPE = re.compile(r"\\(.)|''", re.S)
_ESCAPES = {"0": "\x00", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_CHARSET = re.compile(rb"SET NAMES (\w+)|DEFAULT CHARSET=(\w+)", re.I)
# MySQL's names of its character sets, as Python's codecs know them.
_CODECS = {"utf8mb4": "utf-8", "utf8mb3": "utf-8", "utf8": "utf-8", "latin1": "cp1252"}


class DumpError(ValueError):
    """The dump cannot be read past this point (truncated, or not mysqldump output)."""


@dataclass(frozen=True)
class Row:
    table: str
    values: dict[str, Value]


def unescape(literal: str) -> str:
    """The text of a quoted literal (quotes included), as MySQL reads it."""
    body = literal[1:-1]
    if "\\" not in body and "''" not in body:
        return body
    return _ESCAPE.sub(_unescaped, body)


def _unescaped(match: re.Match[str]) -> str:
    char = match.group(1)
    if char is None:
        return "'"
    if char in "%_":  # MySQL keeps the backslash of \% and \_ outside LIKE patterns
        return "\\" + char
    return _ESCAPES.get(char, char)


def sniff_encoding(head: bytes) -> str:
    """The dump's character set, from its SET NAMES or its tables' DEFAULT CHARSET."""
    found = _CHARSET.search(head)
    raw = (found.group(1) or found.group(2)) if found else b"utf8mb4"
    name = raw.decode("ascii").lower()
    name = _CODECS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


class DumpReader:
    """Rows of the tables asked for, in file order; every other statement is skipped unparsed.

    Memory holds one chunk plus the statement being read, never the dump."""

    def __init__(self, stream: BinaryIO, encoding: str | None = None, chunk: int = CHUNK) -> None:
        self._chunk = chunk
        head = stream.read(max(chunk, 4096))
        self.encoding = encoding or sniff_encoding(head)
        # surrogateescape: a byte the charset cannot decode survives to be reported, not lost
        self._decoder = codecs.getincrementaldecoder(self.encoding)(errors="surrogateescape")
        self._stream = stream
        self._buf = self._decoder.decode(head)
        self._pos = 0
        self._eof = not head
        self.columns: dict[str, list[str]] = {}
        self.bytes_read = len(head)

    def rows(self, tables: set[str]) -> Iterator[Row]:
        while self._skip_blanks():
            insert = self._probe(_INSERT)
            if insert and insert.group("table") in tables:
                table = insert.group("table")
                names = _column_list(insert.group("columns")) or self.columns.get(table)
                if not names:
                    raise DumpError(f"INSERT into {table} before its CREATE TABLE")
                yield from self._values(table, names)
                continue
            create = None if insert else self._probe(_CREATE)
            if create:
                self._read_create(create.group("table"))
                continue
            self._skip_statement()

    # --- buffer ------------------------------------------------------------------------
    def _more(self) -> bool:
        if self._eof:
            return False
        chunk = self._stream.read(self._chunk)
        self.bytes_read += len(chunk)
        if self._pos > HEAD:  # drop what has been read, so the buffer stays small
            self._buf, self._pos = self._buf[self._pos :], 0
        if not chunk:
            self._eof = True
            self._buf += self._decoder.decode(b"", final=True)
            return False
        self._buf += self._decoder.decode(chunk)
        return True

    def _match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """A match at the current position that the rest of the file cannot change; moves past
        it. A match touching the end of the buffer might be cut short: read more first."""
        while True:
            found = pattern.match(self._buf, self._pos)
            if found and (found.end() < len(self._buf) or self._eof):
                self._pos = found.end()
                return found
            if not self._more():
                found = pattern.match(self._buf, self._pos)
                if found:
                    self._pos = found.end()
                return found

    def _probe(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """A statement's head, if it is this one: no head is longer than HEAD characters, so
        a failed match is final once that much is buffered (never read on to the end)."""
        while len(self._buf) - self._pos < HEAD and self._more():
            pass
        found = pattern.match(self._buf, self._pos)
        if found:
            self._pos = found.end()
        return found

    def _skip_blanks(self) -> bool:
        """Past whitespace and comments; False at the end of the file."""
        self._match(_SKIP)
        while self._pos >= len(self._buf):
            if not self._more():
                return False
            self._match(_SKIP)
        return True

    def _skip_statement(self) -> None:
        if self._match(_REST) is None:
            if self._buf[self._pos :].strip():
                raise DumpError("the dump ends inside a statement")
            self._pos = len(self._buf)

    def _read_create(self, table: str) -> None:
        start = self._pos
        self._skip_statement()
        self.columns[table] = _COLUMN.findall(self._buf, start, self._pos)

    # --- rows --------------------------------------------------------------------------
    def _values(self, table: str, names: list[str]) -> Iterator[Row]:
        while True:
            if self._match(_ROW_START) is None:
                raise DumpError(f"{table}: expected '(' to start a row")
            values = self._row(table)
            if len(values) != len(names):
                raise DumpError(f"{table}: a row has {len(values)} values for {len(names)} columns")
            yield Row(table, dict(zip(names, values, strict=True)))
            after = self._match(_AFTER_ROW)
            if after is None:
                raise DumpError(f"{table}: the dump ends inside an INSERT statement")
            if after.group(1) == ";":
                return

    def _row(self, table: str) -> list[Value]:
        values: list[Value] = []
        while True:
            found = self._match(_VALUE)
            if found is None:
                raise DumpError(f"{table}: the dump ends inside a row, or a value is unreadable")
            values.append(_value(found))
            close = self._match(_SEPARATOR)
            if close is None:
                raise DumpError(f"{table}: the dump ends inside a row")
            if close.group(1) == ")":
                return values


_ROW_START = re.compile(r"\s*\(")
_AFTER_ROW = re.compile(r"\s*([,;])")
_SEPARATOR = re.compile(r"\s*([,)])")


def _value(found: re.Match[str]) -> Value:
    kind = found.lastgroup
    text = found.group(kind) if kind else None
    if kind == "str" or kind == "bin":
        assert text is not None
        return unescape(text)
    if kind == "num":
        assert text is not None
        return float(text) if any(c in text for c in ".eE") else int(text)
    if kind in ("hex", "xhex"):
        return bytes.fromhex(text or "").decode("utf-8", "surrogateescape")
    if kind == "bits":
        return int(text, 2) if text else 0
    return None


def _column_list(columns: str | None) -> list[str]:
    if not columns:
        return []
    return [name.strip().strip("`") for name in columns.split(",")]
