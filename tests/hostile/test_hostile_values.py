"""Every route of both APIs, driven with values outside their schemas (huge and non-finite
numbers, far dates, control characters, %00 and invalid UTF-8 in paths and queries, empty,
malformed and enormous bodies, wrong content types): no answer is a 5xx, every 4xx is
problem+json, and a 422 names each field at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_from_bytes

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import sample
from tests.faults.conftest import FaultStack
from tests.faults.figures import record
from tests.ingest.conftest import SAMPLES

HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "\x01",
    "\x0b",
    "\x7f",
    "%00",
    "\u202e\u2066",  # bidirectional overrides
    "\ufeff",
    "NaN",
    "-Infinity",
    "-1",
    "9" * 400,
    "1e400",
    "-9223372036854775809",
    "18446744073709551616",
    "²",
    "٣",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "../../feeds/dev.json",
    "a:{x}",
    "x" * 5000,
]
HOSTILE_BYTES = [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"a\x00b"]
VALUES = st.one_of(
    st.sampled_from([*(t.encode() for t in HOSTILE_TEXT), *HOSTILE_BYTES]),
    st.text(max_size=24).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=24),
)
# JSON tokens no schema allows in that place, written raw: orjson cannot emit most of them
JSON_TOKENS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-0",
    "123456789012345678901234567890",
    "-9223372036854775809",
    '"\\u0000"',
    '"\\ud800"',
    '"\\u000b title"',
    '"9999-12-31T23:59:59-12:00"',
    '"0001-01-01T00:00:00+14:00"',
    '"²"',
    "true",
    "null",
    "{}",
    '[{"role": "main"}]',
    "[" * 3000 + "]" * 3000,
    '"' + "x" * 100_000 + '"',
]
JSON = "application/json"
NINJS = "application/ninjs+json"
CONTENT_TYPES = [
    JSON,
    NINJS,
    "application/rss+xml",
    "application/atom+xml",
    "text/xml",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-16",
    "application/JSON;;;",
    "",
]
RAW_BODIES = [
    b"",
    b"\xff\xfe\x00{",
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"\x00" * 64,
    b'{"articles": {}}',
    b'{"items": [null, 1, "x"]}',
    b"<rss><channel><item>",
    b'<?xml version="1.0" encoding="x-unknown"?><rss/>',
]
UNDECLARED_QUERY = ["channel", "version"]
ENORMOUS = 2 * 1024 * 1024 + 1  # one byte past ingest's default max_body_bytes
PICTURE_ENORMOUS = 20 * 1024 * 1024 + 1  # ... and past the picture upload's (media_max_bytes)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the template, "{name}" for each path parameter
    query: tuple[str, ...]

    @property
    def takes_body(self) -> bool:
        return self.method in {"POST", "PUT", "DELETE"}


def operations(client: httpx.Client, extra: list[Operation]) -> list[Operation]:
    """Every operation the service publishes in its OpenAPI schema, and `extra`."""
    found = list(extra)
    for path, methods in client.get("/openapi.json").json()["paths"].items():
        for method, spec in methods.items():
            params = spec.get("parameters", [])
            query = tuple(p["name"] for p in params if p["in"] == "query")
            found.append(Operation(method.upper(), path, (*query, *UNDECLARED_QUERY)))
    return found


def hostile_json(template: dict[str, Any], field: str, token: str) -> bytes:
    """`template` with `field` set to a raw JSON token."""
    marker = "\x1fhostile\x1f"
    text = orjson.dumps({**template, field: marker}).decode()
    return text.replace(orjson.dumps(marker).decode(), token).encode()


@dataclass(frozen=True)
class Request:
    method: str
    url: str  # below the service's base URL, already percent-encoded
    headers: dict[str, str]
    body: bytes


@st.composite
def requests(draw: st.DrawFn, op: Operation) -> Request:
    path = op.path
    while "{" in path:
        name = path[path.index("{") : path.index("}") + 1]
        path = path.replace(name, quote_from_bytes(draw(VALUES), safe=""), 1)
    chosen = draw(st.lists(st.sampled_from(op.query), unique=True, max_size=3)) if op.query else []
    query = "&".join(f"{quote(n)}={quote_from_bytes(draw(VALUES), safe='')}" for n in chosen)
    headers = {}
    body = b""
    if op.takes_body:
        media = draw(st.sampled_from(CONTENT_TYPES))
        headers["content-type"] = media
        if media in (JSON, NINJS) and draw(st.booleans()):
            template = NATIVE if media == JSON else NINJS_DOCUMENT
            field = draw(st.sampled_from([*sorted(template), "unknown"]))
            body = hostile_json(template, field, draw(st.sampled_from(JSON_TOKENS)))
            if op.path.endswith(":batch"):
                envelope = "articles" if media == JSON else "items"
                body = b'{"%s": [%s]}' % (envelope.encode(), body)
        else:
            body = draw(st.sampled_from(RAW_BODIES))
    return Request(op.method, path + (f"?{query}" if query else ""), headers, body)


NATIVE: dict[str, Any] = orjson.loads(sample())
NINJS_DOCUMENT: dict[str, Any] = orjson.loads((SAMPLES / "ninjs2-zh.json").read_bytes())


def grid(op: Operation) -> list[Request]:
    """Each hostile value in each parameter, one at a time, the rest benign: every value
    reaches every parameter's own checks."""
    names = [part[1:-1] for part in op.path.split("/") if part.startswith("{")]
    name = names[0] if names else ""
    benign = op.path.replace("{article_id}", "0" * 20).replace(f"{{{name}}}", "0" * 20)
    headers, body = (
        ({"content-type": JSON}, sample()) if op.method in {"POST", "PUT"} else ({}, b"")
    )
    found = []
    for value in [*(t.encode() for t in HOSTILE_TEXT), *HOSTILE_BYTES]:
        encoded = quote_from_bytes(value, safe="")
        if name:
            path = op.path.replace(f"{{{name}}}", encoded).replace("{article_id}", "0" * 20)
            found.append(Request(op.method, path, headers, body))
        for query in op.query:
            found.append(Request(op.method, f"{benign}?{quote(query)}={encoded}", headers, body))
    return found


def check(answer: httpx.Response) -> None:
    """What a client may rely on, whatever it sent."""
    where = f"{answer.request.method} {answer.request.url}: {answer.text[:300]}"
    assert answer.status_code < 500, where
    if answer.status_code < 400:
        return
    assert answer.headers["content-type"] == "application/problem+json", where
    problem = answer.json()
    assert problem["status"] == answer.status_code, where
    assert problem["title"], where
    if answer.status_code == 422 and "errors" in problem:
        assert problem["errors"], where
        assert all(e["field"] for e in problem["errors"]), where


def send(client: httpx.Client, request: Request) -> httpx.Response:
    built = client.build_request(
        request.method, request.url, headers=request.headers, content=request.body
    )
    return client.send(built)


def drive(client: httpx.Client, ops: list[Operation], examples: int) -> int:
    """The grid of single hostile values, then hypothesis's mixtures of them."""
    sent = [request for op in ops for request in grid(op)]
    for request in sent:
        check(send(client, request))
    for op in ops:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,  # the same requests every run: a failure here reproduces
            suppress_health_check=list(HealthCheck),
        )
        @given(request=requests(op))
        def mixture(request: Request) -> None:
            sent.append(request)
            check(send(client, request))

        mixture()
    return len(sent)


def test_ingest_answers_hostile_values_with_problems(hostile: FaultStack) -> None:
    ops = operations(hostile.ingest, [])
    sent = drive(hostile.ingest, ops, examples=30)
    enormous = [
        hostile.ingest.request(
            op.method,
            re.sub(r"\{[^}]+\}", "a" * 20, op.path),  # a valid id or slug: the body decides
            content=b"{" * (PICTURE_ENORMOUS if op.path.endswith("/media") else ENORMOUS),
            headers={"content-type": "image/jpeg" if op.path.endswith("/media") else JSON},
        )
        for op in ops
        if op.takes_body
    ]
    for answer in enormous:
        check(answer)
        assert answer.status_code == 413
    record("hostile values: ingest", operations=len(ops), requests=sent + len(enormous))


def test_counter_answers_hostile_values_with_problems(hostile: FaultStack) -> None:
    pixel = Operation("GET", "/v1/hits/{article_id}.gif", ())
    ops = operations(hostile.counter, [pixel])
    sent = drive(hostile.counter, ops, examples=30)
    record("hostile values: counter", operations=len(ops), requests=sent)
