"""`pressroom counter`: serve the counter (bare invocation), or `restore` it from a snapshot."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console

counter_cli = typer.Typer(
    help="Serve the counter API, or restore counts from a snapshot.",
    invoke_without_command=True,
)
console = Console()
TARGET = "services.counter.rsgi:create_rsgi_server"
# Granian's own loggers (its Rust core logs as `_granian`) keep no handlers: their records
# reach the root logger, which configure_logging renders as every other line.
GRANIAN_LOGGING: dict[str, Any] = {
    "loggers": {
        "_granian": {"handlers": [], "propagate": True},
        "granian.access": {"handlers": [], "propagate": True},
    }
}


@counter_cli.callback()
def counter(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: int = 8002,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes serving requests")] = 1,
) -> None:
    """Serve the counter API (the default when no subcommand is given)."""
    if ctx.invoked_subcommand is not None:
        return
    serve(host, port, workers)


def serve(host: str, port: int, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    from services.counter.settings import CounterSettings
    from shared.logging import configure_logging

    settings = CounterSettings()
    configure_logging(settings.log_level, settings.log_json)
    # One worker by default: the group commit batches best in one process; --workers on
    # machines with cores to spare, or more replicas. No websocket route: without
    # websockets, every request the RSGI app sees is HTTP.
    Granian(
        TARGET, address=host, port=port, interface=Interfaces.RSGI, factory=True,
        workers=workers, loop=Loops.uvloop, websockets=False, log_access=False,
        log_level=getattr(LogLevels, settings.log_level.lower(), LogLevels.info),
        log_dictconfig=GRANIAN_LOGGING,
    ).serve()  # fmt: skip


@counter_cli.command()
def restore(
    snapshot: Annotated[
        str | None, typer.Option(help="Key of a snapshot in the data bucket (default: latest)")
    ] = None,
) -> None:
    """Rebuild counts from the latest snapshot (never lowers a count Redis already holds)."""
    from services.counter import snapshots
    from services.counter.service import connect
    from services.counter.settings import CounterSettings
    from shared.keys import Keys
    from shared.storage import Storage

    settings = CounterSettings()
    data = Storage.from_settings(settings).data
    name = snapshot or snapshots.latest_snapshot(data, settings.snapshot_prefix)
    if name is None:
        console.print(f"[red]no snapshot[/] under {settings.snapshot_prefix} in {data.name}")
        raise typer.Exit(1)
    document = snapshots.read_snapshot(data, name)

    async def run() -> int:
        redis = connect(settings)
        try:
            return await snapshots.restore(redis, Keys(settings.key_prefix), document)
        finally:
            await redis.aclose()

    restored = asyncio.run(run())
    console.print(f"[green]restored[/] {restored} articles from {name}")
