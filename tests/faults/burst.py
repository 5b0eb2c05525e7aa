"""A feed publishing a burst of articles from several threads, answers kept for the audit."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.faults.conftest import FaultStack


@dataclass
class Answer:
    external_id: str
    status: int
    body: dict[str, object]
    headers: httpx.Headers
    during_fault: bool


@dataclass
class Burst:
    """Posts articles until stopped; marks answers given while a fault is in force."""

    fs: FaultStack
    name: str
    answers: list[Answer] = field(default_factory=list)
    fault_active: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _numbers: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish_until_stopped(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                external_id = f"{self.name}-{next(self._numbers)}"
            during = self.fault_active
            try:
                reply = self.fs.ingest.post("/v1/articles", json=self.fs.article(external_id))
            except httpx.TransportError:
                continue  # no answer is no promise: the feed would retry
            answer = Answer(
                external_id,
                reply.status_code,
                reply.json() if reply.content else {},
                reply.headers,
                during or self.fault_active,
            )
            with self._lock:
                self.answers.append(answer)

    def accepted(self) -> list[Answer]:
        return [a for a in self.answers if a.status == 202]

    def count(self, status: int) -> int:
        return sum(1 for a in self.answers if a.status == status)

    @contextmanager
    def running(self, threads: int = 4) -> Iterator[Burst]:
        with ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(self.publish_until_stopped) for _ in range(threads)]
            try:
                yield self
            finally:
                self._stop.set()
                for future in futures:
                    future.result()
