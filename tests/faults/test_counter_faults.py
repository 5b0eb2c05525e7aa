"""The counter SIGKILLed under load, and Valkey SIGKILLed and restarted: no hit answered
with a count is ever lost, and counts survive the restart (AOF)."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest

from services.stack import servers
from tests.faults.conftest import FaultStack, running_stack, wait_for
from tests.faults.figures import record
from tests.stack import harness

ARTICLES = 3


@pytest.fixture(scope="module")
def counter_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    with running_stack(tmp_path_factory.mktemp("counter-faults")) as fs:
        yield fs


@pytest.fixture(scope="module")
def published(counter_stack: FaultStack) -> list[str]:
    """Ids of articles whose pages are live, so hits on them are counted."""
    fs = counter_stack
    ids = []
    for n in range(ARTICLES):
        answer = fs.ingest.post("/v1/articles", json=fs.article(f"counted-{n}"))
        assert answer.status_code == 202, answer.text
        ids.append(str(answer.json()["id"]))
    wait_for(
        lambda: all(fs.redis.hget(fs.keys.article(i), "status") == "published" for i in ids),
        "articles published",
        30,
    )
    return ids


class Readers:
    """Readers hitting articles from many threads; each hit a distinct reader (User-Agent),
    so each answered hit must have been counted once, never deduplicated."""

    def __init__(self, counter_url: str, ids: list[str]) -> None:
        self.counter_url, self.ids = counter_url, ids
        self.acknowledged: Counter[str] = Counter()
        self.highest: dict[str, int] = dict.fromkeys(ids, 0)
        self.sent = 0
        self.unanswered = 0
        self.lock = threading.Lock()
        self.numbers = itertools.count()
        self.stopped = threading.Event()

    def read(self) -> None:
        with httpx.Client(base_url=self.counter_url, timeout=5) as client:
            while not self.stopped.is_set():
                with self.lock:
                    n = next(self.numbers)
                    self.sent += 1
                aid = self.ids[n % len(self.ids)]
                headers = {"User-Agent": f"Mozilla/5.0 (reader {n})"}
                try:
                    reply = client.post(f"/v1/hits/{aid}", headers=headers)
                except httpx.TransportError:  # the counter is down: the reader gets no count
                    with self.lock:
                        self.unanswered += 1
                    time.sleep(0.01)
                    continue
                if reply.status_code == 200:
                    with self.lock:
                        self.acknowledged[aid] += 1
                        self.highest[aid] = max(self.highest[aid], int(reply.json()["count"]))

    def total(self) -> int:
        return sum(self.acknowledged.values())


def counted(fs: FaultStack, ids: list[str]) -> dict[str, int]:
    return {i: int(fs.redis.get(fs.keys.hits(i)) or 0) for i in ids}


def test_no_acknowledged_hit_is_lost_when_the_counter_is_killed(
    counter_stack: FaultStack, published: list[str]
) -> None:
    fs = counter_stack
    before = counted(fs, published)
    readers = Readers(fs.stack.urls["counter_url"], published)
    with ThreadPoolExecutor(6) as pool:
        for _ in range(6):
            pool.submit(readers.read)
        wait_for(lambda: readers.total() >= 300, "hits under way", 30)
        fs.kill("counter")
        acknowledged_at_kill = readers.total()
        fs.restart_app("counter")
        port = fs.stack.ports.counter
        servers.wait_until(lambda: harness.port_open(port), "counter back", 30)
        wait_for(lambda: readers.total() >= acknowledged_at_kill + 300, "hits resumed", 30)
        readers.stopped.set()

    after = counted(fs, published)
    for aid in published:
        gained = after[aid] - before[aid]
        assert gained >= readers.acknowledged[aid], (aid, gained, readers.acknowledged[aid])
        assert after[aid] >= readers.highest[aid]
    served = fs.counter.get("/v1/counts", params={"ids": ",".join(published)}).json()
    assert served["counts"] == after
    record(
        "counter SIGKILLed under load",
        faults=1,
        hits_sent=readers.sent,
        hits_acknowledged=readers.total(),
        hits_unanswered=readers.unanswered,
        hits_counted=sum(after.values()) - sum(before.values()),
        lost=sum(max(0, readers.acknowledged[a] - (after[a] - before[a])) for a in published),
    )


def test_counts_survive_valkey_killed_and_restarted_with_aof(
    counter_stack: FaultStack, published: list[str]
) -> None:
    fs = counter_stack
    aid = published[0]
    for n in range(50):
        reply = fs.counter.post(f"/v1/hits/{aid}", headers={"User-Agent": f"aof-reader {n}"})
        assert reply.status_code == 200
    answered = int(reply.json()["count"])
    before = fs.counter.get("/v1/counts", params={"ids": ",".join(published)}).json()["counts"]
    assert before[aid] == answered

    fs.stop_infra("valkey", kill=True)  # no shutdown save: only the AOF is left
    fs.restart_infra("valkey")
    restarted = fs.supervise()

    def served() -> dict[str, int]:
        reply = fs.counter.get("/v1/counts", params={"ids": ",".join(published)})
        return dict(reply.json()["counts"]) if reply.status_code == 200 else {}

    wait_for(lambda: bool(served()), "counter reads Valkey again", 30)
    assert served() == before
    again = fs.counter.post(f"/v1/hits/{aid}", headers={"User-Agent": "aof-reader after"})
    assert again.status_code == 200
    assert again.json()["count"] == answered + 1
    record(
        "Valkey SIGKILLed and restarted (AOF)",
        faults=1,
        articles=len(published),
        hits_before=sum(before.values()),
        hits_after=sum(served().values()) - 1,
        processes_restarted=restarted,
        lost=sum(before.values()) - (sum(served().values()) - 1),
    )


def test_beat_killed_and_restarted_neither_loses_nor_doubles_a_rollup(
    counter_stack: FaultStack, published: list[str]
) -> None:
    fs = counter_stack
    aid = published[1]
    day = datetime.now(UTC).strftime("%Y%m%d")
    before_total = int(fs.redis.get(fs.keys.hits(aid)) or 0)
    fs.kill("scheduler")
    sent_before = fs.log("scheduler").count("Sending due task")
    fs.restart_app("scheduler")
    wait_for(
        lambda: fs.log("scheduler").count("Sending due task") > sent_before,
        "the restarted beat sends its schedule again",
        30,
    )

    # Beat syncs its schedule file only every few minutes, so after a SIGKILL it sends
    # again what it had already sent: the rollup must come out the same when run twice.
    rolled = fs.task_outcomes("counter.roll_up")
    fs.send_task("counter.roll_up")
    fs.send_task("counter.roll_up")
    wait_for(lambda: fs.task_outcomes("counter.roll_up") >= rolled + 2, "two rollups", 30)

    hourly: dict[str, str] = fs.redis.hgetall(fs.keys.hourly(aid))  # type: ignore[assignment]
    todays_hours = sum(int(v) for hour, v in hourly.items() if hour.startswith(day))
    assert todays_hours > 0
    assert int(fs.redis.hget(fs.keys.daily(aid), day) or 0) == todays_hours
    assert int(fs.redis.zscore(fs.keys.top_day(day), aid) or 0) == todays_hours
    assert int(fs.redis.get(fs.keys.hits(aid)) or 0) == before_total
    record(
        "beat SIGKILLed and restarted",
        faults=1,
        rollups_run=fs.task_outcomes("counter.roll_up") - rolled,
        hits_in_series=todays_hours,
        daily_after_rollups=int(fs.redis.hget(fs.keys.daily(aid), day) or 0),
        lost=todays_hours - int(fs.redis.hget(fs.keys.daily(aid), day) or 0),
    )


def test_counts_are_rebuilt_from_a_snapshot_after_valkey_loses_everything(
    counter_stack: FaultStack, published: list[str]
) -> None:
    fs = counter_stack
    taken = fs.task_outcomes("counter.snapshot")
    fs.send_task("counter.snapshot")
    wait_for(lambda: fs.task_outcomes("counter.snapshot") > taken, "snapshot written", 30)
    saved = counted(fs, published)
    assert all(saved.values())

    fs.redis.flushall()  # Valkey's data is gone (lost volume): the data bucket is not
    fs.faults.append("FLUSHALL valkey")
    fs.stack.pressroom("counter", "restore")

    assert counted(fs, published) == saved
    record(
        "Valkey emptied, counts restored from the snapshot",
        faults=1,
        articles=len(published),
        hits_in_snapshot=sum(saved.values()),
        lost=sum(saved.values()) - sum(counted(fs, published).values()),
    )
