"""Valkey stopped during an ingest burst, then restarted: every 202 ends up published, and
while Valkey is down ingest answers 503 with Retry-After, never 500."""

from __future__ import annotations

from collections.abc import Callable

from tests.faults.burst import Burst
from tests.faults.conftest import FaultStack, wait_for
from tests.faults.figures import record
from tests.faults.outbox import wait_drained


def test_every_article_answered_202_is_published_after_valkey_comes_back(
    fault_stack: Callable[..., FaultStack],
) -> None:
    fs = fault_stack()
    burst = Burst(fs, "valkey-down")
    with burst.running():
        wait_for(lambda: len(burst.accepted()) >= 10, "burst under way", 30)
        burst.fault_active = True
        fs.stop_infra("valkey")
        wait_for(lambda: sum(a.during_fault for a in burst.answers) >= 12, "answers in outage", 30)
        fs.restart_infra("valkey")
        burst.fault_active = False
        fs.supervise()
        resumed = len(burst.answers)
        wait_for(lambda: sum(a.status == 202 for a in burst.answers[resumed:]) >= 5, "resume", 30)

    statuses = {a.status for a in burst.answers}
    assert statuses <= {202, 503}, statuses
    refused = [a for a in burst.answers if a.status == 503]
    assert refused, "Valkey was down, yet ingest never refused an article"
    for answer in refused:
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) > 0

    accepted = burst.accepted()
    pages = {a.external_id: str(a.body["url"]) for a in accepted}
    wait_for(lambda: all(fs.page(url) for url in pages.values()), "every 202 published", 90)
    for answer in accepted:
        state = fs.ingest.get(f"/v1/articles/{answer.body['id']}").json()
        assert state["status"] == "published", state
    wait_drained(fs, 30)
    record(
        "Valkey stopped during an ingest burst",
        faults=len(fs.faults),
        requests=len(burst.answers),
        accepted_202=len(accepted),
        accepted_during_outage=sum(a.during_fault for a in accepted),
        refused_503=len(refused),
        answered_500=burst.count(500),
        processes_restarted=fs.restarted,
        lost=sum(1 for url in pages.values() if fs.page(url) is None),
    )


def test_render_worker_survives_a_valkey_restart(fault_stack: Callable[..., FaultStack]) -> None:
    fs = fault_stack()
    wait_for(lambda: "ready" in fs.log("render-worker-0"), "render worker ready", 30)
    fs.send_task("ingest.reconcile", countdown=120)  # held by the worker, unacknowledged
    wait_for(lambda: fs.redis.hlen("unacked") >= 1, "worker holds a countdown task", 20)

    fs.stop_infra("valkey")
    fs.restart_infra("valkey")

    assert fs.supervise() == []
    answer = fs.ingest.post("/v1/articles", json=fs.article("after-valkey-restart"))
    assert answer.status_code == 202
    wait_for(lambda: fs.page(str(answer.json()["url"])) is not None, "published", 30)
