"""`Idempotency-Key`: a retried request gets the first answer again, and changes nothing.

The first request claims the key in Redis (SET NX) while it runs, then stores its answer
for `idempotency_ttl_seconds`. A retry with the same key and the same bytes gets that
answer back (`Idempotent-Replayed: true`); the same key with other bytes is refused (422),
and a retry while the first is still running gets 409. Only successes are remembered, so
a client can fix a refused request and send it again under the same key.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.ingest.errors import IdempotencyConflict, InvalidArticle, StoreUnavailable
from services.ingest.feeds import Feed
from services.ingest.service import IngestContext

HEADER = "Idempotency-Key"
RUNNING_SECONDS = 120  # longer than any request runs; a crashed claim frees itself


def _fingerprint(request: Request, body: bytes) -> str:
    head = f"{request.method} {request.url.path}?{request.url.query}\n".encode()
    return hashlib.sha256(head + body).hexdigest()


def _redis_key(ctx: IngestContext, feed: Feed, key: str) -> str:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise InvalidArticle([{"field": HEADER, "message": "1 to 255 printable characters"}])
    return ctx.keys.idempotency(feed.name, hashlib.sha256(key.encode()).hexdigest()[:32])


async def idempotent(
    ctx: IngestContext,
    feed: Feed,
    request: Request,
    body: bytes,
    produce: Callable[[], Awaitable[JSONResponse]],
) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return await produce()
    rkey = _redis_key(ctx, feed, key)
    fingerprint = _fingerprint(request, body)
    claim = orjson.dumps({"state": "running", "fingerprint": fingerprint})
    try:
        claimed = await run_in_threadpool(ctx.redis.set, rkey, claim, nx=True, ex=RUNNING_SECONDS)
        if not claimed:
            return _replay(await run_in_threadpool(ctx.redis.get, rkey), fingerprint)
    except redis.RedisError as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Redis") from exc
    try:
        response = await produce()
    except BaseException:
        await _forget(ctx, rkey)
        raise
    if response.status_code >= 300:
        await _forget(ctx, rkey)
        return response
    answer = {
        "state": "done",
        "fingerprint": fingerprint,
        "status": response.status_code,
        "body": orjson.loads(response.body),
    }
    try:
        ttl = ctx.settings.idempotency_ttl_seconds
        await run_in_threadpool(ctx.redis.set, rkey, orjson.dumps(answer), ex=ttl)
    except redis.RedisError:
        pass  # the article is stored; a retry without the record is still a harmless replay
    return response


def _replay(raw: str | bytes | None, fingerprint: str) -> Response:
    stored: dict[str, Any] = (
        orjson.loads(raw) if raw else {"state": "running", "fingerprint": fingerprint}
    )
    if stored["fingerprint"] != fingerprint:
        raise IdempotencyConflict(
            422, "Idempotency-Key reused", "this key was already used for a different request"
        )
    if stored["state"] == "running":
        raise IdempotencyConflict(
            409, "Request in progress", "the first request with this key has not finished"
        )
    return JSONResponse(
        stored["body"], status_code=int(stored["status"]), headers={"Idempotent-Replayed": "true"}
    )


async def _forget(ctx: IngestContext, rkey: str) -> None:
    with contextlib.suppress(redis.RedisError):  # if not, the claim expires by itself
        await run_in_threadpool(ctx.redis.delete, rkey)
