"""What `pressroom run` shows: the sample articles published, and where to look."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.panel import Panel

from services.edge.nginx import TEMPLATE
from services.stack.run import Stack
from shared.settings import REPO_ROOT

SAMPLES = REPO_ROOT / "config" / "samples"
EDGE_CONFIG = TEMPLATE.relative_to(REPO_ROOT)


def publish_sample(stack: Stack, key: str, timeout: float = 30.0) -> list[str]:
    """POST every sample article through ingest and wait until their pages are live."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    urls = []
    for path in sorted(SAMPLES.glob("*.json")):
        answer = httpx.post(
            f"{stack.urls['ingest_url']}/v1/articles", content=path.read_bytes(), headers=headers
        )
        answer.raise_for_status()
        urls.append(answer.json()["url"])
    # the printed URLs must work: wait for the pages and for the home page listing them. A
    # new site has a home page from the start, which the samples' flush fills: it is read
    # from the bucket, since the edge would keep the empty one as long as it may cache it.
    deadline = time.monotonic() + timeout
    for page in urls:
        while httpx.get(page).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
    paths = [httpx.URL(url).path for url in urls]
    stored_home = f"{stack.urls['s3_url']}/{stack.site_bucket}/index.html"
    while time.monotonic() < deadline:
        home = httpx.get(stored_home)
        if home.status_code == 200 and all(path in home.text for path in paths):
            break
        time.sleep(0.1)
    return urls


def show_urls(console: Console, stack: Stack, key: str, run_file: Path) -> None:
    u = stack.urls
    samples = sorted(SAMPLES.glob("*.json"))
    example = samples[0].relative_to(REPO_ROOT) if samples else "article.json"
    lines = [
        f"[bold]site[/]          {u['site_url']}",
        f"[bold]edge[/]          nginx, {EDGE_CONFIG} (as in compose)",
        f"[bold]public API[/]    {u['edge_ingest_url']}/v1/..., {u['edge_counter_url']}/v1/...",
        f"[bold]ingest API[/]    {u['ingest_url']}/docs   (the service's own port)",
        f"[bold]counter API[/]   {u['counter_url']}/docs   (the service's own port)",
        f"[bold]feed[/]          {stack.feed}",
        f"[bold]feed key[/]      {key}",
        "",
        "publish an article:",
        f"  curl -X POST -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\",
        f"       --data @{example} {u['ingest_url']}/v1/articles",
        "",
        f"these are also in {run_file}; logs in {stack.home / 'logs'}; Ctrl-C stops everything",
    ]
    console.print(Panel("\n".join(lines), title="Pressroom is running", expand=False))
