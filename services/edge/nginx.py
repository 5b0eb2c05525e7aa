"""Run nginx with the deployed edge config (services/edge/nginx.conf.template) outside Docker:
the edge of `pressroom run` and of the tests' stacks.

The template is filled in the way the nginx image's entrypoint fills it (envsubst of the
named variables only, so nginx's own `$uri` survives), and wrapped in a small main config
that keeps every file nginx writes under one prefix directory: Debian's nginx then runs as
an unprivileged process on any port.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from services.edge.settings import EdgeSettings
from services.stack.servers import Server

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
UNPRIVILEGED_UID = 65534  # nobody: nginx started by root would otherwise keep root's rights
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")

MAIN_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
{temp_paths}
    include {prefix}/conf.d/pressroom.conf;
}}
"""


def placeholders(template: str | None = None) -> set[str]:
    """The variables the edge config needs (what compose must give the edge service)."""
    return set(PLACEHOLDER.findall(TEMPLATE.read_text() if template is None else template))


def render(values: Mapping[str, str], template: str | None = None) -> str:
    """Fill in `${NAME}` for the names given; refuse a config with a name left unset."""
    text = TEMPLATE.read_text() if template is None else template
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"edge config needs {', '.join(sorted(missing))}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def values_from(settings: EdgeSettings, port: int) -> dict[str, str]:
    """The template's values for an edge on this port in front of these settings' upstreams."""
    if settings.s3_endpoint_url is None:
        raise ValueError("the edge needs PRESSROOM_S3_ENDPOINT_URL: where it reads the site")
    return {
        "EDGE_PORT": str(port),
        "PRESSROOM_S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "PRESSROOM_SITE_BUCKET": settings.site_bucket,
        "PRESSROOM_INGEST_UPSTREAM": settings.ingest_upstream,
        "PRESSROOM_COUNTER_UPSTREAM": settings.counter_upstream,
        "PRESSROOM_EDGE_BODY_TIMEOUT_SECONDS": str(settings.edge_body_timeout_seconds),
    }


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if not found:
        raise RuntimeError("nginx not found: install Debian's nginx-light (make system-deps)")
    return found


def new_prefix() -> Path:
    """A scratch directory nginx can reach even when it runs as `nobody` (not under a
    private 0700 tree such as pytest's)."""
    prefix = Path(tempfile.mkdtemp(prefix="pressroom-nginx-"))
    prefix.chmod(0o755)
    return prefix


def write_prefix(prefix: Path, values: Mapping[str, str]) -> Path:
    """Lay out a prefix directory with the filled-in edge config; return the main config."""
    (prefix / "conf.d").mkdir(parents=True, exist_ok=True)
    values = {"EDGE_CACHE_DIR": str(prefix / "cache"), "EDGE_RESOLVER": "127.0.0.1", **values}
    (prefix / "conf.d" / "pressroom.conf").write_text(render(values))
    temp_paths = "\n".join(f"    {name}_temp_path {prefix}/tmp/{name};" for name in TEMP_DIRS)
    main = prefix / "nginx.conf"
    main.write_text(MAIN_CONF.format(prefix=prefix, temp_paths=temp_paths))
    for name in TEMP_DIRS:
        (prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        for path in [prefix, *prefix.rglob("*")]:
            os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    return main


def command(main: Path, *extra: str) -> list[str]:
    argv = [nginx_binary(), "-p", str(main.parent), "-c", str(main), "-e", "stderr", *extra]
    if os.geteuid() == 0:
        uid = str(UNPRIVILEGED_UID)
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]
    return argv


def check(main: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the config: syntax, directives and every path it would open."""
    return subprocess.run(command(main, "-t"), capture_output=True, text=True, check=False)


def nginx_edge(prefix: Path, values: Mapping[str, str], log_path: Path) -> Server:
    """An nginx edge (not started) serving the template filled with values."""
    main = write_prefix(prefix, values)
    return Server("nginx-edge", command(main, "-g", "daemon off;"), log_path)
