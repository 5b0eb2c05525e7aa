"""Ingest's exception tree: each error is a problem+json answer with a metrics reason."""

from __future__ import annotations

from typing import Any

from shared.http import Problem


class IngestError(Problem):
    """Base of every error ingest answers with; `reason` labels the rejection metric."""

    reason = "error"


class MissingKey(IngestError):
    reason = "unauthenticated"

    def __init__(self) -> None:
        super().__init__(
            401,
            "Missing feed key",
            "Send Authorization: Bearer <feed key>.",
            headers={"WWW-Authenticate": "Bearer"},
        )


class UnknownKey(IngestError):
    reason = "unauthenticated"

    def __init__(self) -> None:
        super().__init__(
            401,
            "Unknown feed key",
            "The key is wrong or was revoked.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


class BadSignature(IngestError):
    """403: a signed feed's request is unsigned, altered, stale or replayed (signing.py)."""

    reason = "bad_signature"

    def __init__(
        self, detail: str, title: str = "Bad body signature", reason: str = "bad_signature"
    ) -> None:
        super().__init__(403, title, detail)
        self.reason = reason


class BodyTooLarge(IngestError):
    reason = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, "Body too large", f"the limit is {limit} bytes")


class BodyTooSlow(IngestError):
    """408: the body did not arrive whole in time. Uvicorn has no body-read timeout, so a
    client trickling bytes would otherwise hold a connection (and a task) for ever."""

    reason = "too_slow"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            "Request body too slow",
            f"the body must arrive whole within {seconds:g} s; send it again",
            headers={"Connection": "close"},
        )


class ArticleBodyTooLarge(IngestError):
    """413 naming body_html: the body would grow far beyond its size once sanitized."""

    reason = "too_large"

    def __init__(self, message: str) -> None:
        super().__init__(
            413,
            "Article body too large",
            f"body_html: {message}",
            errors=[{"field": "body_html", "message": message}],
        )


class UnsupportedMediaType(IngestError):
    reason = "unsupported_type"

    def __init__(self, media_type: str, supported: list[str]) -> None:
        super().__init__(
            415,
            "Unsupported content type",
            f"{media_type or 'none'}; send one of {', '.join(supported)}",
        )


class InvalidArticle(IngestError):
    """422 naming each bad field: [{"field": "title", "message": "..."}]."""

    reason = "invalid"

    def __init__(self, errors: list[dict[str, str]], title: str = "Invalid article") -> None:
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        super().__init__(422, title, detail, errors=errors)


class UnknownChannel(IngestError):
    reason = "unknown_channel"

    def __init__(self, channel: str, known: list[str]) -> None:
        super().__init__(
            422,
            "Unknown channel",
            f"channel {channel!r} is not configured; known: {', '.join(known)}",
            errors=[{"field": "channel", "message": "unknown channel"}],
        )


class ArticleNotFound(IngestError):
    reason = "not_found"

    def __init__(self, article_id: str) -> None:
        super().__init__(404, "Article not found", f"no article {article_id!r} in this feed")


class PageNotFound(IngestError):
    reason = "not_found"

    def __init__(self, slug: str) -> None:
        super().__init__(404, "Page not found", f"no site page {slug!r}")


class ArticleBusy(IngestError):
    reason = "conflict"

    def __init__(self, article_id: str) -> None:
        super().__init__(
            409,
            "Article is being changed",
            f"another request for {article_id!r} is still in progress; retry",
            headers={"Retry-After": "1"},
        )


class IdempotencyConflict(IngestError):
    reason = "idempotency"

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(status, title, detail)


class StoreUnavailable(IngestError):
    reason = "unavailable"

    def __init__(self, retry_after: int, what: str) -> None:
        super().__init__(
            503,
            f"{what} unavailable",
            "Nothing was stored; retry later.",
            headers={"Retry-After": str(retry_after)},
        )


def field_errors(errors: list[Any], prefix: str = "") -> list[dict[str, str]]:
    """Pydantic error dicts -> [{"field": "a.b", "message": "..."}]."""
    named = []
    for err in errors:
        path = [str(p) for p in err.get("loc", ()) if p != "body"]
        # a whole-document error has no location: name the body, never ""
        field = ".".join([prefix, *path] if prefix else path) or "body"
        named.append({"field": field, "message": str(err.get("msg", "invalid"))})
    return named
