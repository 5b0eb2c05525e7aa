"""`pressroom render-worker | rebuild | reindex`: the render worker and the operator's tools."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from services.render.context import RenderContext
    from services.render.rebuild import Summary

# Each command imports what it runs: every process of the stack is a `pressroom` command,
# and importing every service's code into each of them slows every start.
console = Console()


def render_worker(
    concurrency: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    name: Annotated[str, typer.Option(help="Node name")] = "render",
    pool: Annotated[str, typer.Option(help="prefork, threads or solo")] = "prefork",
) -> None:
    """Run a Celery worker for rendering and the periodic jobs."""
    from services.render.settings import RenderSettings
    from services.render.site_files import publish_site
    from services.render.tasks import build_context
    from shared.celery_app import MEDIA_QUEUE, PERIODIC_QUEUE, RENDER_QUEUE, queue_name, worker_app

    settings = RenderSettings()
    app = worker_app(settings, visibility_timeout=settings.visibility_timeout)
    ctx = build_context(settings)
    ctx.theme.publish_assets(ctx.storage.site, settings.asset_cache_control)
    publish_site(ctx)  # robots.txt, the 404 page, every channel's list page from day one
    queues = ",".join(queue_name(settings, q) for q in (RENDER_QUEUE, PERIODIC_QUEUE, MEDIA_QUEUE))
    app.worker_main(
        [
            "--quiet",  # no banner on stdout: every line a worker writes is a log event
            "worker",
            f"--hostname={name}@%h",
            f"--queues={queues}",
            f"--pool={pool}",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def _context() -> RenderContext:
    """The render context of an operator's command, whose renders send flushes like a
    worker's: to the broker the settings name."""
    from services.render.settings import RenderSettings
    from services.render.tasks import build_context
    from shared.celery_app import configure_celery

    settings = RenderSettings()
    configure_celery(settings, visibility_timeout=settings.visibility_timeout)
    return build_context(settings)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def rebuild(
    channel: Annotated[str | None, typer.Option(help="Only this channel's pages")] = None,
    force: Annotated[
        bool, typer.Option(help="Ignore the record of what was rendered (e.g. bucket emptied)")
    ] = False,
) -> None:
    """Re-render every page from the data bucket; skips what is unchanged, resumes if cut short."""
    from services.render import rebuild as job
    from services.render.site_files import dead_links, rebuild_site

    ctx = _context()
    if channel and ctx.site.channel(channel) is None:
        raise typer.BadParameter(f"unknown channel {channel!r}", param_hint="--channel")
    if force:
        job.forget_rendered(ctx)
    ctx.theme.publish_assets(ctx.storage.site, ctx.settings.asset_cache_control)
    started = time.perf_counter()
    documents = job.article_documents(ctx)
    with _progress() as bar:
        articles_task = bar.add_task("articles", total=len(documents))
        summary = job.rebuild_articles(
            ctx, documents, channel=channel, advance=lambda n: bar.advance(articles_task, n)
        )
        site = rebuild_site(ctx) if channel is None else job.Summary()
        pages = job.list_pages(ctx, channel)
        lists_task = bar.add_task("lists, feeds, sitemap", total=len(pages))
        lists = job.rebuild_lists(ctx, channel, advance=lambda n: bar.advance(lists_task, n))
    total = job.Summary(
        written=summary.written + lists.written + site.written,
        unchanged=summary.unchanged + lists.unchanged + site.unchanged,
        failed=summary.failed + lists.failed + site.failed,
        resumed=summary.resumed,
        failures=summary.failures + lists.failures + site.failures,
    )
    job.finish(ctx, channel, total)
    _print_summary(total, time.perf_counter() - started)
    # a rebuild cut short leaves pages missing that the next run writes: links are checked
    # on a whole site only
    dead = dead_links(ctx) if channel is None and not total.failed else []
    for link in dead:
        console.print(f"[red]dead link[/]: {escape(str(link))}", soft_wrap=True)
    if total.failed or dead:
        raise typer.Exit(1)


def _print_summary(summary: Summary, seconds: float) -> None:
    table = Table(title="rebuild", show_header=False)
    table.add_row("pages written", str(summary.written))
    table.add_row("unchanged", str(summary.unchanged))
    table.add_row("failed", f"[red]{summary.failed}[/]" if summary.failed else "0")
    if summary.resumed:
        table.add_row("resumed after", f"{summary.resumed} articles already done")
    table.add_row("seconds", f"{seconds:.1f}")
    console.print(table)
    for what in summary.failures[:20]:
        console.print(f"[red]failed[/]: {what} (run rebuild again to retry)")


def scheduled(
    hours: Annotated[float, typer.Option(help="Only what is due within this many hours")] = 24 * 7,
    limit: Annotated[int, typer.Option(help="At most this many, soonest first")] = 100,
) -> None:
    """List the embargoed articles waiting for their instant (read from the due set)."""
    from services.render.schedule import scheduled as due_between
    from shared.models import article_key

    ctx = _context()
    now = time.time()
    due = due_between(ctx.redis, ctx.keys, since=0, until=now + hours * 3600, limit=limit)
    table = Table(title=f"scheduled ({len(due)} shown)")
    for column in ("instant", "id", "channel", "title"):
        table.add_column(column)
    for aid, instant in due:
        document = ctx.storage.data.get_json(article_key(aid)) or {}
        when = ctx.theme.local_time(datetime.fromtimestamp(instant, UTC))
        table.add_row(when, aid, document.get("channel", ""), document.get("title", ""))
    console.print(table)


def reindex() -> None:
    """Rebuild the Redis indexes (articles, channels, headlines) from the data bucket."""
    from services.render import rebuild as job
    from services.render.reindex import reindex as run_reindex

    ctx = _context()
    total = len(job.article_documents(ctx))
    with _progress() as bar:
        task = bar.add_task("articles", total=total)
        indexes = run_reindex(ctx, advance=lambda n: bar.advance(task, n))
    console.print(
        f"[green]reindexed[/]: {indexes.published} published, {indexes.unpublished} "
        f"unpublished, {indexes.scheduled} scheduled, {indexes.failed} unreadable; now "
        "run `pressroom rebuild`"
    )
    if indexes.failed:
        raise typer.Exit(1)
