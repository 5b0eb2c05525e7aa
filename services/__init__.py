"""Pressroom's services: ingest, render, counter, the edge, and the embedded stack."""
