"""No acknowledged hit is lost: not when the counter is SIGKILLed under load, not when
Valkey restarts (AOF), which also empties its script cache under the running counter."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.stack import servers
from tests.counter.conftest import start_counter

pytestmark = pytest.mark.slow
ACKED_LUA = Path(__file__).with_name("acked.lua")


def acknowledged(wrk_output: str) -> int:
    match = re.search(r"^acked=(\d+)$", wrk_output, re.MULTILINE)
    assert match, wrk_output
    return int(match.group(1))


@pytest.fixture
def own_valkey(tmp_path: Path) -> Iterator[tuple[servers.Server, int]]:
    port = servers.free_port()
    valkey = servers.valkey(port, tmp_path / "valkey", tmp_path / "valkey.log").start()
    servers.wait_valkey(valkey, port)
    yield valkey, port
    valkey.stop()


def test_sigkill_under_load_loses_no_acknowledged_hit(
    own_valkey: tuple[servers.Server, int], tmp_path: Path
) -> None:
    _, port = own_valkey
    counter = start_counter(tmp_path, f"redis://127.0.0.1:{port}/0", dedupe_seconds="0")
    article = counter.publish()
    argv = ["wrk", "-t2", "-c64", "-d3s", "-s", str(ACKED_LUA), f"{counter.url}/v1/hits/{article}"]
    wrk = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)

    counter.server.kill()  # SIGKILL, with a pipeline's worth of hits in flight
    output, _ = wrk.communicate(timeout=30)

    counted = int(counter.redis.get(counter.keys.hits(article)) or 0)
    assert acknowledged(output) > 500, output  # it was under load
    assert counted >= acknowledged(output)


def test_counts_survive_a_valkey_restart_and_counting_resumes(
    own_valkey: tuple[servers.Server, int], tmp_path: Path
) -> None:
    valkey, port = own_valkey
    counter = start_counter(tmp_path, f"redis://127.0.0.1:{port}/0", dedupe_seconds="0")
    article = counter.publish()
    with counter.client() as http:
        before = [http.post(f"/v1/hits/{article}").json()["count"] for _ in range(5)]

        valkey.stop()  # graceful: the AOF is flushed
        restarted = servers.valkey(port, tmp_path / "valkey", tmp_path / "valkey.log").start()
        servers.wait_valkey(restarted, port)
        after = resume(http, article)
    restarted.stop()
    counter.server.stop()

    assert before == [1, 2, 3, 4, 5]
    assert after == 6  # the count came back from the AOF; the script was loaded again


def resume(http: httpx.Client, article: str) -> int:
    """The first hits after the restart may find the connection gone (503); a reader's next
    view is counted."""
    for _ in range(20):
        answer = http.post(f"/v1/hits/{article}")
        if answer.status_code == 200:
            return int(answer.json()["count"])
        assert answer.status_code == 503, answer.text
        time.sleep(0.2)
    raise AssertionError("counting did not resume")
