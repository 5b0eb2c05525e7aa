"""The picture records the media service keeps and the other services read."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

RenditionFormat = Literal["avif", "webp", "jpeg"]


class PictureState(StrEnum):
    pending = "pending"
    ready = "ready"
    failed = "failed"


class Rendition(BaseModel):
    """One resized, re-encoded copy of a picture, served from the site bucket."""

    width: int
    height: int
    format: RenditionFormat
    url: str = Field(description='Site path, e.g. "/media/ab/<sha256>-640.webp"')


class Picture(BaseModel):
    """What the site knows of one picture: a remote URL (ref = hash of it) or an upload."""

    ref: str
    source: str
    state: PictureState = PictureState.pending
    error: str | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None
    renditions: list[Rendition] = Field(default_factory=list)


class MediaUploaded(BaseModel):
    """The answer to POST /v1/media: the id an article names, and the picture's address."""

    id: str
    url: str = Field(description="Site path of the largest JPEG rendition")
    width: int
    height: int
