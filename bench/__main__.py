"""`python -m bench [NAME ...]` (or `make bench`): run the benchmarks in bench/bench_*.py.

Each module has `main() -> None`; it starts what it needs (usually a `services.stack` Stack
in a temporary directory), prints a table with its baseline, and says what to record in
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = [n for n in names if not argv or n.removeprefix("bench_") in argv or n in argv]
    if not wanted:
        sys.exit(f"no benchmark matches {argv}; have: {', '.join(names)}")
    for name in wanted:
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
