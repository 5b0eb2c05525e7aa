"""The counter on granian's RSGI interface: hits answered natively (`hotpath.Hits`), every
other request handed to the FastAPI app through a small RSGI-to-ASGI bridge.

RSGI spares each hit ASGI's message dicts and byte-string header lists; the bridge runs
FastAPI, its own lifespan and its middlewares as an ASGI server runs them.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Protocol
from urllib.parse import quote

import orjson
from fastapi import FastAPI
from granian.rsgi import HTTPProtocol, ProtocolClosed, Scope
from starlette.types import ASGIApp, Message

from services.counter.app import create_app
from services.counter.hotpath import PREFIX, Hits
from services.counter.settings import CounterSettings
from shared.http import PROBLEM_JSON, Problem
from shared.logging import describe, get_logger

log = get_logger("pressroom.counter")
HTTP_VERSIONS = {"1": "1.0"}  # RSGI's spelling of HTTP/1.0; the others are ASGI's too
PATH_SAFE = "/:@!$&'()*+,;="  # what a path may carry unencoded (RFC 3986 pchar)
INTERNAL_ERROR = orjson.dumps(Problem(500, "Internal error", "The error was logged.").body())
INTERNAL_ERROR_HEADERS = [("content-type", PROBLEM_JSON), ("cache-control", "no-store")]


class Stream(Protocol):
    """What granian's `response_stream` returns (its class is not part of granian.rsgi)."""

    async def send_bytes(self, data: bytes) -> None: ...


class LifespanFailed(Exception):
    """The app did not complete its lifespan startup or shutdown."""


class Lifespan:
    """An ASGI app's lifespan run as ASGI servers run it: one task from startup to shutdown,
    so the app's `async with` spans the life of the worker."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}  # copied into each request's scope, as servers do
        self.task: asyncio.Future[None] | None = None
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        self.task = asyncio.ensure_future(
            self.app(scope | {"state": self.state}, self.inbox.get, self.outbox.put)
        )
        await self.step("startup")

    async def shutdown(self) -> None:
        if self.task is None or self.task.done():
            return
        await self.step("shutdown")
        await asyncio.wait((self.task,))

    async def step(self, phase: str) -> None:
        """Sends lifespan.{phase}; raises LifespanFailed, from what the app raised, unless the
        app completes it."""
        assert self.task is not None
        await self.inbox.put({"type": f"lifespan.{phase}"})
        reply = asyncio.ensure_future(self.outbox.get())
        await asyncio.wait((reply, self.task), return_when=asyncio.FIRST_COMPLETED)
        if reply.done() and reply.result()["type"] == f"lifespan.{phase}.complete":
            return
        reply.cancel()
        # Starlette says startup.failed, then raises what failed: that is the error to log.
        await asyncio.wait((self.task,), timeout=1)
        error = self.task.exception() if self.task.done() and not self.task.cancelled() else None
        reason = describe(error) if error else "the app gave no reason"
        raise LifespanFailed(f"lifespan.{phase} failed: {reason}") from error


class Exchange:
    """One request's ASGI `receive` and `send` over its RSGI protocol object.

    ASGI 2.3, as uvicorn speaks it: a client gone is told by receive(), and what is sent
    after that is dropped.
    """

    def __init__(self, proto: HTTPProtocol) -> None:
        self.proto = proto
        self.status = 0
        self.headers: list[tuple[str, str]] | None = None  # set by http.response.start
        self.stream: Stream | None = None
        self.read = self.closed = False
        self.settled = False  # an answer has gone to granian, or the client has gone
        self.body: asyncio.Future[bytes] | None = None  # the request body, once asked for
        self.gone: asyncio.Future[None] | None = None  # resolves when the client goes away

    async def receive(self) -> Message:
        # Each wait() leaves its future running when this receive() is cancelled, and what
        # is already known is returned without a wait: Starlette's is_disconnected() calls
        # receive() in a scope cancelled from the start.
        if not self.read:
            if self.body is None:
                self.body = asyncio.ensure_future(self.proto())
            if not self.body.done():
                await asyncio.wait((self.body,))
            self.read = True
            try:
                return {"type": "http.request", "body": self.body.result(), "more_body": False}
            except ProtocolClosed:  # the client went away before its body arrived
                self.settled = self.closed = True
                return {"type": "http.disconnect"}
        if not self.closed:
            if self.gone is None:
                self.gone = asyncio.ensure_future(self.proto.client_disconnect())
            if not self.gone.done():
                await asyncio.wait((self.gone,))  # finish() cancels it once answered
            self.settled = self.closed = True  # answered, or no one is left to answer
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start" and self.headers is None:
            self.status = message["status"]
            # granian writes header strings as UTF-8: decoding so gives back the app's bytes.
            headers = message.get("headers", ())
            self.headers = [(name.decode(), value.decode()) for name, value in headers]
            return
        if kind != "http.response.body" or self.headers is None:
            raise RuntimeError(f"ASGI message {kind!r} out of order")
        if self.closed:
            return
        body, more = message.get("body", b""), message.get("more_body", False)
        if self.stream is None and not more:  # the whole answer in one message
            self.settled = True
            self.proto.response_bytes(self.status, self.headers, body)
            self.finish()
            return
        if self.stream is None:
            self.settled = True
            self.stream = self.proto.response_stream(self.status, self.headers)
        if body:
            try:
                await self.stream.send_bytes(body)
            except ProtocolClosed:  # the client went away
                self.finish()
                return
        if not more:
            self.finish()

    def finish(self) -> None:
        """No more to send: end a streamed body (granian ends it when its transport is
        released) and wake a receive() waiting for the client to go."""
        self.closed = True
        self.stream = None
        if self.gone is not None:
            self.gone.cancel()


class ASGIBridge:
    """An RSGI application serving an ASGI one: its lifespan, then each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.lifespan = Lifespan(app)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this in each worker before it serves: the app's startup."""
        try:
            loop.run_until_complete(self.lifespan.startup())
        except LifespanFailed as exc:
            log.error("counter.startup.failed", error=str(exc), exc_info=exc.__cause__)
            sys.exit(1)  # as granian does when an ASGI app's startup fails

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this once the worker has stopped serving: the app's shutdown."""
        try:
            loop.run_until_complete(self.lifespan.shutdown())
        except LifespanFailed as exc:
            log.error("counter.shutdown.failed", error=str(exc), exc_info=exc.__cause__)

    async def __rsgi__(self, scope: Scope, proto: HTTPProtocol) -> None:
        try:
            await self.forward(scope, proto)
        except Exception as exc:
            self.failed(scope, proto, exc)

    async def forward(self, scope: Scope, proto: HTTPProtocol) -> None:
        exchange = Exchange(proto)
        try:
            await self.app(self.asgi_scope(scope), exchange.receive, exchange.send)
        finally:
            exchange.finish()
        if not exchange.settled:
            raise RuntimeError("the ASGI app returned without answering")

    def asgi_scope(self, scope: Scope) -> dict[str, Any]:
        path, version = scope.path, scope.http_version
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": HTTP_VERSIONS.get(version, version),
            "method": scope.method,
            "scheme": scope.scheme,
            "path": path,
            # RSGI gives the path percent-decoded; encoding it again gives back the bytes
            # received, but for characters sent encoded that need not be (%2F arrives as /).
            "raw_path": quote(path, safe=PATH_SAFE).encode("ascii"),
            "query_string": scope.query_string.encode(),
            "root_path": "",
            "headers": [(name.encode(), value.encode()) for name, value in scope.headers.items()],
            "client": address(scope.client),
            "server": address(scope.server),
            "state": self.lifespan.state.copy(),
        }

    @staticmethod
    def failed(scope: Scope, proto: HTTPProtocol, exc: Exception) -> None:
        """Answered 500 unless an answer has begun (granian keeps the first), then logged:
        the client does not wait while a traceback is formatted."""
        proto.response_bytes(500, INTERNAL_ERROR_HEADERS, INTERNAL_ERROR)
        log.exception("counter.request.failed", path=scope.path, error=describe(exc))


def address(value: str) -> tuple[str, int] | None:
    """RSGI's "host:port" (or "[v6 host]:port") as ASGI's (host, port); None for a socket
    file."""
    port = value[value.rfind(":") + 1 :]
    return (host_of(value), int(port)) if port.isdigit() else None


def host_of(value: str) -> str:
    """The host of RSGI's "host:port" or "[v6 host]:port"."""
    return value[: value.rfind(":")].strip("[]")


class CounterServer(ASGIBridge):
    """What `pressroom counter` serves on granian: hits answered here, the rest by FastAPI."""

    def __init__(self, api: FastAPI) -> None:
        super().__init__(api)
        self.hits = Hits(api)

    async def __rsgi__(self, scope: Scope, proto: HTTPProtocol) -> None:
        try:
            path = scope.path
            if path.startswith(PREFIX):
                headers = scope.headers
                answer = await self.hits.answer(
                    scope.method,
                    path[len(PREFIX) :],
                    host_of(scope.client),
                    headers.get("user-agent", ""),
                    # Every line: granian has get_all, though its stubs leave it out.
                    headers.get_all("x-forwarded-for"),  # type: ignore[attr-defined]
                    headers.get("origin", ""),
                )
                if answer is not None:
                    status, media_type, body, extra = answer
                    proto.response_bytes(status, [("content-type", media_type), *extra], body)
                    return
            await self.forward(scope, proto)
        except Exception as exc:
            self.failed(scope, proto, exc)


def create_rsgi_server(settings: CounterSettings | None = None) -> CounterServer:
    """What `pressroom counter` serves (granian's RSGI interface, as a factory)."""
    return CounterServer(create_app(settings))
