"""Synchronous Redis clients for ingest and render: one server, or a Redis Cluster.

The counter has its own asyncio client; the Celery broker never goes through here (kombu
cannot use Cluster, so it keeps its own single-node URL: PRESSROOM_BROKER_URL).
"""

from __future__ import annotations

from typing import cast

import redis

from shared.settings import CommonSettings


def connect(settings: CommonSettings, *, decode: bool = True, timeout: float = 10.0) -> redis.Redis:
    """A client for the data Redis named by settings.

    A RedisCluster offers the same commands Pressroom uses (keys that must move together
    share a hash tag, see shared/keys.py), so callers hold it as a `redis.Redis`.
    """
    options = {"decode_responses": decode, "socket_timeout": timeout, "socket_connect_timeout": 5}
    if settings.redis_cluster:
        return cast(redis.Redis, redis.RedisCluster.from_url(settings.redis_url, **options))
    return redis.Redis.from_url(settings.redis_url, **options)
