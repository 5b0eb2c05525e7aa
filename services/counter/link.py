"""The group commit's own connection to a single Redis server: each commit's commands are
written back to back and the replies matched to them in order, which RESP guarantees on
one connection, so several commits share it in flight without a pool.

Only the hit path uses it: redis-py's asyncio pipeline costs more CPU per call in its own
machinery (pool checkout, command stack, retry and timeout wrappers, commands packed in
Python), paid once per group commit (bench counter's redis-py row). Everything else, and
a Redis Cluster, uses redis-py.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError, TimeoutError

Command = tuple[Any, ...]  # a command and its arguments: str, bytes, int or float


class LinkRefused(ValueError):
    """The Redis connection asks for what the commits' own connection does not speak."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"PRESSROOM_REDIS_URL asks for {what}, which the counter's group-commit connection"
            " (services/counter/link.py) does not support on a single server: use redis:// or"
            " unix:// with a password in the URL, or a Redis Cluster"
        )


class _Replies(asyncio.Protocol):
    """Feeds what the server sends to hiredis and hands each reply to the oldest waiter."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(encoding="utf-8", errors="replace", replyError=ResponseError)
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                answer = self.waiting.popleft()
                if not answer.done():
                    answer.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:  # garbage, or a reply nobody asked for
            self.fail(RedisConnectionError(f"unreadable reply from Redis: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.fail(RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}"))

    def fail(self, error: Exception) -> None:
        if self.transport is not None:
            self.transport.abort()  # calls connection_lost, which fails the rest
            self.transport = None
        while self.waiting:
            answer = self.waiting.popleft()
            if not answer.done():
                answer.set_exception(error)


class CommitLink:
    """One pipelined connection, opened on first use and again after it fails.

    A call that has not had all its replies after `timeout` seconds drops the connection,
    failing every call in flight on it (the group commit answers those hits 503); the next
    call connects again.
    """

    def __init__(self, connect_kwargs: dict[str, Any], timeout: float) -> None:
        self.kwargs, self.timeout = connect_kwargs, timeout
        self.replies: _Replies | None = None
        self.connecting = asyncio.Lock()

    @classmethod
    def for_client(cls, client: Redis, timeout: float) -> CommitLink:
        """A link to the server `client` talks to; raises LinkRefused where it cannot
        follow the client (TLS, credential providers), rather than count on another path."""
        pool = client.connection_pool
        kind, kwargs = pool.connection_class, pool.connection_kwargs
        if issubclass(kind, SSLConnection):
            raise LinkRefused("TLS (a rediss:// URL)")
        if kwargs.get("credential_provider"):
            raise LinkRefused("a credential provider")
        if not issubclass(kind, Connection | UnixDomainSocketConnection):
            raise LinkRefused(f"connections of class {kind.__name__}")
        return cls(dict(kwargs), timeout)

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Each command's reply, in order; an error reply is returned as its exception
        (NoScriptError for NOSCRIPT), not raised. Raises when the connection fails."""
        replies = self.replies
        if replies is None or replies.transport is None:
            replies = await self.connect()
        if replies.transport is None:  # lost again while connecting
            raise RedisConnectionError("connection to Redis lost")
        loop = asyncio.get_running_loop()
        answers = [loop.create_future() for _ in commands]
        replies.waiting.extend(answers)
        replies.transport.write(b"".join(hiredis.pack_command(c) for c in commands))
        last = answers[-1]
        timer = loop.call_later(self.timeout, self.expire, replies, last)
        try:
            await last  # replies arrive in order: the last one done means all are
        finally:
            timer.cancel()
        return [self.error(answer.result()) for answer in answers]

    def expire(self, replies: _Replies, answer: asyncio.Future[Any]) -> None:
        if not answer.done():
            replies.fail(TimeoutError(f"Redis did not answer within {self.timeout:g} s"))

    @staticmethod
    def error(reply: Any) -> Any:
        if isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT"):
            return NoScriptError(str(reply))
        return reply

    async def connect(self) -> _Replies:
        async with self.connecting:
            if self.replies is not None and self.replies.transport is not None:
                return self.replies  # another commit connected while this one waited
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(self.timeout):
                if path := self.kwargs.get("path"):
                    _, replies = await loop.create_unix_connection(_Replies, path)
                else:
                    host, port = self.kwargs.get("host", "localhost"), self.kwargs.get("port", 6379)
                    _, replies = await loop.create_connection(_Replies, host, port)
            self.replies = replies
            handshake: list[Command] = []
            if password := self.kwargs.get("password"):
                username = self.kwargs.get("username")
                handshake.append(("AUTH", username, password) if username else ("AUTH", password))
            if db := int(self.kwargs.get("db") or 0):
                handshake.append(("SELECT", db))
            handshake.append(("CLIENT", "SETNAME", "pressroom-counter-commit"))
            for reply in await self.execute(handshake):
                if isinstance(reply, Exception):
                    replies.fail(RedisConnectionError(f"Redis refused the connection: {reply}"))
                    raise reply
            return replies

    async def aclose(self) -> None:
        if self.replies is not None and self.replies.transport is not None:
            self.replies.transport.close()
