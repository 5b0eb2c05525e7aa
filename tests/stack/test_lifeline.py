"""Whatever ends the process that started a server (SIGKILL, a signal it does not handle,
an exception before any cleanup), the server and its own children end with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from services.stack import lifeline

# A parent that starts a "server" whose own children share its process group (as Celery's
# pool and granian's workers do), prints every pid, then ends as `ending` says.
PARENT = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    from pathlib import Path
    from services.stack import lifeline
    from services.stack.servers import Server

    ending, log = sys.argv[1], Path(sys.argv[2])
    server = Server("tree", ["sh", "-c", "sleep 600 & sleep 600 & wait"], log)
    if ending == "started-by-a-thread":
        thread = threading.Thread(target=server.start)
        thread.start()
        thread.join()
    else:
        server.start()
    if ending == "watchdog-killed-first":
        os.kill(lifeline.watchdog.pid, signal.SIGKILL)
    print(json.dumps({"server": server.process.pid, "watchdog": lifeline.watchdog.pid}))
    sys.stdout.flush()
    if ending == "exception":
        raise RuntimeError("a failed start that never reaches its cleanup")
    time.sleep(600)
    """
)
ENDINGS = ["SIGKILL", "SIGTERM", "exception", "started-by-a-thread", "watchdog-killed-first"]


def descendants(pid: int, deadline: float) -> list[int]:
    """The pids under the server's pid once both of its children exist."""
    while time.monotonic() < deadline:
        found = [p.pid for p in psutil.Process(pid).children(recursive=True)]
        if len(found) >= 2:
            return found
        time.sleep(0.02)
    raise AssertionError("the server's children never appeared")


def alive(pids: list[int]) -> list[int]:
    living = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                living.append(pid)
        except psutil.NoSuchProcess:
            pass
    return living


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


@pytest.fixture
def parent(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    processes: list[subprocess.Popen[str]] = []

    def start(ending: str) -> subprocess.Popen[str]:
        argv = [sys.executable, "-c", PARENT, ending, str(tmp_path / "tree.log")]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        processes.append(process)
        return process

    yield start  # type: ignore[misc]
    for process in processes:
        process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_server_and_its_children_die_with_the_process_that_started_it(
    parent: object, ending: str
) -> None:
    process: subprocess.Popen[str] = parent(ending)  # type: ignore[operator]
    assert process.stdout is not None
    started = json.loads(process.stdout.readline())
    tree = [started["server"], *descendants(started["server"], time.monotonic() + 10)]

    if ending in ("SIGKILL", "started-by-a-thread", "watchdog-killed-first"):
        process.send_signal(signal.SIGKILL)
    elif ending == "SIGTERM":
        process.send_signal(signal.SIGTERM)  # not handled: the interpreter runs no cleanup
    process.wait(10)

    if ending == "watchdog-killed-first":  # PDEATHSIG alone: it reaches the server itself
        assert wait_gone(tree[:1]) == []
        for pid in alive(tree):
            os.kill(pid, signal.SIGKILL)
        return
    assert wait_gone(tree) == []
    assert wait_gone([started["watchdog"]]) == []  # and the watchdog does not linger


def test_the_watchdog_spares_what_was_stopped_and_kills_what_was_left() -> None:
    stopped = subprocess.Popen(["sleep", "600"], start_new_session=True)
    left = subprocess.Popen(["sleep", "600"], start_new_session=True)
    watchdog = lifeline.Watchdog()
    try:
        watchdog.watch(stopped.pid)
        watchdog.watch(left.pid)
        watchdog.forget(stopped.pid)

        watchdog.close()  # as this process's death would

        assert left.wait(10) == -signal.SIGKILL
        assert stopped.poll() is None
    finally:
        for process in (stopped, left):
            process.kill()
            process.wait(10)


def test_a_child_started_after_its_parent_died_does_not_run() -> None:
    """The race PDEATHSIG leaves open (the parent dies before prctl) is closed too."""
    preexec = lifeline.die_with_parent()
    assert preexec is not None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child plays a parent that is gone: its recorded parent is not its own
        os.close(read)
        orphan = os.fork()
        if orphan == 0:
            preexec()
            os.write(write, b"ran")
            os._exit(0)
        _, status = os.waitpid(orphan, 0)
        os.write(write, b"killed" if os.WIFSIGNALED(status) else b"exited")
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as answer:
        assert answer.read() == b"killed"


def test_a_watchdog_that_died_is_replaced_and_told_every_group() -> None:
    first, second = (subprocess.Popen(["sleep", "600"], start_new_session=True) for _ in "12")
    watchdog = lifeline.Watchdog()
    try:
        watchdog.watch(first.pid)
        dead = watchdog.pid
        assert dead is not None
        os.kill(dead, signal.SIGKILL)
        assert wait_gone([dead]) == []

        watchdog.watch(second.pid)
        watchdog.close()

        assert watchdog.pid is None
        assert first.wait(10) == second.wait(10) == -signal.SIGKILL
    finally:
        for process in (first, second):
            process.kill()
            process.wait(10)
