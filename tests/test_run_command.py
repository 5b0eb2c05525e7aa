"""`pressroom run` as a developer uses it: it comes up, says where to look, and Ctrl-C
stops every process it started, keeping the data for the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from services.stack.run import Ports

pytestmark = pytest.mark.slow


def start_run(home: Path, ports: Ports) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "services", "run", f"--home={home}", f"--port={ports.edge}",
        f"--valkey-port={ports.valkey}", f"--s3-port={ports.s3}",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


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


def test_run_serves_the_sample_and_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = Ports.free()
    process = start_run(home, ports)
    try:
        run = wait_for_run_file(home, process)
        site = httpx.get(run["site_url"], timeout=10)
        assert site.status_code == 200
        assert "教育部:推动1000所以上高校" in site.text
        docs = httpx.get(run["ingest_url"] + "/docs", timeout=10)
        assert docs.status_code == 200
        assert run["feed"] == "dev"
        assert run["key"].startswith("prk_")
        kill_child(process, "counter")  # a crashed process is restarted, as compose would
        deadline = time.monotonic() + 30
        while not counter_answers(run["counter_url"]):
            assert time.monotonic() < deadline, "counter was not restarted"
            time.sleep(0.2)
    finally:
        code, output, children = interrupt(process)

    assert code == 0, output
    assert "Pressroom is running" in output
    assert "counter exited; restarting" in output
    assert run["key"] in output
    assert len(children) >= 7  # valkey, seaweedfs, ingest, counter, edge, worker, scheduler
    time.sleep(0.5)
    assert [
        pid
        for pid in children
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ] == []


def test_data_survives_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = Ports.free()
    first = start_run(home, ports)
    try:
        run = wait_for_run_file(home, first)
        key = run["key"]
        article = {"external_id": "survivor", "title": "重启之后仍在", "channel": "news"}
        headers = {"Authorization": f"Bearer {key}"}
        accepted = httpx.post(run["ingest_url"] + "/v1/articles", json=article, headers=headers)
        assert accepted.status_code == 202
        article_url = accepted.json()["url"]
        deadline = time.monotonic() + 10
        while httpx.get(article_url).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        interrupt(first)
    (home / "run.json").unlink()

    second = start_run(home, ports)
    try:
        run = wait_for_run_file(home, second)
        assert run["key"] == key  # the development key is kept too
        page = httpx.get(article_url, timeout=10)
        status = httpx.get(
            f"{run['ingest_url']}/v1/articles/{accepted.json()['id']}", headers=headers
        )
    finally:
        interrupt(second)
    assert page.status_code == 200
    assert "重启之后仍在" in page.text
    assert status.json()["status"] == "published"
