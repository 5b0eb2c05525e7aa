"""The request bodies ingest documents at /docs: one example per content type."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from services.ingest.formats import ATOM, JSON, NINJS, RSS
from services.ingest.ninjs import NinjsDocument
from services.ingest.schemas import EXAMPLE_ARTICLE, ArticleIn, BatchIn

EXAMPLE_NINJS: dict[str, Any] = {
    "uri": "urn:newsml:cctv.com:20220711:qxwq",
    "type": "text",
    "version": "2",
    "pubstatus": "usable",
    "firstcreated": "2022-07-11T10:00:00+08:00",
    "versioncreated": "2022-07-11T10:20:00+08:00",
    "language": "zh-CN",
    "headlines": [{"role": "main", "value": "教育部:推动1000所以上高校支撑服务企业科技进步"}],
    "bodies": [{"role": "main", "contenttype": "text/html", "value": "<p>总台记者今天……</p>"}],
    "descriptions": [{"role": "summary", "value": "三部委联合印发通知。"}],
    "by": "总台记者",
    "infosources": [{"name": "央视新闻"}],
    "subjects": [{"name": "教育"}, {"name": "产学研"}],
}
EXAMPLE_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>央视新闻</title><link>https://news.cctv.com/</link>
<description>央视新闻</description>
<item><guid isPermaLink="false">cctv-20220711-qxwq</guid>
<title>教育部:推动1000所以上高校支撑服务企业科技进步</title>
<description><![CDATA[<p>总台记者今天……</p>]]></description>
<pubDate>Mon, 11 Jul 2022 02:00:00 GMT</pubDate><category>教育</category></item>
</channel></rss>"""
EXAMPLE_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Xinhua English</title>
<id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id><updated>2022-07-11T02:00:00Z</updated>
<entry><id>urn:xinhua:20220711:0001</id>
<title>China unveils plan to link universities and firms</title>
<updated>2022-07-11T02:00:00Z</updated><author><name>Staff reporter</name></author>
<content type="html">&lt;p&gt;BEIJING, July 11 (Xinhua) -- ...&lt;/p&gt;</content></entry>
</feed>"""

DESCRIPTION = """\
Authenticate with `Authorization: Bearer <feed key>`; a key reaches only its own feed's
articles.

**Signed feeds** (`pressroom feeds add NAME --signed` prints a signing secret) also send, on
every `POST`, `PUT` and `DELETE`:

    X-Pressroom-Timestamp: <Unix time in seconds>
    X-Pressroom-Signature: v2=<hex of HMAC-SHA256(secret, signed string)>

The signed string is six fields joined by line feeds, the last one the body's exact bytes
(empty for a `DELETE` without one):

    pressroom-v2
    <timestamp>
    <METHOD>
    <path below this API, e.g. /v1/articles/{id}, decoded once, then percent-encoded
     except for letters, digits, "/", "-", "_", "." and "~">
    <query pairs decoded, sorted, each key=value percent-encoded the same way, joined by &>
    <body>

so a signature is good for one method, path and query (`services/ingest/signing.py` `sign`
is the reference). Ingest answers 403 problem+json when the signature is missing or does
not match, when the timestamp is more than `PRESSROOM_SIGNATURE_WINDOW_SECONDS` (300) from
its clock, or when the same signature was already accepted: a captured request cannot be
sent again, nor to another route. Sign every retry anew; with an `Idempotency-Key` a
re-signed retry gets the first answer back. The older `sha256=` signature of
`"<timestamp>." + body` is deprecated and accepted only while
`PRESSROOM_ACCEPT_LEGACY_SIGNATURES` is on.

A request body must arrive whole within `PRESSROOM_BODY_TIMEOUT_SECONDS` (15), or the
request is answered 408.
"""

COMPONENTS: list[type[BaseModel]] = [ArticleIn, NinjsDocument, BatchIn]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _xml(example: str, what: str) -> dict[str, Any]:
    return {"schema": {"type": "string", "description": what}, "example": example}


ARTICLE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One article (JSON, ninjs) or a feed document (RSS, Atom: one per item). "
        "Optional query `channel` sets the channel of articles that name none.",
        "content": {
            JSON: {"schema": _ref(ArticleIn), "example": EXAMPLE_ARTICLE},
            NINJS: {"schema": _ref(NinjsDocument), "example": EXAMPLE_NINJS},
            RSS: _xml(EXAMPLE_RSS, "RSS 2.0: each item one article, keyed by its guid"),
            ATOM: _xml(EXAMPLE_ATOM, "Atom 1.0: each entry one article, keyed by its id"),
        },
    }
}
BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Up to max_batch_items articles; each gets its own result.",
        "content": {
            JSON: {
                "schema": _ref(BatchIn),
                "example": {
                    "articles": [EXAMPLE_ARTICLE, {**EXAMPLE_ARTICLE, "external_id": "b2"}]
                },
            },
            NINJS: {"schema": {"type": "object"}, "example": {"items": [EXAMPLE_NINJS]}},
            RSS: _xml(EXAMPLE_RSS, "RSS 2.0"),
            ATOM: _xml(EXAMPLE_ATOM, "Atom 1.0"),
        },
    }
}


def install_openapi(app: FastAPI) -> None:
    """Add the request-body models (read by hand, not as FastAPI parameters) to the schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in COMPONENTS:
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
