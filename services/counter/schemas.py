"""Counter response models."""

from __future__ import annotations

from pydantic import BaseModel


class HitCount(BaseModel):
    id: str
    count: int


class Counts(BaseModel):
    counts: dict[str, int]
