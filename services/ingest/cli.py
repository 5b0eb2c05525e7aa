"""`pressroom ingest` (serve the API) and `pressroom feeds ...` (feed keys)."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.ingest.feeds import FeedRegistry
from shared.settings import CommonSettings
from shared.storage import Storage

feeds_cli = typer.Typer(
    help="Manage the feeds allowed to publish, and their keys.", no_args_is_help=True
)
console = Console()


def _registry() -> FeedRegistry:
    return FeedRegistry(Storage.from_settings(CommonSettings()).data, cache_seconds=0)


@feeds_cli.command("add")
def feeds_add(
    name: str,
    signed: Annotated[
        bool, typer.Option(help="Also require an HMAC signature of timestamp and body")
    ] = False,
) -> None:
    """Create a feed (or give it a new key). The key is printed once and never stored."""
    secret = secrets.token_hex(32) if signed else None
    feed, key = _registry().add(name, signing_secret=secret)
    console.print(f"feed [bold]{feed.name}[/] key (shown once): [bold yellow]{key}[/]")
    if secret:
        console.print(f"signing secret (shown once): [bold yellow]{secret}[/]")


@feeds_cli.command("list")
def feeds_list() -> None:
    """List feeds and whether their key is active."""
    table = Table("feed", "created", "state", "signed")
    for feed in sorted(_registry().all(), key=lambda f: f.name):
        state = "active" if feed.active else f"revoked {feed.revoked_at:%Y-%m-%d %H:%M}"
        signed = "yes" if feed.signing_secret else "no"
        table.add_row(feed.name, f"{feed.created_at:%Y-%m-%d %H:%M}", state, signed)
    console.print(table)


@feeds_cli.command("revoke")
def feeds_revoke(name: str) -> None:
    """Revoke a feed's key at once (ingest notices within its cache window)."""
    if _registry().revoke(name) is None:
        console.print(f"[red]no feed {name!r}[/]")
        raise typer.Exit(1)
    console.print(f"feed [bold]{name}[/] revoked")
