"""What an operator sees: /docs with examples, /metrics, health, and the feeds command."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from services.cli import cli
from services.ingest.signing import TIMESTAMP_HEADER
from tests.ingest.conftest import Ingest, article

CONTENT_TYPES = {
    "application/json",
    "application/ninjs+json",
    "application/rss+xml",
    "application/atom+xml",
}


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{"):
            found = ",".join(sorted(line[line.index("{") + 1 : line.index("}")].split(",")))
            if found == wanted:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_docs_show_an_example_for_each_content_type(module_api: Ingest) -> None:
    docs = module_api.client.get("/docs")
    schema = module_api.client.get("/openapi.json").json()

    assert docs.status_code == 200
    for path in ("/v1/articles", "/v1/articles:batch"):
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == CONTENT_TYPES
        assert all(body.get("example") for body in content.values())
    single = schema["paths"]["/v1/articles"]["post"]["requestBody"]["content"]
    assert "<rss" in single["application/rss+xml"]["example"]
    assert "<feed" in single["application/atom+xml"]["example"]
    assert single["application/ninjs+json"]["example"]["uri"]
    assert {"ArticleIn", "NinjsDocument", "BatchIn"} <= set(schema["components"]["schemas"])


def test_metrics_count_accepted_and_rejected_by_reason(module_api: Ingest) -> None:
    before = module_api.client.get("/metrics").text
    module_api.post_json(article("metrics-1"))
    module_api.post_json(article("metrics-2", channel="sports"))
    module_api.client.post("/v1/articles", json=article())  # no key
    after = module_api.client.get("/metrics").text

    accepted = "pressroom_ingest_articles_accepted_total"
    rejected = "pressroom_ingest_articles_rejected_total"
    labels = {"feed": "wire", "format": "application/json"}
    assert metric(after, accepted, **labels) == metric(before, accepted, **labels) + 1
    for reason in ("unknown_channel", "unauthenticated"):
        assert metric(after, rejected, reason=reason) == metric(before, rejected, reason=reason) + 1
    http = {"service": "ingest", "route": "/v1/articles", "status": "401"}
    requests = "pressroom_http_requests_total"
    assert metric(after, requests, **http) == metric(before, requests, **http) + 1


def test_health_and_readiness(module_api: Ingest) -> None:
    assert module_api.client.get("/healthz").json() == {"status": "ok"}
    ready = module_api.client.get("/readyz").json()
    assert ready == {"status": "ok", "checks": {"redis": "ok", "s3": "ok"}}


def test_feeds_command_adds_lists_and_revokes(module_api: Ingest) -> None:
    settings = module_api.isolated.settings
    env = {
        "PRESSROOM_ENVIRONMENT": "test",
        "PRESSROOM_S3_ENDPOINT_URL": str(settings.s3_endpoint_url),
        "PRESSROOM_DATA_BUCKET": settings.data_bucket,
        "COLUMNS": "200",
    }

    def pressroom(*argv: str) -> str:
        run = CliRunner().invoke(cli, ["feeds", *argv], env=env)
        assert run.exit_code == 0, run.output
        return run.output

    added = pressroom("add", "xinhua")
    key = re.search(r"prk_\S+", added)
    assert key is not None
    client = module_api.client
    headers = {"Authorization": f"Bearer {key[0]}"}
    assert client.post("/v1/articles", json=article(), headers=headers).status_code == 202
    listed = pressroom("list")
    assert "xinhua" in listed
    assert key[0] not in listed

    pressroom("revoke", "xinhua")

    assert "revoked" in pressroom("list")
    refused = client.post("/v1/articles", json=article(), headers=headers)
    assert refused.status_code == 401
    assert refused.json()["title"] == "Unknown feed key"


def test_docs_describe_how_a_signed_feed_signs(module_api: Ingest) -> None:
    description = module_api.client.get("/openapi.json").json()["info"]["description"]
    assert f"{TIMESTAMP_HEADER}: <Unix time in seconds>" in description
    assert "pressroom-v2\n    <timestamp>\n    <METHOD>" in description
    assert "already accepted" in description
