"""Container health probe for every Pressroom process: the image's HEALTHCHECK.

Healthy means the process answers *and* what it depends on answers:
  ingest, counter   GET /readyz on the port it serves (readyz touches Redis and S3)
  render-worker     the worker itself answers a Celery ping sent over the broker
  scheduler         the broker answers PING (beat has no port of its own)
The role is read from the arguments (`healthcheck.py ingest --port 8001`, as compose
names it) or else from PID 1's command line, so a bare `docker run` is probed too.
Exit 0 = healthy, 1 = not (the reason goes to stdout, which `docker inspect` shows).
"""

from __future__ import annotations

import socket
import sys
import urllib.request
from pathlib import Path

DEFAULT_PORTS = {"ingest": 8001, "counter": 8002}


def pressroom_argv(cmdline: list[str]) -> list[str]:
    """The subcommand and options of a `pressroom ...` (or `python -m services ...`) line."""
    for i, arg in enumerate(cmdline):
        if Path(arg).name == "pressroom" or (arg == "services" and cmdline[i - 1] == "-m"):
            return cmdline[i + 1 :]
    return cmdline


def option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return default


def probe_http(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
        return f"readyz {answer.status}"  # a 503 raises HTTPError


def probe_worker(node: str) -> str:
    from celery import Celery

    from shared.settings import CommonSettings

    app = Celery("pressroom-healthcheck", broker=CommonSettings().celery_broker_url)
    replies = app.control.ping(destination=[node], timeout=5)
    if not replies:
        raise RuntimeError(f"worker {node} did not answer a ping")
    return f"worker {node} answered"


def probe_broker() -> str:
    import redis

    from shared.settings import CommonSettings

    url = CommonSettings().celery_broker_url
    redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).ping()
    return "broker answered"


def probe(argv: list[str]) -> str:
    role = argv[0] if argv else ""
    if role in DEFAULT_PORTS:
        return probe_http(int(option(argv, "--port", str(DEFAULT_PORTS[role]))))
    if role == "render-worker":
        return probe_worker(f"{option(argv, '--name', 'render')}@{socket.gethostname()}")
    if role == "scheduler":
        return probe_broker()
    raise RuntimeError(f"no health probe for {' '.join(argv) or 'this process'}")


def main() -> None:
    argv = sys.argv[1:]
    if not argv:
        raw = Path("/proc/1/cmdline").read_bytes().split(b"\0")
        argv = pressroom_argv([part.decode() for part in raw if part])
    try:
        print(probe(argv))
    except Exception as exc:
        print(f"unhealthy: {type(exc).__name__}: {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
