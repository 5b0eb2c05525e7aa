"""Archive and sitemap numbering, over every size and total: pure functions, no servers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.render.pagination import (
    Pager,
    archived_pages,
    index_page_links,
    index_size,
    page_bounds,
    page_count,
    page_of,
    pages_to_render,
)

pytestmark = pytest.mark.unit  # pure logic: no server, no browser

sizes = st.integers(min_value=1, max_value=200)
totals = st.integers(min_value=0, max_value=100_000)


@given(totals, sizes)
def test_every_item_sits_on_exactly_one_page_within_the_series(total: int, size: int) -> None:
    pages = page_count(total, size)
    assert (pages - 1) * size < total <= pages * size or total == pages == 0
    for rank in {0, total // 2, total - 1} if total else set():
        start, end = page_bounds(page_of(rank, size), size)
        assert start <= rank <= end
        assert 1 <= page_of(rank, size) <= pages


@given(
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=0, max_value=500),
)
def test_a_flush_renders_the_changed_page_its_older_neighbour_and_every_new_page(
    dirty_from: int, rendered: int, total: int
) -> None:
    pages = set(pages_to_render(dirty_from, rendered, total))
    assert pages <= set(range(1, total + 1))
    assert set(range(rendered + 1, total + 1)) <= pages  # never rendered before
    assert set(range(max(dirty_from - 1, 1), total + 1)) <= pages
    if rendered > total >= 1:  # the series shrank: its new newest page links no further
        assert total in pages


@given(st.integers(min_value=1, max_value=1000), st.integers(min_value=1, max_value=1000))
def test_pager_links_stay_inside_the_series(page: int, total: int) -> None:
    pager = Pager(min(page, total), total)
    assert pager.older is None or 1 <= pager.older < pager.page
    assert pager.newer is None or pager.page < pager.newer <= total
    assert (pager.newer is None) == (pager.page == total)


@given(totals, sizes)
def test_the_index_links_every_archive_page_newest_first(total: int, size: int) -> None:
    links = list(index_page_links(total, size))
    assert links == list(range(archived_pages(total, size), 0, -1))
    # the list changes only when a page joins the archive, not with every new item
    if archived_pages(total + 1, size) == archived_pages(total, size):
        assert index_page_links(total + 1, size) == index_page_links(total, size)


@given(totals, sizes)
def test_index_and_archive_pages_show_every_item_exactly_once(total: int, size: int) -> None:
    archived = archived_pages(total, size)
    on_pages = [r for page in range(1, archived + 1) for r in range(*page_range(page, size))]
    on_index = list(range(total - index_size(total, size), total))

    assert sorted(on_pages + on_index) == list(range(total))
    # the index is never thinner than a page (once there is a page's worth), never 2 pages
    assert min(total, size) <= len(on_index) <= max(2 * size - 1, 0)


@given(totals, sizes)
def test_a_new_item_adds_at_most_one_archive_page(total: int, size: int) -> None:
    """Publishing rewrites the index and at most the newest archive pages: full pages
    already archived keep their items."""
    before, after = archived_pages(total, size), archived_pages(total + 1, size)
    assert after - before in (0, 1)


def page_range(page: int, size: int) -> tuple[int, int]:
    start, end = page_bounds(page, size)
    return start, end + 1
