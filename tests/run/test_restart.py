"""`pressroom run` keeps the data (and the development key) for the next run."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.run.processes import interrupt, start_run, wait_for_run_file
from tests.stack import harness

pytestmark = pytest.mark.slow


def test_data_survives_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = harness.free_ports()
    first = start_run(home, ports, "--no-sample")  # its own article is what must survive
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

    second = start_run(home, ports, "--no-sample")
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
