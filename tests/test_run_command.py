"""`pressroom run` as a developer uses it: it comes up, says where to look, and Ctrl-C
stops every process it started, keeping the data for the next run. However it ends (a start
that fails, SIGTERM, SIGKILL, a stop forced half-way) no process it started survives it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from services.stack.run import Ports
from tests.stack import harness

pytestmark = pytest.mark.slow


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


def test_run_serves_the_sample_and_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = harness.free_ports()
    process = start_run(home, ports)
    try:
        run = wait_for_run_file(home, process)
        edge = serving(ports.edge)
        site = httpx.get(run["site_url"], timeout=10)
        assert site.status_code == 200
        assert "教育部:推动1000所以上高校" in site.text
        assert site.headers["x-frame-options"] == "SAMEORIGIN"  # compose's nginx config
        article = re.search(r'href="(/news/[^"]+\.html)"', site.text)
        assert article, site.text[:500]
        page = httpx.get(run["site_url"].rstrip("/") + article.group(1), timeout=10)
        assert page.status_code == 200
        top = httpx.get(f"{run['edge_counter_url']}/v1/top", timeout=10)
        assert top.json()["window"] == "all"
        missing = httpx.get(run["site_url"] + "no-such-page.html", timeout=10)
        assert missing.status_code == 404
        assert "页面不存在" in missing.text  # the site's own 404 page
        for service in ("ingest", "counter"):
            docs = httpx.get(run[f"{service}_url"] + "/docs", timeout=10)
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
    assert "nginx" in output
    assert f"{run['ingest_url']}/docs" in output  # docs on the service's own port...
    assert f"{run['edge_ingest_url']}/docs" not in output  # ...which the edge does not show
    assert "counter exited; restarting" in output
    assert run["key"] in output
    assert len(children) >= 7  # valkey, seaweedfs, ingest, counter, edge, worker, scheduler
    assert len(edge) >= 2  # nginx's master and its worker
    assert survivors(home) == []
    assert still_running(edge) == []


def test_data_survives_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = harness.free_ports()
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


def wait_for_a_process_to_end(home: Path, count: int) -> None:
    """Until the graceful stop has ended one of the run's processes (the rest still run)."""
    deadline = time.monotonic() + 30
    while len(started_by(home)) >= count:
        assert time.monotonic() < deadline, "the run never began to stop"
        time.sleep(0.05)
