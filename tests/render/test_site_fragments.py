"""The parts of every page that only the site and the day decide (header, <head> links,
footer) are rendered once a day for all pages, and follow the day when it changes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from markupsafe import Markup

from services.render.theme import Theme
from shared.site import load_site

SITE = load_site(Path(__file__).resolve().parents[2] / "config" / "site.toml")


def missing_page(theme: Theme, now: datetime) -> str:
    return theme.render("404.html.j2", now=now, sidebar_html=Markup("")).decode()


@pytest.mark.unit
def test_the_footer_takes_the_new_year_on_the_first_page_rendered_in_it() -> None:
    footer = SITE.footer.model_copy(update={"copyright_end": None})
    theme = Theme(SITE.model_copy(update={"footer": footer}))
    eve = datetime(2026, 12, 31, 23, 59, tzinfo=theme.tz)
    new_year = datetime(2027, 1, 1, 0, 0, tzinfo=theme.tz)

    assert f"© {footer.copyright_start}-2026 版权所有" in missing_page(theme, eve)
    assert f"© {footer.copyright_start}-2027 版权所有" in missing_page(theme, new_year)


@pytest.mark.unit
def test_every_page_carries_the_site_header_links_and_footer() -> None:
    theme = Theme(SITE)
    page = missing_page(theme, datetime(2026, 12, 1, 9, 0, tzinfo=theme.tz))

    assert page.count('<header class="site-header">') == 1
    assert page.count('<footer class="site-footer">') == 1
    assert f'<link rel="stylesheet" href="{theme.asset_url("site.css")}">' in page
    for link in [*SITE.nav, *SITE.footer.links, *SITE.friend_links]:
        assert f'href="{link.url}"' in page
    assert page.index("</head>") < page.index('<a class="skip" href="#main">')
    assert page.index("</footer>") < page.index(theme.asset_url("pressroom.js"))


@pytest.mark.unit
def test_a_control_character_is_still_dropped_from_what_a_page_prints() -> None:
    theme = Theme(SITE)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=theme.tz)
    page = theme.render("404.html.j2", now=now, sidebar_html=Markup("<p>侧栏\x0b</p>")).decode()

    assert "<p>侧栏</p>" in page  # a caller's Markup is scanned, not trusted
