"""Logs, metrics and traces of the real processes: ingest, a prefork render worker, beat.

One small stack of its own over the session's Valkey and SeaweedFS (own key prefix, queues
and buckets), its processes logging JSON and exporting spans to a receiver in this test.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.stack import servers
from services.stack.run import Ports, Stack
from tests.conftest import sample
from tests.shared.otlp import ReceivedSpan, SpanReceiver
from tests.stack import harness

ARTICLES = 4


@dataclass
class Observed:
    stack: Stack
    receiver: SpanReceiver
    ingest: httpx.Client
    worker_metrics: str
    accepted: list[dict[str, str]]  # ingest's answers, with the trace id each POST carried

    def log_lines(self, name: str) -> list[str]:
        text = (self.stack.home / "logs" / f"{name}.log").read_text()
        written = text[: text.rfind("\n") + 1]  # a line still being written is left out
        return [line for line in written.splitlines() if line.strip()]


def wait_for(probe: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).is_success
    except httpx.HTTPError:
        return False


def start_observed_stack(home: Path, session: Stack, receiver: SpanReceiver) -> Stack:
    tag = uuid.uuid4().hex[:8]
    ports = Ports(
        edge=harness.free_port(),
        ingest=harness.free_port(),
        counter=harness.free_port(),
        valkey=session.ports.valkey,
        s3=session.ports.s3,
    )
    stack = Stack(
        home,
        ports,
        prefix=f"obs{tag}:",
        credentials=session.credentials,
        extra_env={
            "PRESSROOM_LOG_JSON": "true",
            "PRESSROOM_QUEUE_PREFIX": f"obs{tag}.",
            "PRESSROOM_SITE_BUCKET": f"obs-site-{tag}",
            "PRESSROOM_DATA_BUCKET": f"obs-data-{tag}",
            "PRESSROOM_FLUSH_DELAY_SECONDS": "0.2",
            "PRESSROOM_RECONCILE_INTERVAL_SECONDS": "1",  # beat sends (and logs) every second
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: spans reach the receiver soon
        },
    )
    stack.pressroom("init", "--feed", stack.feed, "--key", stack.feed_key())
    stack.start_app("ingest", "ingest", "--port", str(ports.ingest))
    stack.start_app("scheduler", "scheduler", "--state", str(home / "celerybeat-schedule"))
    return stack


def start_worker(stack: Stack, metrics_port: int) -> None:
    """Prefork with two processes: the tasks' counts live in children, /metrics in the parent."""
    metrics_dir = stack.home / "worker-metrics"
    metrics_dir.mkdir()  # prometheus-client writes there from its first import on
    env = stack.env | {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PRESSROOM_WORKER_METRICS_PORT": str(metrics_port),
    }
    argv = [sys.executable, "-m", "services", "render-worker", "--name", "observed"]
    log = stack.home / "logs" / "render-worker.log"
    worker = servers.Server("render-worker", [*argv, "--concurrency", "2"], log, env=env)
    stack.apps["render-worker"] = worker.start()


def traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


@pytest.fixture(scope="module")
def observed(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    with SpanReceiver() as receiver:
        mine = start_observed_stack(tmp_path_factory.mktemp("observed"), stack, receiver)
        try:
            metrics_port = harness.free_port()
            start_worker(mine, metrics_port)
            worker_metrics = f"http://127.0.0.1:{metrics_port}/metrics"
            wait_for(lambda: answers(f"{mine.urls['ingest_url']}/healthz"), "ingest")
            wait_for(lambda: answers(worker_metrics), "the worker's /metrics")
            headers = {"Authorization": f"Bearer {mine.feed_key()}"}
            with httpx.Client(base_url=mine.urls["ingest_url"], headers=headers) as ingest:
                accepted = []
                for n in range(ARTICLES):
                    article = json.loads(sample()) | {"external_id": f"obs-{n}"}
                    trace_id = secrets.token_hex(16)
                    answer = ingest.post(
                        "/v1/articles", json=article, headers={"traceparent": traceparent(trace_id)}
                    )
                    assert answer.status_code == 202, answer.text
                    accepted.append(answer.json() | {"trace_id": trace_id})
                yield Observed(mine, receiver, ingest, worker_metrics, accepted)
        finally:
            for server in mine.apps.values():
                server.kill()


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_worker_metrics_count_every_task_across_its_processes(observed: Observed) -> None:
    def scrape() -> str:
        return httpx.get(observed.worker_metrics, timeout=5).text

    rendered = {"task": "render.article"}
    wait_for(
        lambda: metric(scrape(), "pressroom_tasks_total", **rendered) >= ARTICLES,
        "every render counted",
    )
    text = scrape()

    assert metric(text, "pressroom_tasks_total", state="success", **rendered) == ARTICLES
    assert metric(text, "pressroom_task_seconds_count", **rendered) == ARTICLES
    assert metric(text, "pressroom_task_seconds_sum", **rendered) > 0
    assert metric(text, "pressroom_task_queue_wait_seconds_count", **rendered) == ARTICLES
    # beat's reconciler runs on the same worker and is counted the same way
    wait_for(
        lambda: metric(scrape(), "pressroom_tasks_total", task="ingest.reconcile") >= 1,
        "a reconcile counted",
    )


def descends_from(span: ReceivedSpan, ancestor: ReceivedSpan, spans: list[ReceivedSpan]) -> bool:
    by_id = {s.span_id: s for s in spans}
    parent = by_id.get(span.parent_id)
    while parent is not None:
        if parent.span_id == ancestor.span_id:
            return True
        parent = by_id.get(parent.parent_id)
    return False


def is_page_put(span: ReceivedSpan, page_key: str) -> bool:
    method = span.attributes.get("http.request.method") or span.attributes.get("http.method")
    url = span.attributes.get("url.full") or span.attributes.get("http.url") or ""
    return method == "PUT" and str(url).endswith("/" + page_key)


def test_one_trace_from_the_post_through_the_task_to_the_page_write(observed: Observed) -> None:
    accepted = observed.accepted[0]
    page_key = accepted["url"].split("/", 3)[3]

    def complete(spans: list[ReceivedSpan]) -> bool:
        return any(is_page_put(s, page_key) for s in spans) and any(
            s.name == "POST /v1/articles" for s in spans
        )

    spans = observed.receiver.wait_for_trace(accepted["trace_id"], complete)

    post = next(s for s in spans if s.name == "POST /v1/articles")
    sent = next(s for s in spans if s.name == "apply_async/render.article")
    run = next(s for s in spans if s.name == "run/render.article")
    put = next(s for s in spans if is_page_put(s, page_key))
    assert (post.service, sent.service) == ("pressroom-ingest", "pressroom-ingest")
    assert (run.service, put.service) == ("pressroom-worker", "pressroom-worker")
    assert descends_from(sent, post, spans)
    assert run.parent_id == sent.span_id  # the traceparent crossed the broker in the headers
    assert descends_from(put, run, spans)


def test_every_line_ingest_the_worker_and_beat_log_is_a_json_event(observed: Observed) -> None:
    wait_for(
        lambda: any("Sending due task" in line for line in observed.log_lines("scheduler")),
        "beat sending a task",
    )
    for name in ("ingest", "render-worker", "scheduler"):
        lines = observed.log_lines(name)
        assert lines, f"{name} logged nothing"
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                pytest.fail(f"{name} logged a line that is not JSON: {line!r}")
            assert isinstance(record, dict), line
            assert record.get("event"), f"{name}: no event in {line!r}"
            assert record.get("level"), f"{name}: no level in {line!r}"


def test_a_prefork_worker_without_a_metrics_directory_refuses_to_start(
    observed: Observed,
) -> None:
    """Its /metrics would show the parent's empty values while the children count."""
    env = {k: v for k, v in observed.stack.env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PRESSROOM_WORKER_METRICS_PORT"] = str(harness.free_port())
    argv = [sys.executable, "-m", "services", "render-worker", "--name", "refused"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode != 0
    events = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    refusal = next(e for e in events if e["event"] == "worker.metrics.refused")
    assert "PROMETHEUS_MULTIPROC_DIR" in refusal["reason"]
