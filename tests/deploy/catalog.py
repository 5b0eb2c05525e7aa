"""What the code offers to a deployment, read from the code itself: every `PRESSROOM_`
setting (the pydantic-settings classes) and the `pressroom` command tree (the typer app).
Nothing here is a hand-kept list, so the deployment tests stay true as services grow."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic_settings import BaseSettings

import services
import shared
from services.cli import cli

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Setting:
    env: str  # PRESSROOM_<NAME>
    owner: type[BaseSettings]  # the most basic class that declares it
    default: Any
    description: str
    secret: bool


def settings_classes() -> list[type[BaseSettings]]:
    """Every PRESSROOM_ settings class in a `settings` module of shared/ or services/."""
    for package in (shared, services):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name.rsplit(".", 1)[-1] == "settings":
                importlib.import_module(module.name)
    found: list[type[BaseSettings]] = []
    pending: list[type[BaseSettings]] = [BaseSettings]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.model_config.get("env_prefix") == "PRESSROOM_" and sub not in found:
                found.append(sub)
    return found


def settings() -> dict[str, Setting]:
    """PRESSROOM_<NAME> -> the setting, for every field of every settings class."""
    catalog: dict[str, Setting] = {}
    for cls in settings_classes():
        for name, field in cls.model_fields.items():
            env = f"PRESSROOM_{name.upper()}"
            owner = min(
                (c for c in cls.__mro__ if name in getattr(c, "model_fields", {})),
                key=lambda c: len(c.__mro__),
            )
            default = field.get_default(call_default_factory=True)
            secret = "Secret" in repr(field.annotation)
            catalog[env] = Setting(env, owner, default, field.description or "", secret)
    return catalog


# --- the command tree ---------------------------------------------------------------------


class NotACommand(ValueError):
    """argv names no `pressroom` command, or gives it an option it does not take."""


def parse_command(argv: list[str]) -> list[str]:
    """Parse argv as `pressroom` would, without running it; return the command path."""
    if not argv or Path(argv[0]).name != "pressroom":
        raise NotACommand(f"not a pressroom command: {argv}")
    command: Any = typer.main.get_command(cli)
    path, rest = ["pressroom"], list(argv[1:])
    while hasattr(command, "commands"):  # a group: the next word names a subcommand...
        if getattr(command, "invoke_without_command", False) and (
            not rest or rest[0].startswith("-")
        ):
            break  # ...or, for a group that also runs on its own, options follow
        if not rest or rest[0] not in command.commands:
            raise NotACommand(f"{' '.join(path)} has no command {rest[:1]}")
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    try:
        command.make_context(path[-1], rest)  # parses options and arguments, runs nothing
    except Exception as exc:  # typer's vendored click raises its own UsageError family
        raise NotACommand(f"{' '.join(argv)}: {exc}") from exc
    return path


def commands() -> set[str]:
    """Every runnable command path, e.g. "pressroom feeds add"."""
    found: set[str] = set()

    def walk(command: Any, path: str) -> None:
        if hasattr(command, "commands"):
            if getattr(command, "invoke_without_command", False):
                found.add(path)
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")
        else:
            found.add(path)

    walk(typer.main.get_command(cli), "pressroom")
    return found


# --- the compose file -----------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def interpolate(value: str, env: dict[str, str]) -> str:
    """Fill in `${NAME}`, `${NAME:-default}` and `${NAME:?error}` as compose does."""

    def fill(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"compose would refuse to start: {name} {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-?])([^}]*))?\}", fill, value)


def interpolated(text: str | None = None) -> set[str]:
    """Names compose fills in from the environment or .env (`${NAME...}`)."""
    return set(INTERPOLATION.findall(COMPOSE_FILE.read_text() if text is None else text))
