"""Readers of other systems' exports: one module per format, each a `Reader`."""

from __future__ import annotations

from services.importer.readers.base import (
    BadRow,
    Reader,
    SourceArticle,
    SourceCategory,
)

__all__ = ["BadRow", "Reader", "SourceArticle", "SourceCategory"]
