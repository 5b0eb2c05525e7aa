"""An ASGI app for the bridge's tests (test_rsgi.py): it reads request bodies, streams,
waits for its client to leave and fails, which no counter route does. Served on granian's
RSGI interface through the counter's bridge, and on uvicorn as itself.

It notes in $BRIDGED_MARKS what a test cannot see over HTTP: its shutdown, a client gone.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from services.counter.rsgi import ASGIBridge
from shared.http import install_problem_handlers
from shared.logging import configure_logging

MARKS = Path(os.environ.get("BRIDGED_MARKS", "."))


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
    # As the counter's lifespan does: structlog's own default renders tracebacks with
    # their locals, seconds of CPU per failure on a loaded machine.
    configure_logging("INFO", json=True)
    yield {"started": "yes"}  # Starlette copies it into every request's state
    (MARKS / "shut down").touch()


api = FastAPI(lifespan=lifespan)
install_problem_handlers(api)


@api.post("/echo/{name}")
async def echo(name: str, request: Request) -> dict[str, Any]:
    body = await request.body()
    return {
        "name": name,
        "raw_path": request.scope["raw_path"].decode(),
        "query": request.query_params.multi_items(),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_type": request.headers["content-type"],
        "client": request.client and request.client.host,
        "started": request.state.started,
    }


@api.get("/stream")
async def stream(lines: int) -> StreamingResponse:
    async def numbered() -> AsyncIterator[bytes]:
        for n in range(lines):
            yield b"%05d\n" % n
            await asyncio.sleep(0)

    return StreamingResponse(numbered(), media_type="text/plain")


@api.get("/wait")
async def wait(request: Request) -> Response:
    """Answers once its client has gone."""
    while not await request.is_disconnected():
        await asyncio.sleep(0.05)
    (MARKS / "client gone").touch()
    return Response(status_code=204)


@api.get("/crash")
async def crash() -> None:
    raise RuntimeError("planned")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The FastAPI app, and one path where the app returns without answering."""
    if scope["type"] == "http" and scope["path"] == "/silent":
        return
    await api(scope, receive, send)


def create_rsgi() -> ASGIBridge:
    return ASGIBridge(app)
