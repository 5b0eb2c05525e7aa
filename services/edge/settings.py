"""Edge (preview server) settings (PRESSROOM_*)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import CommonSettings


class EdgeSettings(CommonSettings):
    ingest_upstream: str = "http://127.0.0.1:8001"
    counter_upstream: str = "http://127.0.0.1:8002"
    edge_body_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A request body must reach the preview edge whole within this, or it is "
        "answered 408 and not forwarded.",
    )
