"""What a rebuild reports (pages written, unchanged, failed), and how it walks the archive."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

BATCH = 250


@dataclass
class Summary:
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    resumed: int = 0
    failures: list[str] = field(default_factory=list)

    def count(self, outcome: bool | None, what: str) -> None:
        if outcome is None:
            self.failed += 1
            self.failures.append(what)
        elif outcome:
            self.written += 1
        else:
            self.unchanged += 1

    def add(self, other: Summary) -> None:
        self.written += other.written
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.failures += other.failures


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
