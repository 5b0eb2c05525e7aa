"""Starting `pressroom run` as a developer would, and finding every process it started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from services.stack.run import Ports

MARK = "PRESSROOM_TEST_RUN"  # inherited by every process a run starts: how to find them


def start_run(home: Path, ports: Ports, *options: str) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "services", "run", f"--home={home}", f"--port={ports.edge}",
        f"--valkey-port={ports.valkey}", f"--s3-port={ports.s3}", *options,
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", MARK: f"{home}"}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


def started_by(home: Path) -> list[psutil.Process]:
    """Every live process that a run with this home started (and their children)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == str(home) and process.status() != "zombie":
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def survivors(home: Path, timeout: float = 20.0) -> list[str]:
    """What a run with this home left running, once the kernel has had time to end it."""
    deadline = time.monotonic() + timeout
    while (left := started_by(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    names = []
    for process in left:
        try:
            names.append(" ".join(process.cmdline()))
            process.kill()  # so that a failure here leaves nothing for the next test
        except psutil.NoSuchProcess:
            continue
    return names


def serving(port: int) -> list[psutil.Process]:
    """The process group listening on a port: nginx's master and workers, whose environment
    nginx overwrites with their titles, so that started_by cannot find them."""
    groups = {
        os.getpgid(c.pid)
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr[1] == port and c.pid
    }
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(process.pid) in groups:
                found.append(process)
    return found


def still_running(processes: list[psutil.Process], timeout: float = 20.0) -> list[str]:
    """Which of these processes are alive once the kernel has had time to end them."""
    deadline = time.monotonic() + timeout

    def alive() -> list[psutil.Process]:
        found = []
        for process in processes:
            try:
                if process.is_running() and process.status() != "zombie":
                    found.append(process)
            except psutil.NoSuchProcess:
                continue
        return found

    while (left := alive()) and time.monotonic() < deadline:
        time.sleep(0.1)
    names = [" ".join(p.cmdline()) for p in left]
    for process in left:
        process.kill()
    return names


def wait_for_run_file(home: Path, process: subprocess.Popen[bytes]) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while not (home / "run.json").exists():
        assert process.poll() is None, (process.stdout.read() if process.stdout else b"").decode()
        assert time.monotonic() < deadline, "run.json never appeared"
        time.sleep(0.2)
    return dict(json.loads((home / "run.json").read_text()))


def kill_child(process: subprocess.Popen[bytes], command: str) -> None:
    for child in psutil.Process(process.pid).children(recursive=True):
        if child.cmdline()[1:4] == ["-m", "services", command]:
            os.killpg(child.pid, signal.SIGKILL)  # the process and its workers: a crash
            child.wait(10)
            return
    raise AssertionError(f"no {command} process")


def counter_answers(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def interrupt(process: subprocess.Popen[bytes]) -> tuple[int, str, list[int]]:
    children = [c.pid for c in psutil.Process(process.pid).children(recursive=True)]
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return process.returncode, output.decode(), children


def wait_for_a_process_to_end(home: Path, count: int) -> None:
    """Until the graceful stop has ended one of the run's processes (the rest still run)."""
    deadline = time.monotonic() + 30
    while len(started_by(home)) >= count:
        assert time.monotonic() < deadline, "the run never began to stop"
        time.sleep(0.05)
