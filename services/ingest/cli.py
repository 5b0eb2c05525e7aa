"""`pressroom ingest` (serve the API) and `pressroom feeds ...` (feed keys)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from services.ingest.feeds import Feed, FeedRegistry

feeds_cli = typer.Typer(
    help="Manage the feeds allowed to publish, and their keys.", no_args_is_help=True
)
console = Console()


def _registry() -> FeedRegistry:
    from services.ingest.feeds import FeedRegistry
    from services.ingest.settings import IngestSettings
    from shared.storage import Storage

    settings = IngestSettings()
    return FeedRegistry(Storage.from_settings(settings).data, 0, settings.secret_box())


@feeds_cli.command("add")
def feeds_add(
    name: str,
    signed: Annotated[
        bool, typer.Option(help="Also require an HMAC signature of every request")
    ] = False,
) -> None:
    """Create a feed (or give it a new key). The key is printed once and never stored."""
    from services.ingest.feeds import SecretsKeyMissing

    secret = secrets.token_hex(32) if signed else None
    try:
        feed, key = _registry().add(name, signing_secret=secret)
    except SecretsKeyMissing as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"feed [bold]{feed.name}[/] key (shown once): [bold yellow]{key}[/]")
    if secret:
        console.print(f"signing secret (shown once): [bold yellow]{secret}[/]")


@feeds_cli.command("list")
def feeds_list() -> None:
    """List feeds and whether their key is active."""
    table = Table("feed", "created", "state", "signed")
    for feed in sorted(_registry().all(), key=lambda f: f.name):
        state = "active" if feed.active else f"revoked {feed.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(feed.name, f"{feed.created_at:%Y-%m-%d %H:%M}", state, _signed(feed))
    console.print(table)


def _signed(feed: Feed) -> str:
    if not feed.signs:
        return "no"
    if feed.sealed_signing_secret is None:
        return "yes, secret in plain text: run `pressroom feeds reseal`"
    if feed.signing_secret is None:
        return "yes, secret sealed with a key not in PRESSROOM_FEED_SECRETS_KEY"
    return "yes"


@feeds_cli.command("revoke")
def feeds_revoke(name: str) -> None:
    """Revoke a feed's key at once (ingest notices within its cache window)."""
    if _registry().revoke(name) is None:
        console.print(f"[red]no feed {name!r}[/]")
        raise typer.Exit(1)
    console.print(f"feed [bold]{name}[/] revoked")


@feeds_cli.command("reseal")
def feeds_reseal() -> None:
    """Seal every signing secret with the first key of PRESSROOM_FEED_SECRETS_KEY (secrets
    stored in plain text, or sealed with an older key, are rewritten)."""
    resealed = _registry().reseal()
    console.print(f"sealed {len(resealed)} signing secret(s): {', '.join(resealed) or '-'}")


@feeds_cli.command("new-secrets-key")
def feeds_new_secrets_key() -> None:
    """Print a new key for PRESSROOM_FEED_SECRETS_KEY (to rotate: put it first, keep the old
    one after a comma, run `pressroom feeds reseal`, then drop the old one)."""
    from services.ingest.feeds import new_secrets_key

    typer.echo(new_secrets_key())
