"""Counter request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Window = Literal["1h", "24h", "7d", "30d", "all"]
Granularity = Literal["hour", "day"]


class HitCount(BaseModel):
    id: str
    count: int = Field(description="Total views, this one included")


class Counts(BaseModel):
    counts: dict[str, int]


class Ranked(BaseModel):
    id: str
    count: int = Field(description="Views within the window")
    title: str
    url: str
    channel: str


class Top(BaseModel):
    window: Window
    channel: str | None
    items: list[Ranked]


class Point(BaseModel):
    at: datetime = Field(description="Start of the hour or day (UTC)")
    count: int
    uniques: int | None = Field(default=None, description="Distinct readers (days only)")


class Stats(BaseModel):
    id: str
    granularity: Granularity
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    total: int = Field(description="All-time views")
    points: list[Point]


class ProblemDetails(BaseModel):
    """RFC 9457 problem+json: how every counter error is answered (hot path included)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="The path that was asked for")
    errors: list[dict[str, str]] | None = Field(
        default=None, description='Each bad field: {"field": "ids", "message": "..."}'
    )
