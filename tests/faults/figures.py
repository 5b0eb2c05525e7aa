"""Figures each fault and hostile-input test measured, printed at the end of the run.

docs/RELIABILITY.md quotes them; nothing here is asserted on.
"""

from __future__ import annotations

FIGURES: dict[str, dict[str, object]] = {}


def record(test: str, **figures: object) -> None:
    FIGURES[test] = figures


def summary_lines() -> list[str]:
    lines = []
    for test, figures in FIGURES.items():
        shown = ", ".join(f"{k}={v}" for k, v in figures.items())
        lines.append(f"{test}: {shown}")
    return lines
