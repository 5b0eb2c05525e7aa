"""Oversized bodies are refused before they are read, and a body that trickles or stalls is
cut off by a timeout instead of holding a connection for ever."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.faults.conftest import FaultStack
from tests.faults.figures import record

LIMIT = 2 * 1024 * 1024  # PRESSROOM_MAX_BODY_BYTES default
STALL_SECONDS = 5.0


def raw_request(port: int, head: str, body: bytes = b"", wait: float = 5.0) -> bytes:
    """Send a request's head (and part of a body) as bytes; return whatever comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


def head(path: str, key: str, extra: str) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\n{extra}"
    )


def test_oversized_bodies_are_refused_with_413(hostile: FaultStack) -> None:
    fs = hostile
    big = b'{"external_id": "big", "title": "big", "body_html": "' + b"x" * (LIMIT + 1) + b'"}'
    direct = fs.ingest.post(
        "/v1/articles", content=big, headers={"Content-Type": "application/json"}
    )
    via_edge = fs.edge.post(
        "/api/ingest/v1/articles",
        content=big,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {fs.key}"},
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while reading
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    chunked = fs.ingest.post(
        "/v1/articles", content=chunks(), headers={"Content-Type": "application/json"}
    )
    for answer in (direct, via_edge, chunked):
        assert answer.status_code == 413, answer.text
        assert answer.headers["content-type"] == "application/problem+json"

    # A 10 GB Content-Length is refused on its head alone: nothing of the body is awaited.
    refused = raw_request(
        fs.stack.ports.ingest, head("/v1/articles", fs.key, "Content-Length: 10000000000\r\n")
    )
    assert refused.startswith(b"HTTP/1.1 413"), refused[:200]
    record("oversized bodies", refused_413=4, limit_bytes=LIMIT)


@pytest.mark.parametrize("through", ["ingest", "edge"])
def test_a_stalled_body_is_cut_off(hostile: FaultStack, through: str) -> None:
    fs = hostile
    port = fs.stack.ports.ingest if through == "ingest" else fs.stack.ports.edge
    path = "/v1/articles" if through == "ingest" else "/api/ingest/v1/articles"
    started = time.monotonic()
    answer = raw_request(
        port,
        head(path, fs.key, "Content-Length: 2000\r\n"),
        b'{"external_id": "slow',
        wait=STALL_SECONDS,
    )
    held = time.monotonic() - started
    record(f"stalled body via {through}", held_seconds=round(held, 1), answer=answer[:12])
    # cut by PRESSROOM_BODY_TIMEOUT_SECONDS / PRESSROOM_EDGE_BODY_TIMEOUT_SECONDS (the
    # hostile stack sets both below STALL_SECONDS), answered rather than dropped
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    if through == "ingest":
        assert b"application/problem+json" in answer
