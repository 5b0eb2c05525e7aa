"""Numbered series that grow at their newest end: channel archive pages and sitemap files.

Pages are numbered from the oldest item, so page k always holds the items ranked
[(k-1)*size, k*size) in publication order. A full page never changes again when an article
arrives; only the newest page (and the one before it, whose "newer" link moves) does.

A channel's index is the newest page of its archive: it shows what no archive page holds
yet, the newest full page and the items after it (size to 2*size-1 items), so no archive
page repeats what the index shows. A page joins the archive, once and for good, when the
next page fills.
"""

from __future__ import annotations

from dataclasses import dataclass


def page_count(total: int, size: int) -> int:
    """Pages needed for `total` items (0 for an empty series)."""
    return -(-total // size)


def page_of(rank: int, size: int) -> int:
    """The page (from 1) that holds the item at 0-based `rank`, oldest first."""
    return max(rank, 0) // size + 1


def page_bounds(page: int, size: int) -> tuple[int, int]:
    """Inclusive rank range of a page, as ZRANGE takes it."""
    return (page - 1) * size, page * size - 1


def pages_to_render(dirty_from: int, rendered: int, total_pages: int) -> range:
    """Which pages a flush renders after items changed at page `dirty_from` and later.

    Pages before the change keep their items; the page just before it is included because
    its link to the newer page changes when the series grows or shrinks, as is the newest
    page of a series that shrank. Pages never rendered before (the series grew past
    `rendered`) are always included.
    """
    start = max(1, min(dirty_from - 1, rendered, total_pages))
    return range(start, total_pages + 1)


@dataclass(frozen=True)
class Pager:
    """Links of one archive page: older/newer neighbours and the way back to the index."""

    page: int
    total: int

    @property
    def older(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def newer(self) -> int | None:
        """The newer archive page, or None when the newest: the index follows it."""
        return self.page + 1 if self.page < self.total else None


def archived_pages(total: int, size: int) -> int:
    """Pages of a channel's archive: every full page but the newest (which the index shows)."""
    return max(total // size - 1, 0)


def index_size(total: int, size: int) -> int:
    """Items the channel index shows: every one no archive page holds."""
    return total - archived_pages(total, size) * size


def index_page_links(total_items: int, size: int) -> range:
    """Archive pages the channel index links to: every one, newest first.

    The list is a function of the page count alone, so it changes only when a page joins
    the archive; the renderer keeps it rendered per count rather than per publish.
    """
    return range(archived_pages(total_items, size), 0, -1)
