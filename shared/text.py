"""What text and dates every page, feed and sitemap can carry: ingest refuses the rest at
the door, and render neutralises whatever older documents still hold."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import TypeVar

from markupsafe import Markup

# Characters outside XML 1.0's `Char` production (C0 controls but tab/LF/CR, surrogates,
# U+FFFE/U+FFFF): one of them in a feed makes the whole document unreadable to every reader.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt) plus the braille
# blank: characters that render as nothing, so a title made only of them looks empty.
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Categories with nothing to see: controls, format marks, surrogates and separators (spaces
# of every width); unassigned code points are not among them, as a newer Unicode may draw them.
BLANK_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})

# The dates every page can show: far enough from datetime's limits that no time zone or
# offset takes a conversion past year 1 or 9999.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

S = TypeVar("S", bound=str)


def xml_unsafe(text: str) -> str | None:
    """The first character XML 1.0 does not allow, as U+XXXX, or None."""
    found = NOT_XML.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def xml_safe(text: S) -> S:
    """`text` without the characters XML 1.0 does not allow (a Markup stays Markup)."""
    if NOT_XML.search(text) is None:
        return text
    return type(text)(NOT_XML.sub("", text))


class Printed(Markup):
    """HTML made only of printable values (by the theme's own templates, say): printing it
    again in a page needs no second scan for what XML 1.0 forbids."""

    __slots__ = ()


def visible(text: str) -> bool:
    """Whether `text` has a character that shows on a page."""
    stripped = INVISIBLE.sub("", text)
    return any(unicodedata.category(c) not in BLANK_CATEGORIES for c in stripped)


def in_range(moment: datetime) -> bool:
    """Whether an aware datetime lies in EARLIEST..LATEST, without any conversion that could
    overflow (a year check first keeps astimezone away from datetime's own limits)."""
    if not 1899 <= moment.year <= 2201:
        return False
    return EARLIEST <= moment.astimezone(UTC) <= LATEST
