"""Edge settings (PRESSROOM_*): what services/edge/nginx.conf.template is filled in with."""

from __future__ import annotations

from pydantic import Field

from shared.settings import CommonSettings


class EdgeSettings(CommonSettings):
    ingest_upstream: str = "http://127.0.0.1:8001"
    counter_upstream: str = "http://127.0.0.1:8002"
    edge_body_timeout_seconds: int = Field(
        default=15,
        gt=0,
        description="nginx's client_body_timeout: a request body that stalls this long "
        "between two reads is dropped (the connection closed) and never reaches the API",
    )
