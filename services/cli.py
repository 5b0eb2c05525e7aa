"""The `pressroom` command: every process of the system is one of its subcommands.

Each service contributes its own commands (`services/<service>/cli.py`); this module
only assembles them, plus the commands that span services (run, init, scheduler).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from services.counter.cli import counter_cli
from services.importer.cli import import_cli
from services.ingest.cli import feeds_cli
from services.render.cli import rebuild, reindex, render_worker, scheduled

if TYPE_CHECKING:
    from services.stack.run import Stack

cli = typer.Typer(help="Pressroom: event-driven news publishing.", no_args_is_help=True)
cli.add_typer(feeds_cli, name="feeds")
# `pressroom counter [--host H --port P]` serves; `pressroom counter restore` restores.
cli.add_typer(counter_cli, name="counter")
cli.add_typer(import_cli, name="import")
cli.command("render-worker")(render_worker)
cli.command("rebuild")(rebuild)
cli.command("reindex")(reindex)
cli.command("scheduled")(scheduled)
console = Console()

HostOpt = Annotated[str, typer.Option(help="Interface to listen on")]


def serve(factory: str, host: str, port: int, *, service: str) -> None:
    import uvicorn

    from shared.logging import configure_logging
    from shared.settings import CommonSettings
    from shared.tracing import configure_tracing

    settings = CommonSettings()
    # Before uvicorn starts, so that its own records (startup, errors) are JSON lines too:
    # with log_config=None it installs no handler of its own.
    configure_logging(settings.log_level, settings.log_json)
    configure_tracing(f"pressroom-{service}")
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        log_level=settings.log_level.lower(),
    )


@cli.command()
def ingest(host: HostOpt = "127.0.0.1", port: int = 8001) -> None:
    """Serve the ingest API."""
    serve("services.ingest.app:create_app", host, port, service="ingest")


@cli.command()
def scheduler(
    state: Annotated[Path, typer.Option(help="Where beat keeps its schedule state")] = Path(
        ".pressroom/celerybeat-schedule"
    ),
) -> None:
    """Run Celery beat: the reconciler and the counter rollups. Run exactly one."""
    from services.ingest.settings import IngestSettings
    from shared.celery_app import install_schedule, worker_app
    from shared.settings import CommonSettings

    app = worker_app(CommonSettings())
    install_schedule(app, reconcile_seconds=IngestSettings().reconcile_interval_seconds)
    state.parent.mkdir(parents=True, exist_ok=True)
    app.start(["--quiet", "beat", f"--schedule={state}", "--loglevel=INFO"])


@cli.command()
def init(
    feed: Annotated[str | None, typer.Option(help="Also make sure this feed exists")] = None,
    key: Annotated[str | None, typer.Option(help="...with this key (development)")] = None,
) -> None:
    """Create the buckets (idempotent) and seed the placeholder site pages (config/pages.toml
    beside the site config: each stored once, never over an operator's page); optionally
    register a feed with a known key. Render workers publish the pages when they start."""
    from services.ingest.feeds import FeedRegistry
    from services.ingest.site_pages import seed_pages
    from shared.settings import CommonSettings
    from shared.site import load_site
    from shared.site_pages import seed_pages as placeholders
    from shared.storage import Storage

    settings = CommonSettings()
    storage = Storage.from_settings(settings)
    storage.ensure_buckets()
    if feed and key:
        FeedRegistry(storage.data).ensure(feed, key)
    site = load_site(settings.site_config, settings.site_base_url)
    seeded = seed_pages(storage, site, placeholders(settings.site_config))
    console.print(f"[green]ready[/]: buckets {storage.site.name}, {storage.data.name}")
    if seeded:
        console.print(f"seeded site pages: {', '.join(seeded)}")


@cli.command()
def run(
    home: Annotated[Path, typer.Option(help="Where data and logs live")] = Path(".pressroom"),
    port: Annotated[int, typer.Option(help="Port of the site (edge); APIs on the next two")] = 8000,
    valkey_port: Annotated[int, typer.Option(help="Port of the embedded Valkey")] = 6399,
    s3_port: Annotated[int, typer.Option(help="S3 port of SeaweedFS (uses the next 4 too)")] = 8333,
    sample: Annotated[bool, typer.Option(help="Publish the sample articles")] = True,
) -> None:
    """Start the whole system on embedded Valkey and SeaweedFS; Ctrl-C stops it."""
    from services.stack.present import publish_sample, show_urls
    from services.stack.run import Ports, Stack

    ports = Ports(edge=port, ingest=port + 1, counter=port + 2, valkey=valkey_port, s3=s3_port)
    stack = Stack(home.resolve(), ports)
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        if stopping:  # asked again while stopping: stop now (Stack.stop kills the rest)
            raise KeyboardInterrupt
        stopping = True

    for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, on_signal)
    # Whatever ends this process, even SIGKILL, ends every process it started: each child
    # dies with its parent (services/stack/lifeline.py); the finally below is the graceful way.
    try:
        with console.status("starting Valkey and SeaweedFS..."):
            stack.start_infra()
        if stopping:
            return
        with console.status("starting ingest, counter, render worker, scheduler, edge (nginx)..."):
            key = stack.start_apps()
        if sample and not stopping:
            publish_sample(stack, key)
        show_urls(console, stack, key, stack.write_run_file(key))
        supervise(stack, lambda: stopping)
    finally:
        stopping = True  # a signal from here on interrupts the graceful stop
        console.print("stopping; Ctrl-C again stops at once")
        stack.stop()
        console.print("stopped; data kept in", str(home))


def supervise(stack: Stack, stopping: Callable[[], bool]) -> None:
    """Restart a Pressroom process that exits, as compose's restart policy would, until
    asked to stop or a process crash-loops."""
    restarts: dict[str, list[float]] = {}
    while not stopping():
        time.sleep(0.5)
        for name, server in stack.apps.items():
            if server.running or stopping():
                continue
            recent = [t for t in restarts.get(name, []) if time.monotonic() - t < 60]
            if len(recent) >= 3:
                console.print(f"[red]{name} keeps exiting[/]; see {server.log_path}")
                return
            console.print(f"[yellow]{name} exited; restarting[/] (log: {server.log_path})")
            restarts[name] = [*recent, time.monotonic()]
            server.start()


def main() -> None:
    try:
        cli()
    except Exception as exc:
        # A crash is one JSON event like any other line, not a multi-line traceback box.
        from shared.logging import describe, get_logger, log_crashes_as_json

        log_crashes_as_json()
        get_logger("pressroom").exception("process.crashed", error=describe(exc))
        raise SystemExit(1) from None
