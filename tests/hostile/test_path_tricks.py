"""Ids with path tricks, in every place an id or a path goes in: none escapes its key prefix
in either bucket or in Redis (the edge's own paths: tests/edge/test_routes.py)."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx

from tests.faults.conftest import FaultStack
from tests.faults.figures import record
from tests.hostile.conftest import publish

TRICKS = [
    "../../feeds/dev",
    "..%2f..%2ffeeds%2fdev.json",
    "%2e%2e/%2e%2e/pressroom-data/feeds/dev.json",
    "..\\..\\feeds\\dev.json",
    "\u2024\u2024/\u2024\u2024/feeds/dev",  # ONE DOT LEADER: looks like ".."
    "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0ffeeds\uff0fdev",  # fullwidth "../../"
    "\u2025/\u2025/feeds/dev",  # TWO DOT LEADER
    "/etc/passwd",
    "articles/../../pending/x",
    "a" * 200,
]
TOO_LONG = "x" * 5000
SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]*$")
ID_PREFIXES = re.compile(r"^(articles|pending)/(?P<id>[^/.]+)")


def test_tricky_ids_never_escape_their_prefix(hostile: FaultStack) -> None:
    fs = hostile
    published = publish(fs, "path-tricks-target")
    answers: list[httpx.Response] = []
    for trick in TRICKS:
        answers.append(fs.ingest.post("/v1/articles", json=fs.article(trick)))
    answers.append(fs.ingest.post("/v1/articles", json=fs.article(TOO_LONG)))
    for trick in [*TRICKS, TOO_LONG]:
        path_id = quote(trick, safe="")
        answers += [
            fs.ingest.get(f"/v1/articles/{path_id}"),
            fs.ingest.put(f"/v1/articles/{path_id}", json=fs.article(trick)),
            fs.ingest.delete(f"/v1/articles/{path_id}"),
            fs.counter.post(f"/v1/hits/{path_id}"),
            fs.counter.get(f"/v1/stats/{path_id}"),
            fs.counter.get("/v1/counts", params={"ids": trick}),
        ]
    assert all(a.status_code < 500 for a in answers), [a.text for a in answers if a.is_server_error]
    assert answers[len(TRICKS)].status_code == 422  # an external_id past 200 characters

    for bucket in (fs.storage.site, fs.storage.data):
        for key in bucket.keys(prefix=""):
            assert SAFE_KEY.fullmatch(key), f"{bucket.name}: {key!r}"
            assert ".." not in key, f"{bucket.name}: {key!r}"
            if found := ID_PREFIXES.match(key):
                assert re.fullmatch(r"[0-9a-f]{20}", found["id"]), f"{bucket.name}: {key!r}"
    for key in fs.redis.scan_iter(f"{fs.stack.prefix}a:*"):
        assert re.match(rf"^{re.escape(fs.stack.prefix)}a:\{{[0-9a-f]{{20}}\}}", key), key
    assert fs.page(published["url"]) is not None
    record(
        "path tricks",
        tricky_ids=len(TRICKS) + 1,
        requests=len(answers),
        answered_5xx=sum(a.is_server_error for a in answers),
        keys_checked=sum(1 for _ in fs.storage.site.keys(prefix=""))
        + sum(1 for _ in fs.storage.data.keys(prefix="")),
    )
