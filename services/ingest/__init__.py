"""Ingest: the feed-facing API that validates, sanitizes, versions and stores articles."""
