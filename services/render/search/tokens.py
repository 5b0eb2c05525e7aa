"""What the search index and the search page agree a word is (search.js mirrors this).

Chinese has no spaces, so a run of CJK characters is indexed as its overlapping character
pairs: any two-character word or name is one token, and a longer one is the pairs it
contains. Titles also index single characters, so a one-character query finds titles.
Other scripts are split into lower-cased words. Text is NFKC-normalised first, so
full-width letters and digits match their ASCII forms.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterator

# CJK ideographs (unified, extension A, compatibility) plus kana and hangul: scripts
# written without spaces between words.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
RUN = re.compile(rf"[{CJK}]+|[^\W{CJK}_]+")
CJK_RUN = re.compile(rf"[{CJK}]+")
SPLIT = re.compile(rf"([{CJK}]+)|([^\W{CJK}_]+)")  # RUN, telling the two kinds apart
MAX_WORD = 40  # longer "words" are identifiers or garbage nobody types


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def runs(text: str) -> Iterator[str]:
    """Runs of one script: CJK characters, or letters and digits of any other."""
    return (m.group() for m in RUN.finditer(normalize(text)))


def tokens(text: str, *, singles: bool = False) -> set[str]:
    """Every token of a text; `singles` adds each CJK character on its own (titles)."""
    found: set[str] = set()
    for cjk, other in SPLIT.findall(normalize(text)):
        if cjk:
            if len(cjk) == 1 or singles:
                found.update(cjk)
            found.update(map(str.__add__, cjk, cjk[1:]))  # each pair of neighbours
        elif len(other) <= MAX_WORD:
            found.add(other)
    return found


def query_tokens(query: str) -> set[str]:
    """The tokens a document must all hold to match a query: its pairs, or the single
    character a one-character run stands for."""
    return tokens(query)


def shard_of(token: str, shards: int) -> int:
    """The shard that holds a token in a segment of `shards` shards (CRC-32 of UTF-8)."""
    return zlib.crc32(token.encode()) % shards
