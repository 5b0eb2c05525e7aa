"""The `pressroom` command: every process of the system is one of its subcommands."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from services.ingest.feeds import FeedRegistry

cli = typer.Typer(help="Pressroom: event-driven news publishing.", no_args_is_help=True)
feeds_cli = typer.Typer(
    help="Manage the feeds allowed to publish, and their keys.", no_args_is_help=True
)
cli.add_typer(feeds_cli, name="feeds")
console = Console()

HostOpt = Annotated[str, typer.Option(help="Interface to listen on")]


def serve(factory: str, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(factory, factory=True, host=host, port=port, access_log=False, log_level="warning")


@cli.command()
def ingest(host: HostOpt = "127.0.0.1", port: int = 8001) -> None:
    """Serve the ingest API."""
    serve("services.ingest.app:create_app", host, port)


@cli.command()
def counter(host: HostOpt = "127.0.0.1", port: int = 8002) -> None:
    """Serve the counter API."""
    serve("services.counter.app:create_app", host, port)


@cli.command()
def edge(host: HostOpt = "127.0.0.1", port: int = 8000) -> None:
    """Serve the preview edge (site bucket at /, APIs under /api/); compose uses nginx."""
    serve("services.edge.preview:create_app", host, port)


def _celery_app() -> object:
    from services.render.settings import RenderSettings
    from shared.celery_app import configure_celery
    from shared.logging import configure_logging

    settings = RenderSettings()
    configure_logging(settings.log_level, settings.log_json)
    app = configure_celery(settings, visibility_timeout=settings.visibility_timeout)
    import services.ingest.tasks
    import services.render.tasks  # noqa: F401  (registers the tasks)

    return app


@cli.command("render-worker")
def render_worker(
    concurrency: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    name: Annotated[str, typer.Option(help="Node name")] = "render",
    pool: Annotated[str, typer.Option(help="prefork, threads or solo")] = "prefork",
) -> None:
    """Run a Celery worker for rendering and the periodic jobs."""
    from services.render.settings import RenderSettings
    from services.render.tasks import build_context
    from shared.celery_app import PERIODIC_QUEUE, RENDER_QUEUE, queue_name

    app = _celery_app()
    settings = RenderSettings()
    ctx = build_context(settings)
    ctx.theme.publish_assets(ctx.storage.site, settings.asset_cache_control)
    queues = ",".join(queue_name(settings, q) for q in (RENDER_QUEUE, PERIODIC_QUEUE))
    app.worker_main(  # type: ignore[attr-defined]
        [
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


@cli.command()
def scheduler(
    state: Annotated[Path, typer.Option(help="Where beat keeps its schedule state")] = Path(
        ".pressroom/celerybeat-schedule"
    ),
) -> None:
    """Run Celery beat: the reconciler and the counter rollups. Run exactly one."""
    from shared.celery_app import install_schedule

    app = _celery_app()
    install_schedule(app)  # type: ignore[arg-type]
    state.parent.mkdir(parents=True, exist_ok=True)
    app.start(["beat", f"--schedule={state}", "--loglevel=INFO"])  # type: ignore[attr-defined]


@cli.command()
def init(
    feed: Annotated[str | None, typer.Option(help="Also make sure this feed exists")] = None,
    key: Annotated[str | None, typer.Option(help="...with this key (development)")] = None,
) -> None:
    """Create the buckets (idempotent); optionally register a feed with a known key."""
    from services.ingest.feeds import FeedRegistry
    from shared.settings import CommonSettings
    from shared.storage import Storage

    storage = Storage.from_settings(CommonSettings())
    storage.ensure_buckets()
    if feed and key:
        FeedRegistry(storage.data).ensure(feed, key)
    console.print(f"[green]ready[/]: buckets {storage.site.name}, {storage.data.name}")


def _registry() -> FeedRegistry:
    from services.ingest.feeds import FeedRegistry
    from shared.settings import CommonSettings
    from shared.storage import Storage

    return FeedRegistry(Storage.from_settings(CommonSettings()).data, cache_seconds=0)


@feeds_cli.command("add")
def feeds_add(
    name: str,
    signed: Annotated[bool, typer.Option(help="Also require an HMAC body signature")] = False,
) -> None:
    """Create a feed (or give it a new key). The key is printed once and never stored."""
    import secrets

    registry = _registry()
    secret = secrets.token_hex(32) if signed else None
    feed, key = registry.add(name, signing_secret=secret)
    console.print(f"feed [bold]{feed.name}[/] key (shown once): [bold yellow]{key}[/]")
    if secret:
        console.print(f"signing secret (shown once): [bold yellow]{secret}[/]")


@feeds_cli.command("list")
def feeds_list() -> None:
    """List feeds and whether their key is active."""
    registry = _registry()
    table = Table("feed", "created", "state", "signed")
    for feed in sorted(registry.all(), key=lambda f: f.name):
        state = "active" if feed.active else f"revoked {feed.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(
            feed.name,
            f"{feed.created_at:%Y-%m-%d %H:%M}",
            state,
            "yes" if feed.signing_secret else "no",
        )
    console.print(table)


@feeds_cli.command("revoke")
def feeds_revoke(name: str) -> None:
    """Revoke a feed's key at once (ingest notices within its cache window)."""
    registry = _registry()
    if registry.revoke(name) is None:
        console.print(f"[red]no feed {name!r}[/]")
        raise typer.Exit(1)
    console.print(f"feed [bold]{name}[/] revoked")


@cli.command()
def run(
    home: Annotated[Path, typer.Option(help="Where data and logs live")] = Path(".pressroom"),
    port: Annotated[int, typer.Option(help="Port of the site (edge)")] = 8000,
    sample: Annotated[bool, typer.Option(help="Publish the sample article")] = True,
) -> None:
    """Start the whole system on embedded Valkey and SeaweedFS; Ctrl-C stops it."""
    from services.stack.present import publish_sample, show_urls
    from services.stack.run import Ports, Stack

    stack = Stack(home.resolve(), Ports(edge=port, ingest=port + 1, counter=port + 2))
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with console.status("starting Valkey and SeaweedFS..."):
            stack.start_infra()
        with console.status("starting ingest, counter, render worker, scheduler, edge..."):
            key = stack.start_apps()
        if sample:
            publish_sample(stack, key)
        show_urls(console, stack, key, stack.write_run_file(key))
        while not stopping:
            time.sleep(0.5)
            for name, server in stack.apps.items():
                if not server.running and not stopping:
                    console.print(f"[red]{name} exited[/]; see {server.log_path}")
                    stopping = True
    finally:
        with console.status("stopping..."):
            stack.stop()
        console.print("stopped; data kept in", str(home))


def main() -> None:
    cli()
