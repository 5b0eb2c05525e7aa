"""POST /v1/media: a feed uploads a picture's bytes and names the answered id in articles."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.ingest.api import PROBLEM_RESPONSES, ContextDep, FeedDep
from services.ingest.errors import (
    BodyTooLarge,
    BodyTooSlow,
    InvalidArticle,
    StoreUnavailable,
    UnsupportedMediaType,
)
from services.ingest.signing import claim_signature, verify_signature
from services.media.images import BadPicture
from services.media.schemas import MediaUploaded
from services.media.service import upload_picture
from services.media.settings import MediaSettings
from services.media.store import MediaContext, build_context
from shared.storage import StorageUnavailable

router = APIRouter(prefix="/v1", tags=["media"])
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: answer
    for code, answer in PROBLEM_RESPONSES.items()
    if code in (401, 403, 408, 413, 415, 422, 503)
}
PICTURE_TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/avif"]


def get_media(request: Request) -> MediaContext:
    """The media context, built on first use (the ingest app's lifespan knows no media)."""
    media: MediaContext | None = getattr(request.app.state, "media", None)
    if media is None:
        media = request.app.state.media = build_context(MediaSettings())
    return media


MediaDep = Annotated[MediaContext, Depends(get_media)]


async def read_picture(request: Request, limit: int, seconds: float) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise BodyTooLarge(limit)
    except TimeoutError:
        raise BodyTooSlow(seconds) from None
    return bytes(body)


@router.post(
    "/media",
    status_code=201,
    response_model=MediaUploaded,
    responses=UPLOAD_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The picture's bytes (JPEG, PNG, WebP, GIF or AVIF; not SVG), "
            "at most PRESSROOM_MEDIA_MAX_BYTES. Its type is read from the bytes.",
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}} for kind in PICTURE_TYPES
            },
        }
    },
)
async def upload_media(
    request: Request, ctx: ContextDep, media: MediaDep, feed: FeedDep
) -> JSONResponse:
    """Upload a picture; an article names the answered `id` as `images[].media_id`. Its
    renditions follow within seconds at `url` (the largest JPEG) and its siblings."""
    declared = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not declared.startswith("image/"):
        raise UnsupportedMediaType(declared, PICTURE_TYPES)
    body = await read_picture(
        request, media.settings.media_max_bytes, ctx.settings.body_timeout_seconds
    )
    signature = verify_signature(feed, body, request, ctx.settings)
    if signature is not None:
        await run_in_threadpool(claim_signature, ctx, feed, signature)
    try:
        uploaded = await run_in_threadpool(upload_picture, media, body)
    except BadPicture as exc:
        raise InvalidArticle([{"field": "body", "message": str(exc)}], "Invalid picture") from exc
    except StorageUnavailable as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store") from exc
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Redis") from exc
    return JSONResponse(uploaded.model_dump(mode="json"), status_code=201)
