"""Structured logging: one structlog setup for every process, JSON lines in production.

Pressroom's own events are structlog's; the libraries' (Celery, kombu, uvicorn, granian,
botocore) arrive through the standard library and are rendered by the same processors, so
a process writes one format whatever logged the line.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        # plain tracebacks: rich's, with every frame's locals, cost seconds per exception
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*_SHARED, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_SHARED, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Servers and Celery install handlers of their own on their loggers; theirs go to root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "_granian", "celery"):
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    # A line per request would drown the events; the request metrics count them instead.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # Warnings (deprecations, unclosed resources) are records like the rest, not stderr text.
    logging.captureWarnings(True)
    # botocore logs every retry at INFO; our own events say what matters.
    logging.getLogger("botocore").setLevel(logging.WARNING)


def log_crashes_as_json() -> None:
    """Configure logging from the environment if nothing has yet (a process that fails
    while reading its settings has not)."""
    if not structlog.is_configured():
        level = os.environ.get("PRESSROOM_LOG_LEVEL", "INFO")
        configure_logging(level, os.environ.get("PRESSROOM_LOG_JSON", "true").lower() != "false")


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


def describe(exc: BaseException) -> str:
    """An exception as a log line shows it: its type and its message (redis-py's errors,
    among others, leave the message out of their repr)."""
    return f"{type(exc).__name__}: {exc}"
