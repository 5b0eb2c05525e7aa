"""Tracing is off and free without an OTLP endpoint, on with one (each in a fresh process:
a process has one tracer provider)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit  # pure logic: no server, no browser

PROBE = """
import json, sys, threading
from opentelemetry import trace
from shared.tracing import configure_tracing, server_spans

async def app(scope, receive, send): pass

on = configure_tracing("probe")
print(json.dumps({
    "on": on,
    "provider": type(trace.get_tracer_provider()).__name__,
    "threads": threading.active_count(),
    "sdk_loaded": "opentelemetry.sdk.trace" in sys.modules,
    "requests_wrapped": server_spans(app) is not app,
}))
"""


def probe(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=clean | env, capture_output=True, check=True, text=True
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_without_an_endpoint_nothing_is_installed() -> None:
    assert probe() == {
        "on": False,
        "provider": "ProxyTracerProvider",
        "threads": 1,
        "sdk_loaded": False,
        "requests_wrapped": False,
    }


def test_with_an_endpoint_spans_are_batched_to_it() -> None:
    seen = probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert seen["on"] is True
    assert seen["provider"] == "TracerProvider"
    assert seen["requests_wrapped"] is True


def test_sdk_disabled_wins_over_an_endpoint() -> None:
    seen = probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_SDK_DISABLED="true")
    assert seen["on"] is False
