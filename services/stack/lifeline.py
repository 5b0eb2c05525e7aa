"""Every process the stack starts dies with the process that started it, however that ends.

Two mechanisms the kernel enforces, so that neither a SIGKILL of the parent nor an error
path it never reached can leave a server running:

- each child gets PR_SET_PDEATHSIG: the kernel sends it SIGKILL when its parent dies;
- a watchdog process holds the read end of a pipe whose only writer is the parent. The
  kernel closes the write end when the parent dies, whatever killed it; on that end of
  file the watchdog SIGKILLs every process group it was told about, so the children's own
  children (Celery's prefork pool, granian's workers), which PDEATHSIG does not reach,
  die too.

`python -m services.stack.lifeline` is the watchdog.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO

PR_SET_PDEATHSIG = 1
# Looked up before any fork: the forked child only calls it (no dlopen between fork and exec).
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)


def die_with_parent() -> Callable[[], None] | None:
    """A Popen preexec_fn making the child die with this process, or None where it cannot.

    The kernel ties PDEATHSIG to the thread that forked the child, so it is set only for
    children started by the main thread (the watchdog covers the others)."""
    if _prctl is None or threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()

    def preexec() -> None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class Watchdog:
    """The parent's side of the watchdog: started on first use, told of each process group."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self._process: subprocess.Popen[bytes] | None = None
        self._pipe: IO[str] | None = None

    def watch(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
            self._send(f"+{pgid}")

    def forget(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)
            self._send(f"-{pgid}")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        """Close the pipe as this process's death would: what is still watched is killed."""
        with self._lock:
            if self._pipe is not None:
                with contextlib.suppress(OSError):
                    self._pipe.close()
            if self._process is not None:
                self._process.wait(10)
            self._pipe = self._process = None
            self._groups.clear()

    def _send(self, line: str) -> None:
        if self._pipe is None or self._process is None or self._process.poll() is not None:
            self._start()  # a watchdog that died is replaced and told every group again
            line = self._all_groups()
        assert self._pipe is not None
        try:
            self._pipe.write(line + "\n")
            self._pipe.flush()
        except BrokenPipeError:
            self._start()
            assert self._pipe is not None
            self._pipe.write(self._all_groups() + "\n")
            self._pipe.flush()

    def _all_groups(self) -> str:
        return "\n".join(f"+{pgid}" for pgid in sorted(self._groups))

    def _start(self) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.close()
        if self._process is not None:  # the one replaced is dead or dies of the closed pipe
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(10)
        read, write = os.pipe()  # not inheritable: no other child keeps the write end open
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "services.stack.lifeline"],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal must not end it first
            )
        finally:
            os.close(read)
        self._pipe = os.fdopen(write, "w")


watchdog = Watchdog()


def main() -> None:
    """The watchdog: read "+pgid" / "-pgid" lines until end of file, then kill what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin:
        sign, pgid = line[:1], line[1:].strip()
        if pgid.isdigit():
            (groups.add if sign == "+" else groups.discard)(int(pgid))
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


if __name__ == "__main__":
    main()
