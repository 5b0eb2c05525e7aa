"""`pressroom run` comes up, serves the sample site through the edge compose runs, says
where to look, restarts a crashed process, and Ctrl-C stops every process it started."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.run.processes import (
    counter_answers,
    interrupt,
    kill_child,
    serving,
    start_run,
    still_running,
    survivors,
    wait_for_run_file,
)
from tests.stack import harness

pytestmark = pytest.mark.slow


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
