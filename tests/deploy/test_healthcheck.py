"""The image's health probe (deploy/healthcheck.py) against the running stack: healthy when
the process and what it depends on answer, unhealthy otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from deploy.healthcheck import pressroom_argv
from services.stack.run import Stack
from tests.deploy import catalog
from tests.stack import harness

PROBE = catalog.REPO / "deploy" / "healthcheck.py"


def probe(live: Stack, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROBE), *argv],
        env={**os.environ, **live.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settled(live: Stack, *argv: str, attempts: int = 10) -> subprocess.CompletedProcess[str]:
    """Probe until healthy, as Docker does within a start period (a worker boots slower
    than the APIs the stack waits for)."""
    for _ in range(attempts - 1):
        answer = probe(live, *argv)
        if answer.returncode == 0:
            return answer
        time.sleep(1)
    return probe(live, *argv)


def test_every_running_process_is_reported_healthy(live: Stack) -> None:
    answers = [
        settled(live, "ingest", "--port", str(live.ports.ingest)),
        settled(live, "counter", "--port", str(live.ports.counter)),
        settled(live, "render-worker", "--name", "render0"),
        settled(live, "scheduler"),
    ]

    assert [a.returncode for a in answers] == [0, 0, 0, 0], [a.stdout for a in answers]
    assert answers[0].stdout == "readyz 200\n"
    assert "answered" in answers[2].stdout


def test_a_process_that_does_not_answer_is_unhealthy(live: Stack) -> None:
    silent_port = harness.free_port()

    no_api = probe(live, "ingest", "--port", str(silent_port))
    no_worker = probe(live, "render-worker", "--name", "nobody-runs-this")

    assert no_api.returncode == 1
    assert no_api.stdout.startswith("unhealthy: URLError")
    assert no_worker.returncode == 1
    assert "did not answer" in no_worker.stdout


def test_the_role_is_read_from_the_command_line_docker_started() -> None:
    venv = ["/venv/bin/python", "/venv/bin/pressroom", "counter", "--port", "8002"]
    module = ["python", "-m", "services", "render-worker", "--name", "render1"]

    assert pressroom_argv(venv) == ["counter", "--port", "8002"]
    assert pressroom_argv(module) == ["render-worker", "--name", "render1"]
