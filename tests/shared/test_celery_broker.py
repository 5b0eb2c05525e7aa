"""A process pointed at a second broker sends there, not through connections to the first
(tests point the one app at one stack after another; an operator's command at its own)."""

from __future__ import annotations

import uuid

import redis

from services.stack.run import Stack
from shared.celery_app import app, configure_celery
from tests.stack import harness


def test_a_task_goes_to_the_broker_configured_last(stack: Stack) -> None:
    gone = stack.settings(redis_url=f"redis://127.0.0.1:{harness.free_port()}/0")
    configure_celery(gone)
    assert app.amqp.producer_pool is not None  # made by the first send, for the first broker

    queue = f"broker-test-{uuid.uuid4().hex[:8]}"
    configure_celery(stack.settings(queue_prefix=f"{queue}."))
    app.send_task("render.flush", queue=queue)

    db = redis.Redis.from_url(stack.settings().redis_url)
    assert db.llen(queue) == 1
