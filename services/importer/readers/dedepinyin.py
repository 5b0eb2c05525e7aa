"""DedeCMS 5.7's GetPinyin, for article addresses named by `{pinyin}` or `{py}`.

DedeCMS walks the title's GBK bytes: a two-byte character becomes its reading (no tone,
`ü` as `v`) or `_` when it has none (full-width punctuation), an ASCII letter or digit stays
as it is (case kept), any other byte becomes `_`; a title under two bytes is returned as it
is. A UTF-8 site first converts the title to GB2312, writing a character outside it as
`&#N;`. Readings come from pypinyin, one character at a time as DedeCMS's table gives them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from types import ModuleType

# PHP's trim() characters
_TRIM = " \t\n\r\0\x0b"


def dede_pinyin(title: str, *, initials: bool = False, utf8_site: bool = True) -> str:
    """What DedeCMS's GetPinyin($title, $ishead) returned for this title."""
    text = title.strip(_TRIM)
    units = list(_gb_units(text, utf8_site))
    if sum(1 if len(u) == 1 and u.isascii() else 2 for u in units) < 2:
        return text
    return "".join(_spelled(u, initials) for u in units)


def _gb_units(text: str, utf8_site: bool) -> Iterator[str]:
    """The title as DedeCMS saw it: ASCII characters and two-byte characters."""
    for char in text:
        if char.isascii() or not utf8_site or _in_gb2312(char):
            yield char
        else:  # utf82gb's escape, read afterwards byte by byte
            yield from f"&#{ord(char)};"


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _spelled(unit: str, initials: bool) -> str:
    if unit.isascii():
        return unit if unit.isalnum() else "_"
    pypinyin = _pypinyin()
    reading: str = pypinyin.lazy_pinyin(unit, style=pypinyin.Style.NORMAL, errors=lambda _: "_")[0]
    if not reading.isascii() or not reading.isalpha():
        return "_"
    return reading[0] if initials else reading


@cache
def _pypinyin() -> ModuleType:
    """pypinyin, loaded by the first site that needs it and without its phrase dictionary
    (characters are read one at a time; the phrases would cost every import 40 MB more)."""
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
    import pypinyin

    return pypinyin
