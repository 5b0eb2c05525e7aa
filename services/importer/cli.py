"""`pressroom import dedecms DUMP.sql` and `pressroom import wordpress EXPORT.xml`."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from services.importer.readers.base import Reader
    from services.importer.schemas import ChannelPlan, ImportSummary
    from services.ingest.feeds import Feed
    from services.ingest.service import IngestContext

import_cli = typer.Typer(
    help="Import an archive from another CMS (safe to run again; resumes).", no_args_is_help=True
)
console = Console()
IMPORT_THREADS = 32

MappingOpt = Annotated[
    Path | None, typer.Option(help="TOML: [channels] category id or directory -> channel slug")
]
DryRunOpt = Annotated[
    bool, typer.Option(help="Print the channel mapping and counts; store nothing")
]
HiddenOpt = Annotated[
    str,
    typer.Option(
        help="Articles unpublished on the old site: skip, or hide (stored, shown nowhere)"
    ),
]
AddChannelsOpt = Annotated[
    bool, typer.Option(help="Write new channels into the site file (PRESSROOM_SITE_CONFIG)")
]
BatchOpt = Annotated[int, typer.Option(min=1, max=500, help="Articles stored per batch")]


@import_cli.command("dedecms")
def import_dedecms(
    dump: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="mysqldump output")],
    prefix: Annotated[str, typer.Option(help="Table prefix")] = "dede_",
    encoding: Annotated[str | None, typer.Option(help="Else from the dump's SET NAMES")] = None,
    cmspath: Annotated[str, typer.Option(help="$cfg_cmspath of the old site")] = "",
    site_url: Annotated[str, typer.Option(help="Old site's origin, for litpic pictures")] = "",
    timezone: Annotated[str, typer.Option(help="The old server's time zone")] = "Asia/Shanghai",
    mapping: MappingOpt = None,
    dry_run: DryRunOpt = False,
    hidden: HiddenOpt = "skip",
    add_channels: AddChannelsOpt = True,
    feed: Annotated[str, typer.Option(help="Feed the articles belong to")] = "import-dedecms",
    batch: BatchOpt = 200,
) -> None:
    """Import a DedeCMS 5.7 site from a mysqldump file (no MySQL server needed)."""
    from services.importer.readers.dedecms import DedeCMSReader

    reader = DedeCMSReader(
        dump, prefix=prefix, encoding=encoding, cmspath=cmspath, timezone=timezone,
        site_url=site_url,
    )  # fmt: skip
    _run(reader, mapping, dry_run=dry_run, hidden=hidden, add=add_channels, feed=feed, batch=batch)


@import_cli.command("wordpress")
def import_wordpress(
    export: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="WXR file")],
    mapping: MappingOpt = None,
    dry_run: DryRunOpt = False,
    hidden: HiddenOpt = "skip",
    add_channels: AddChannelsOpt = True,
    feed: Annotated[str, typer.Option(help="Feed the articles belong to")] = "import-wordpress",
    batch: BatchOpt = 200,
) -> None:
    """Import a WordPress site from its WXR export (Tools > Export)."""
    from services.importer.readers.wordpress import WordPressReader

    reader = WordPressReader(export)
    _run(reader, mapping, dry_run=dry_run, hidden=hidden, add=add_channels, feed=feed, batch=batch)


@import_cli.command("restore-redirects")
def restore_redirects() -> None:
    """Reload the old addresses' map into Redis from the data bucket (after a Redis loss)."""
    from services.ingest import legacy
    from services.ingest.app import build_context
    from services.ingest.settings import IngestSettings

    ctx = build_context(IngestSettings())
    loaded = legacy.restore(ctx.redis, ctx.keys, ctx.storage.data)
    console.print(f"[green]{loaded}[/] old addresses loaded")


def _run(
    reader: Reader, mapping: Path | None, *, dry_run: bool, hidden: str, add: bool, feed: str,
    batch: int,
) -> None:  # fmt: skip
    from services.importer import mapping as mapper
    from services.importer.service import ImportJob, run_import
    from services.ingest.app import build_context
    from services.ingest.settings import IngestSettings
    from shared.celery_app import configure_celery
    from shared.logging import configure_logging

    if hidden not in ("skip", "hide"):
        raise typer.BadParameter("skip or hide", param_hint="--hidden")
    # the bar is the import's report: per-article log lines would drown it (and cost time)
    configure_logging("WARNING", json=False)
    # more articles in flight than a request gets: the object store is the slow part
    settings = IngestSettings().model_copy(update={"batch_threads": IMPORT_THREADS})
    ctx = build_context(settings)
    with console.status("reading categories and archive records..."):
        plans = mapper.plan_channels(reader.categories(), mapper.load_mapping(mapping), ctx.site)
    _show_plan(plans, reader)
    _refuse_a_cut_dump(reader)
    if dry_run:
        return
    if any(p.new for p in plans):
        if not add:
            console.print(
                "[red]new channels needed[/]: add them to the site file, or --add-channels"
            )
            raise typer.Exit(1)
        try:
            added = mapper.add_channels_to_file(settings.site_config, plans)
        except (OSError, ValueError) as exc:  # compose mounts the site file read-only
            _show_channels_to_add(settings.site_config, plans, exc)
            raise typer.Exit(1) from None
        console.print(f"added {len(added)} channel(s) to {settings.site_config}; restart the "
                      "render workers so that their channel pages are made")  # fmt: skip
        ctx.site = mapper.with_channels(ctx.site, plans)
    configure_celery(settings)
    channels = {p.category_id: p for p in plans}
    mode = cast(Literal["skip", "hide"], hidden)
    job = ImportJob(ctx, _feed(ctx, feed), channels, mode, batch)
    total = getattr(reader, "archive_count", None)
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeRemainingColumn())
    bar = (*columns, BarColumn(bar_width=None))
    # redrawn twice a second, not ten times: the bar shares the process with the import
    with Progress(*bar, console=console, refresh_per_second=2) as progress:
        task = progress.add_task("importing", total=total)
        summary = run_import(job, reader, lambda n: progress.advance(task, n))
    _show_summary(summary)


def _refuse_a_cut_dump(reader: Reader) -> None:
    """A dump cut before its categories would import a fraction of the site under no
    channel: say so and store nothing (a category missing from a whole dump only skips its
    own articles, each reported)."""
    cut: str | None = getattr(reader, "cut", None)
    unknown = reader.unknown_categories() if cut and hasattr(reader, "unknown_categories") else {}
    if not unknown:
        return
    named = ", ".join(f"{tid} ({n} articles)" for tid, n in sorted(unknown.items())[:20])
    console.print(
        f"[red]the dump ends early[/] ({cut}); the categories of {sum(unknown.values())} "
        f"articles are not in it: {named}. Nothing was imported: dump the site again "
        "(mysqldump writes the categories after the articles) and import the whole file.",
        soft_wrap=True,
    )
    raise typer.Exit(1)


def _show_channels_to_add(site_file: Path, plans: list[ChannelPlan], exc: Exception) -> None:
    """What the operator adds by hand when the site file cannot be written; nothing was
    stored, so running the import again afterwards starts it cleanly."""
    from services.importer import mapping as mapper

    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    console.print(
        f"[red]could not add the new channels to {site_file}[/] ({why}). Nothing was "
        "imported. Add these lines to its `channels = [` list, restart the services, "
        "and run the import again:",
        soft_wrap=True,
    )
    for line in mapper.channel_lines(plans):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _feed(ctx: IngestContext, name: str) -> Feed:
    """The import's feed, registered once (its key is not shown: `pressroom feeds add`
    gives the feed a new one when an editor's tool should update these articles)."""
    found = next((f for f in ctx.feeds.all() if f.name == name), None)
    return found or ctx.feeds.ensure(name, secrets.token_hex(32))


def _show_plan(plans: list[ChannelPlan], reader: Reader) -> None:
    table = Table("category", "name", "old directory", "channel", "title", "")
    for plan in plans:
        table.add_row(
            plan.category_id, plan.category_name, plan.directory, plan.slug or "(skipped)",
            plan.title, "new" if plan.new else "",
        )  # fmt: skip
    console.print(table)
    total = getattr(reader, "archive_count", None)
    if total is not None:
        console.print(f"{total} article records in the export")


def _show_summary(summary: ImportSummary) -> None:
    console.print(
        f"[green]imported {summary.imported}[/], unchanged {summary.unchanged}, "
        f"hidden {summary.hidden}, skipped {sum(summary.skipped.values())}; "
        f"{summary.redirects} old addresses redirect; {summary.clicks} clicks carried over"
    )
    if summary.skipped:
        table = Table("skipped because", "rows", "source ids (first ones)")
        for reason, count in summary.skipped.most_common():
            table.add_row(reason, str(count), ", ".join(summary.examples.get(reason, [])))
        console.print(table)
