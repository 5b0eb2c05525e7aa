"""A whole Pressroom stack per fault test, so killing its processes harms no other test.

Every stack runs the real `pressroom` processes over its own Valkey and SeaweedFS (exactly
what `pressroom run` starts); a test stops or SIGKILLs one of them and starts it again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from celery import Celery

from services.stack.run import Stack
from shared.keys import Keys
from shared.storage import Storage
from tests.conftest import FRESH_PAGES, sample
from tests.faults.figures import summary_lines
from tests.stack import harness

# Short enough that a test sees redelivery and reconciliation, long enough that a healthy
# task is never redelivered while it runs.
FAST_RECOVERY = {
    "PRESSROOM_VISIBILITY_TIMEOUT": "5",
    "PRESSROOM_RECONCILE_INTERVAL_SECONDS": "2",
    "PRESSROOM_RECONCILE_GRACE_SECONDS": "2",
    "PRESSROOM_FLUSH_DELAY_SECONDS": "0.2",
}


@dataclass
class FaultStack:
    """One running stack, with clients and the means to break and mend it."""

    stack: Stack
    key: str
    redis: redis.Redis
    storage: Storage
    keys: Keys
    ingest: httpx.Client
    counter: httpx.Client
    edge: httpx.Client
    faults: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)

    def log(self, name: str) -> str:
        path = self.stack.home / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- faults --------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """SIGKILL a Pressroom process (its whole process group: prefork children too)."""
        self.stack.apps[name].kill()
        self.faults.append(f"SIGKILL {name}")

    def stop_infra(self, name: str, *, kill: bool = False) -> None:
        server = self.stack.infra[name]
        server.kill() if kill else server.stop()
        self.faults.append(f"{'SIGKILL' if kill else 'SIGTERM'} {name}")

    def restart_app(self, name: str) -> None:
        """Start a process again with the same command line, as a supervisor would."""
        server = self.stack.apps[name]
        assert not server.running
        server.start()

    def supervise(self, settle: float = 3.0) -> list[str]:
        """Restart whatever exited, as compose's `restart: unless-stopped` would; returns
        what had to be restarted (a defect to report, though nothing may be lost by it)."""
        time.sleep(settle)  # a process that dies of the fault dies within this
        exited = [name for name, server in self.stack.apps.items() if not server.running]
        for name in exited:
            self.stack.apps[name].start()
        self.restarted += exited
        return exited

    def restart_infra(self, name: str) -> None:
        harness.restart_infra(self.stack, name)

    def send_task(self, name: str, queue: str = "periodic", countdown: float = 0) -> None:
        """Put one task on this stack's broker, as beat would."""
        sender = Celery("fault-injector", broker=self.stack.urls["redis_url"])
        try:
            sender.send_task(name, queue=queue, countdown=countdown or None)
        finally:
            sender.close()

    def task_outcomes(self, name: str, outcome: str = "succeeded") -> int:
        """How many runs of a task the render worker logged with this outcome."""
        return len(re.findall(rf"Task {re.escape(name)}\[[^\]]+\] {outcome}", self.workers_log()))

    def workers_log(self) -> str:
        return "".join(self.log(n) for n in self.stack.apps if n.startswith("render-worker"))

    # --- the newsroom's side -------------------------------------------------------------

    def article(self, external_id: str, **changes: object) -> dict[str, object]:
        article: dict[str, object] = json.loads(sample())
        article.update(external_id=external_id, title=f"故障演练 {external_id}")
        article.update(changes)
        return article

    def page(self, url: str) -> bytes | None:
        return self.storage.site.get(site_key(url))

    def renders(self, kind: str = "article") -> int:
        return int(self.redis.hget(self.keys.render_count, kind) or 0)


def site_key(url: str) -> str:
    """Site-bucket key of an absolute page URL answered by ingest."""
    return url.split("/", 3)[3]


def wait_for(probe: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll until probe() holds; recovery times are reported by the test, not asserted."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.2)


def new_stack(home: Path, **extra_env: str) -> Stack:
    return Stack(home, prefix="flt:", extra_env={**FAST_RECOVERY, **FRESH_PAGES, **extra_env})


def start_fault_stack(stack: Stack) -> FaultStack:
    harness.start_on_free_ports(stack)
    key = stack.start_apps()
    settings = stack.settings()
    return FaultStack(
        stack=stack,
        key=key,
        redis=redis.Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5),
        storage=Storage.from_settings(settings),
        keys=Keys(stack.prefix),
        ingest=httpx.Client(
            base_url=stack.urls["ingest_url"],
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ),
        counter=httpx.Client(base_url=stack.urls["counter_url"], timeout=10),
        edge=httpx.Client(base_url=stack.urls["site_url"], timeout=10),
    )


@contextmanager
def running_stack(home: Path, **extra_env: str) -> Iterator[FaultStack]:
    """A private stack for the block; stopped afterwards even if it failed to start."""
    stack = new_stack(home, **extra_env)
    try:
        running = start_fault_stack(stack)
        try:
            yield running
        finally:
            for client in (running.ingest, running.counter, running.edge):
                client.close()
            running.redis.close()
    finally:
        # SIGKILL, not SIGTERM: nothing of a fault stack is kept, and a graceful Celery
        # shutdown costs seconds per test
        stack.kill()


@pytest.fixture
def fault_stack(tmp_path: Path) -> Iterator[Callable[..., FaultStack]]:
    """Factory: `fault_stack(**env)` starts a private stack; it is stopped after the test."""
    with ExitStack() as stacks:

        def start(**extra_env: str) -> FaultStack:
            return stacks.enter_context(running_stack(tmp_path / "stack", **extra_env))

        yield start


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = summary_lines()
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
