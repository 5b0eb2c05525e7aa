"""Ingest's own Prometheus counters, beside the generic request metrics of shared/http.py."""

from __future__ import annotations

from prometheus_client import Counter

ARTICLES_ACCEPTED = Counter(
    "pressroom_ingest_articles_accepted_total",
    "Articles stored as a new version (including withdrawals)",
    ["feed", "format"],
)
ARTICLES_UNCHANGED = Counter(
    "pressroom_ingest_articles_unchanged_total",
    "Articles answered without change (replay, same or older version)",
    ["feed"],
)
ARTICLES_REJECTED = Counter(
    "pressroom_ingest_articles_rejected_total",
    "Requests or batch items refused, by reason",
    ["reason"],
)
