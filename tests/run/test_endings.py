"""However `pressroom run` ends (a start that fails, SIGTERM, SIGKILL, a stop forced
half-way), no process it started survives it."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from tests.run.processes import (
    serving,
    start_run,
    started_by,
    still_running,
    survivors,
    wait_for_a_process_to_end,
    wait_for_run_file,
)
from tests.stack import harness

pytestmark = pytest.mark.slow


def test_a_start_that_fails_leaves_nothing_running(tmp_path: Path) -> None:
    """SeaweedFS cannot bind its port (a stopping stack still holds it) after Valkey is up."""
    home, ports = tmp_path / "home", harness.free_ports()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports.s3))
        holder.listen()
        process = start_run(home, ports, "--no-sample")
        output, _ = process.communicate(timeout=120)

    assert process.returncode != 0
    assert "seaweedfs" in output.decode()
    assert (home / "logs" / "valkey.log").exists()  # Valkey had been started
    assert survivors(home) == []


@pytest.mark.parametrize("ending", ["SIGTERM", "SIGKILL", "SIGKILL while stopping", "Ctrl-C twice"])
def test_no_process_outlives_the_run_however_it_ends(tmp_path: Path, ending: str) -> None:
    home, ports = tmp_path / "home", harness.free_ports()
    process = start_run(home, ports, "--no-sample")
    try:
        wait_for_run_file(home, process)
        started = [p.name() for p in started_by(home)]
        edge = serving(ports.edge)
        if ending == "SIGTERM":
            process.send_signal(signal.SIGTERM)
        elif ending == "SIGKILL":
            process.send_signal(signal.SIGKILL)
        else:  # a graceful stop begins (the Celery worker takes seconds), then is cut short
            process.send_signal(signal.SIGTERM if ending.startswith("SIGKILL") else signal.SIGINT)
            wait_for_a_process_to_end(home, len(started))
            process.send_signal(signal.SIGKILL if ending.startswith("SIGKILL") else signal.SIGINT)
        process.wait(60)
    finally:
        process.kill()
        process.communicate()

    assert len(started) >= 7  # valkey, weed, ingest, counter, worker (+ pool), beat
    assert len(edge) >= 2  # nginx's master and its worker
    assert survivors(home) == []
    assert still_running(edge) == []
    if ending == "SIGTERM":
        assert process.returncode == 0
