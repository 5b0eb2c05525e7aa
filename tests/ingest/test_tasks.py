"""The reconciler: what was accepted but never rendered is sent to render again, once per
hold however long the render queue is backed up, and only from the pending/ outbox; what
was rendered is retired, and marked pages with no flush to render them get one."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import timedelta

from services.ingest.tasks import reconcile
from shared.celery_app import RENDER_QUEUE, queue_name
from shared.models import article_key, pending_entry, pending_key
from shared.storage import Bucket, Storage
from tests.conftest import Isolated
from tests.ingest.conftest import Ingest, article

HOUR = timedelta(hours=1)
JSON = "application/json"


def queued_renders(api: Ingest) -> list[tuple[str, int]]:
    """(id, version) of each render.article message waiting on this test's render queue."""
    queue = queue_name(api.isolated.settings, RENDER_QUEUE)
    found = []
    for raw in api.isolated.redis.lrange(queue, 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == "render.article"
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        found.append((args[0], args[1]))
    return found


def run(api: Ingest, hold: timedelta) -> dict[str, int]:
    iso = api.isolated
    return reconcile(
        iso.storage, iso.redis, iso.keys, grace=timedelta(0), abandon_after=HOUR, hold=hold
    )


def test_a_backlogged_queue_gets_each_pending_article_once_per_hold(api: Ingest) -> None:
    accepted = [api.post_json(article(f"backlog-{n}")).json() for n in range(3)]
    rendered = accepted.pop()  # its page was written: the flush removed its outbox entry
    api.isolated.storage.data.delete(pending_key(rendered["id"]))
    sent_by_ingest = queued_renders(api)  # nobody consumes this queue: a backlog

    first = run(api, hold=timedelta(seconds=1))
    second = run(api, hold=timedelta(seconds=1))  # the next beat, the queue still backed up
    after_first = queued_renders(api)
    time.sleep(1.2)  # the hold runs out: a render message may really have been lost
    third = run(api, hold=timedelta(seconds=1))

    owed = sorted((a["id"], 1) for a in accepted)
    assert len(sent_by_ingest) == 3
    assert (first["requeued"], second["requeued"], second["held"]) == (2, 0, 2)
    assert sorted(after_first[3:]) == owed  # the rendered article was not sent again
    assert third["requeued"] == 2
    assert sorted(queued_renders(api)[5:]) == owed


def queued(iso: Isolated) -> list[tuple[str, list[object]]]:
    """(task, args) of each message waiting on this test's render queue."""
    found = []
    for raw in iso.redis.lrange(queue_name(iso.settings, RENDER_QUEUE), 0, -1):
        message = json.loads(raw)
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], args))
    return found


def accepted(iso: Isolated, aid: str, version: int) -> None:
    """What ingest stores for a version: its outbox entry and the current document."""
    iso.storage.data.put(pending_key(aid), pending_entry(aid, version), content_type=JSON)
    iso.storage.data.put_json(article_key(aid), {"id": aid, "version": version})


def reconcile_once(iso: Isolated, storage: Storage | None = None) -> dict[str, int]:
    return reconcile(
        storage or iso.storage,
        iso.redis,
        iso.keys,
        grace=timedelta(0),
        abandon_after=HOUR,
        hold=HOUR,
    )


def test_an_entry_whose_version_is_rendered_or_failed_is_retired_without_a_render(
    isolated: Isolated,
) -> None:
    rendered, failed, waiting = "a" * 20, "b" * 20, "c" * 20
    for aid in (rendered, failed, waiting):
        accepted(isolated, aid, 1)
    accepted(isolated, waiting, 2)  # its version 2 is not rendered yet
    isolated.redis.hset(isolated.keys.article(rendered), "rendered_version", 1)
    isolated.redis.hset(isolated.keys.article(failed), "failed_version", 1)
    isolated.redis.hset(isolated.keys.article(waiting), "rendered_version", 1)

    stats = reconcile_once(isolated)

    assert sorted(isolated.storage.data.keys("pending/")) == [pending_key(waiting)]
    assert queued(isolated) == [("render.article", [waiting, 2])]
    assert (stats["retired"], stats["requeued"]) == (2, 1)


def test_an_entry_ingest_rewrites_while_it_is_judged_is_kept(isolated: Isolated) -> None:
    aid = "d" * 20
    accepted(isolated, aid, 1)
    isolated.redis.hset(isolated.keys.article(aid), "rendered_version", 1)

    @dataclass(frozen=True)
    class IngestMeanwhile(Bucket):
        """The data bucket, with ingest storing version 2 just after the reconciler read 1."""

        def get_tagged(self, key: str) -> tuple[bytes, str] | None:
            found = super().get_tagged(key)
            if key == pending_key(aid):
                self.put(key, pending_entry(aid, 2), content_type=JSON)
            return found

    data = isolated.storage.data
    racing = Storage(site=isolated.storage.site, data=IngestMeanwhile(data.objects, data.name))
    stats = reconcile_once(isolated, racing)

    assert data.get_json(pending_key(aid)) == {"id": aid, "version": 2}
    assert (stats["retired"], stats["changed"]) == (0, 1)


def test_pages_marked_dirty_with_no_flush_scheduled_or_running_get_one(
    isolated: Isolated,
) -> None:
    keys = isolated.keys
    isolated.redis.sadd(keys.flushing, "home", "feeds:site")  # left by a flush killed mid-way

    isolated.redis.set(keys.flush_lock, "a flush still running")
    assert reconcile_once(isolated)["flush"] == 0
    isolated.redis.delete(keys.flush_lock)
    runs = [reconcile_once(isolated)["flush"] for _ in range(3)]

    assert runs == [1, 0, 0]  # one flush sent, not one per run
    assert queued(isolated) == [("render.flush", [])]
    isolated.redis.delete(keys.flushing, keys.flush_scheduled)  # as that flush would
    assert reconcile_once(isolated)["flush"] == 0
