"""Edge (preview server) settings (PRESSROOM_*)."""

from __future__ import annotations

from shared.settings import CommonSettings


class EdgeSettings(CommonSettings):
    ingest_upstream: str = "http://127.0.0.1:8001"
    counter_upstream: str = "http://127.0.0.1:8002"
