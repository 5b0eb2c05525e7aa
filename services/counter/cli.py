"""`pressroom counter`: serve the counter (bare invocation), or `restore` it from a snapshot."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

counter_cli = typer.Typer(
    help="Serve the counter API, or restore counts from a snapshot.",
    invoke_without_command=True,
)
console = Console()
RSGI_TARGET = "services.counter.rsgi:create_rsgi_server"  # granian: hits answered natively
ASGI_TARGET = "services.counter.app:create_server"  # uvicorn


@counter_cli.callback()
def counter(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: int = 8002,
    server: Annotated[
        str, typer.Option(help="granian (measured faster, see docs/BENCHMARKS.md) or uvicorn")
    ] = "granian",
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes serving requests (granian only)")
    ] = 1,
) -> None:
    """Serve the counter API (the default when no subcommand is given)."""
    if ctx.invoked_subcommand is not None:
        return
    if server == "uvicorn":
        serve_uvicorn(host, port)
    elif server == "granian":
        serve_granian(host, port, workers)
    else:
        raise typer.BadParameter("granian or uvicorn", param_hint="--server")


def serve_granian(host: str, port: int, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    # One worker by default: the group commit batches best in one process (two measured
    # slower on 2 cores); --workers on machines with cores to spare, or more replicas.
    # The counter has no websocket route: without websockets, every request the RSGI app
    # sees is HTTP.
    Granian(
        RSGI_TARGET, address=host, port=port, interface=Interfaces.RSGI, factory=True,
        workers=workers, loop=Loops.uvloop, log_access=False, websockets=False,
    ).serve()  # fmt: skip


def serve_uvicorn(host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        ASGI_TARGET, factory=True, host=host, port=port, access_log=False, log_level="warning"
    )


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
