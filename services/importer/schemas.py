"""The importer's models: the mapping file, the plan a dry run prints, the summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

CHANNEL_SLUG = r"^[a-z0-9][a-z0-9-]{0,39}$"


class MappingFile(BaseModel):
    """`--mapping FILE` (TOML): which channel each old category goes to.

    [channels]
    "5" = "news"          # by category id
    "/a/zhengce" = "policy"  # or by its directory on the old site
    "9" = ""              # an empty slug skips the category's articles
    """

    channels: dict[str, str] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict, description="slug -> title of a new one")


@dataclass(frozen=True)
class ChannelPlan:
    category_id: str
    category_name: str
    directory: str
    slug: str  # "" = skipped
    title: str
    new: bool  # not yet in the site's config


@dataclass
class ImportSummary:
    imported: int = 0
    unchanged: int = 0
    hidden: int = 0
    redirects: int = 0
    clicks: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> source ids

    EXAMPLES = 20

    def skip(self, source_id: str, reason: str) -> None:
        self.skipped[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < self.EXAMPLES:
            shown.append(source_id)
