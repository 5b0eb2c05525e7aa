"""The search page, /query.html: a form and the script that queries the static index."""

from __future__ import annotations

from services.render.context import RenderContext
from services.render.pages import sidebar_html

SEARCH_PAGE = "query.html"


def render_search_page(ctx: RenderContext) -> bool:
    body = ctx.render("query.html.j2", sidebar_html=sidebar_html(ctx))
    return ctx.write_page(SEARCH_PAGE, body, "search")
