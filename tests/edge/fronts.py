"""The edge in front of given upstreams: Debian's nginx with services/edge/nginx.conf.template
filled in as compose fills it (only addresses, port and scratch paths differ), for tests that
need an edge in front of something other than the session stack."""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from services.edge import nginx
from services.stack import servers
from tests.deploy import catalog
from tests.stack import harness

COMPOSE_EDGE_ENV = {  # as compose fills it in with no .env: the defaults
    name: catalog.interpolate(str(value), {})
    for name, value in catalog.compose()["services"]["edge"]["environment"].items()
}


def local_values(urls: dict[str, str], port: int) -> dict[str, str]:
    """Compose's edge environment with this machine's addresses in place of the services'."""
    return {
        **COMPOSE_EDGE_ENV,
        "EDGE_PORT": str(port),
        "EDGE_RESOLVER": "127.0.0.1",  # the upstreams are addresses: nothing is looked up
        "PRESSROOM_S3_ENDPOINT_URL": urls["s3_url"],
        "PRESSROOM_SITE_BUCKET": "pressroom-site",
        "PRESSROOM_INGEST_UPSTREAM": urls["ingest_url"],
        "PRESSROOM_COUNTER_UPSTREAM": urls["counter_url"],
    }


@contextmanager
def running_nginx(urls: dict[str, str], log_dir: Path) -> Iterator[str]:
    """An nginx edge in front of these upstreams; yields its base URL."""
    prefix = nginx.new_prefix()  # nginx runs as `nobody` when the suite runs as root
    port = harness.free_port()
    values = local_values(urls, port)
    values.pop("EDGE_CACHE_DIR")  # under the scratch prefix instead of /var/cache/nginx
    edge = nginx.nginx_edge(prefix, values, log_dir / f"nginx-edge-{port}.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        servers.wait_until(lambda: httpx.get(f"{url}/healthz").is_success, "nginx", server=edge)
        yield url
    finally:
        edge.stop()
        shutil.rmtree(prefix, ignore_errors=True)


@dataclass(frozen=True)
class Answer:
    status: int
    media: str
    body: bytes
    headers: dict[str, str]


def raw_get(base_url: str, path: str, method: str = "GET") -> Answer:
    """Send `path` byte for byte: httpx would normalize dot segments and re-encode."""
    where = urlsplit(base_url)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
    media = headers.get("content-type", "").split(";")[0]
    return Answer(response.status, media, body, headers)
