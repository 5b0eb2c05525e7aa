"""`pressroom run`: the whole system on one machine, on embedded Valkey and SeaweedFS.

The same `Stack` starts the end-to-end test fixtures, so tests run what users run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.edge import nginx
from services.edge.settings import EdgeSettings
from services.ingest.feeds import new_secrets_key
from services.stack import servers
from services.stack.servers import S3Access, Server
from shared.settings import PLACEHOLDER_SECRETS, CommonSettings

CREDENTIAL_VARIABLES = ("PRESSROOM_S3_ACCESS_KEY_ID", "PRESSROOM_S3_SECRET_ACCESS_KEY")


def s3_credentials(home: Path) -> tuple[str, str]:
    """The embedded store's key pair: the operator's, when PRESSROOM_S3_ACCESS_KEY_ID and a
    real PRESSROOM_S3_SECRET_ACCESS_KEY are in the environment; else one made for this home
    and kept in it (readable by its owner only), so tools pointed at it keep working."""
    given = [os.environ.get(name, "") for name in CREDENTIAL_VARIABLES]
    if given[0] and given[1].lower() not in PLACEHOLDER_SECRETS | {"pressroom"}:
        return given[0], given[1]
    path = home / "s3-credentials.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        made = {"access_key_id": "pressroom-dev", "secret_access_key": secrets.token_urlsafe(32)}
        path.write_text(json.dumps(made, indent=2) + "\n")
    kept = json.loads(path.read_text())
    return str(kept["access_key_id"]), str(kept["secret_access_key"])


@dataclass
class Ports:
    edge: int = 8000
    ingest: int = 8001
    counter: int = 8002
    valkey: int = 6399
    s3: int = 8333


@dataclass
class Stack:
    """Valkey, SeaweedFS, ingest, counter, a render worker, the scheduler and the edge (nginx
    with compose's configuration)."""

    home: Path
    ports: Ports = field(default_factory=Ports)
    feed: str = "dev"
    prefix: str = "pr:"
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    infra: dict[str, Server] = field(default_factory=dict)
    apps: dict[str, Server] = field(default_factory=dict)
    credentials: tuple[str, str] = ("", "")
    edge_prefix: Path | None = None  # nginx's scratch directory (config, cache)

    def __post_init__(self) -> None:
        if not all(self.credentials):
            self.credentials = s3_credentials(self.home)

    @property
    def env(self) -> dict[str, str]:
        p = self.ports
        return {
            "PRESSROOM_ENVIRONMENT": "development",
            "PRESSROOM_REDIS_URL": f"redis://127.0.0.1:{p.valkey}/0",
            "PRESSROOM_S3_ENDPOINT_URL": f"http://127.0.0.1:{p.s3}",
            "PRESSROOM_S3_ACCESS_KEY_ID": self.credentials[0],
            "PRESSROOM_S3_SECRET_ACCESS_KEY": self.credentials[1],
            "PRESSROOM_KEY_PREFIX": self.prefix,
            "PRESSROOM_FEED_SECRETS_KEY": self.feed_secrets_key(),
            "PRESSROOM_SITE_BASE_URL": f"http://127.0.0.1:{p.edge}",
            "PRESSROOM_INGEST_UPSTREAM": f"http://127.0.0.1:{p.ingest}",
            "PRESSROOM_COUNTER_UPSTREAM": f"http://127.0.0.1:{p.counter}",
            "PRESSROOM_LOG_JSON": "false",
            # Development counts every view: a reload within the 30 s dedupe window and a
            # headless browser (the browser test is one) both raise 点击量.
            "PRESSROOM_DEDUPE_SECONDS": "0",
            "PRESSROOM_COUNT_HEADLESS": "true",
            # Development fetches pictures from local servers (the tests' among them).
            "PRESSROOM_MEDIA_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
            **self.extra_env,
        }

    @property
    def urls(self) -> dict[str, str]:
        p = self.ports
        return {
            "site_url": f"http://127.0.0.1:{p.edge}/",
            "ingest_url": f"http://127.0.0.1:{p.ingest}",
            "counter_url": f"http://127.0.0.1:{p.counter}",
            "edge_ingest_url": f"http://127.0.0.1:{p.edge}/api/ingest",
            "edge_counter_url": f"http://127.0.0.1:{p.edge}/api/counter",
            "s3_url": f"http://127.0.0.1:{p.s3}",
            "redis_url": f"redis://127.0.0.1:{p.valkey}/0",
        }

    def settings(self, **overrides: object) -> CommonSettings:
        """Settings reaching this stack's servers with its credentials (tests, benchmarks)."""
        values: dict[str, object] = {
            "environment": "test",
            "redis_url": self.urls["redis_url"],
            "s3_endpoint_url": self.urls["s3_url"],
            "s3_access_key_id": self.credentials[0],
            "s3_secret_access_key": self.credentials[1],
            "key_prefix": self.prefix,
        }
        return CommonSettings(**(values | overrides))  # type: ignore[arg-type]

    @property
    def site_bucket(self) -> str:
        """The bucket readers may GET from: the one every process of this stack is told."""
        named = self.extra_env.get("PRESSROOM_SITE_BUCKET")
        return named or CommonSettings(environment="development").site_bucket

    # --- lifecycle -----------------------------------------------------------------------

    def start_infra(self) -> None:
        logs = self.home / "logs"
        p = self.ports
        self.infra["valkey"] = servers.valkey(
            p.valkey, self.home / "valkey", logs / "valkey.log"
        ).start()
        access = S3Access(*self.credentials, public_read=(self.site_bucket,))
        try:
            self.infra["s3"] = servers.seaweedfs(
                p.s3, self.home / "s3", logs / "s3.log", access=access
            ).start()
            servers.wait_valkey(self.infra["valkey"], p.valkey)
            servers.wait_seaweedfs(self.infra["s3"], p.s3)
        except BaseException:
            self.kill()  # a failed start leaves nothing running
            raise

    def start_apps(self) -> str:
        """Create buckets and the feed key, start every Pressroom process; return the key."""
        key = self.feed_key()
        self.pressroom("init", "--feed", self.feed, "--key", key)
        p = self.ports
        self.start_app("ingest", "ingest", "--port", str(p.ingest))
        self.start_app("counter", "counter", "--port", str(p.counter))
        self.start_edge()
        for n in range(self.workers):
            self.start_app(f"render-worker-{n}", "render-worker", "--name", f"render{n}")
        # each stack's beat keeps its own schedule file: two beats sharing one would corrupt it
        self.start_app("scheduler", "scheduler", "--state", str(self.home / "celerybeat-schedule"))
        for name, port in (("ingest", p.ingest), ("counter", p.counter), ("edge", p.edge)):
            servers.wait_until(
                lambda port=port: (
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success
                    or httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code < 500
                ),
                name,
                server=self.apps[name],
            )
        return key

    def edge_settings(self) -> EdgeSettings:
        """The edge's settings as this stack's processes see them (environment, then ours)."""
        given = {
            name.removeprefix("PRESSROOM_").lower(): value
            for name, value in self.env.items()
            if name.startswith("PRESSROOM_")
        }
        known = {k: v for k, v in given.items() if k in EdgeSettings.model_fields}
        return EdgeSettings(**known)  # type: ignore[arg-type]

    def start_edge(self) -> Server:
        """nginx with the edge config compose runs, filled in with this stack's addresses."""
        if self.edge_prefix is None:
            self.edge_prefix = nginx.new_prefix()  # reachable by `nobody` (nginx.py)
        values = nginx.values_from(self.edge_settings(), self.ports.edge)
        server = nginx.nginx_edge(self.edge_prefix, values, self.home / "logs" / "edge.log")
        self.apps["edge"] = server.start()
        return server

    def start_app(self, name: str, *argv: str) -> Server:
        log = self.home / "logs" / f"{name}.log"
        server = Server(name, [sys.executable, "-m", "services", *argv], log, env=self.env)
        self.apps[name] = server.start()
        return server

    def pressroom(self, *argv: str) -> None:
        """Run one `pressroom` command against this stack."""
        subprocess.run(
            [sys.executable, "-m", "services", *argv], check=True, env={**os.environ, **self.env}
        )

    def feed_key(self) -> str:
        path = self.home / "feed-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"prk_dev_{secrets.token_urlsafe(24)}\n")
            path.chmod(0o600)
        return path.read_text().strip()

    def feed_secrets_key(self) -> str:
        """The key sealing feeds' signing secrets: the operator's, else one made for this
        home and kept in it (readable by its owner only)."""
        if given := os.environ.get("PRESSROOM_FEED_SECRETS_KEY", ""):
            return given
        path = self.home / "feed-secrets-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(new_secrets_key() + "\n")
        return path.read_text().strip()

    def stop(self) -> None:
        """Stop every process gracefully, Pressroom's first; whatever happens meanwhile (a
        stop that fails, a second Ctrl-C), nothing is left running."""
        try:
            for group in (list(self.apps.values()), list(self.infra.values())):
                for server in group:  # all at once: each takes seconds to finish its work
                    server.terminate()
                for server in group:
                    server.stop()
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL every process of the stack (what is already stopped is left alone)."""
        failures: list[Exception] = []
        for server in [*self.apps.values(), *self.infra.values()]:
            try:
                server.kill()
            except Exception as exc:  # one stuck process must not spare the others
                failures.append(exc)
        if self.edge_prefix is not None and not failures:
            shutil.rmtree(self.edge_prefix, ignore_errors=True)
            self.edge_prefix = None
        if failures:
            raise failures[0]

    def write_run_file(self, key: str) -> Path:
        """run.json, written whole or not at all: whoever waits for it (a script, the tests)
        may read it the moment it appears."""
        path = self.home / "run.json"
        partial = path.with_name("run.json.partial")
        partial.write_text(json.dumps(self.urls | {"feed": self.feed, "key": key}, indent=2) + "\n")
        partial.replace(path)
        return path
