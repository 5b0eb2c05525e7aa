"""The reconciler: what was accepted but never rendered is sent to render again, once per
hold however long the render queue is backed up, and only from the pending/ outbox."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

from services.ingest.tasks import reconcile
from shared.celery_app import RENDER_QUEUE, queue_name
from shared.models import pending_key
from tests.ingest.conftest import Ingest, article

HOUR = timedelta(hours=1)


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
