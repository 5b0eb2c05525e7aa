"""A reader of the static search index in Python, doing what search.js does in the page:
manifest, one shard per token per segment, intersection, ranking, fragments."""

from __future__ import annotations

from itertools import accumulate
from typing import Any

import orjson

from services.render.search.tokens import normalize, query_tokens, runs, shard_of
from shared.storage import Bucket


def search(site: Bucket, query: str, limit: int = 10) -> list[dict[str, Any]]:
    """The fragments a reader would see, best first."""
    manifest = site.get_json("search/manifest.json")
    tokens = sorted(query_tokens(query))
    if manifest is None or not tokens:
        return []
    body: dict[str, set[int]] = {t: set() for t in tokens}
    title: dict[str, set[int]] = {t: set() for t in tokens}
    for segment in manifest["segments"]:
        for token in tokens:
            raw = site.get(f"search/seg/{segment['id']}/{shard_of(token, segment['shards'])}.json")
            lists = orjson.loads(raw or b"{}").get(token)
            if lists:
                body[token].update(accumulate(lists[0]))
                if len(lists) > 1:
                    title[token].update(accumulate(lists[1]))
    hits = set.intersection(*body.values())
    ranked = sorted(hits, key=lambda n: (all(n in title[t] for t in tokens), n), reverse=True)
    words = runs(query)
    found = []
    for number in ranked:
        doc = site.get_json(f"search/doc/{number}.json")
        if doc is None:
            continue
        text = normalize(doc["t"] + " " + doc["x"])
        if all(w in text for w in words) or not doc["f"]:
            found.append(doc)
        if len(found) == limit:
            break
    return found


def titles(site: Bucket, query: str) -> list[str]:
    return [doc["t"] for doc in search(site, query)]
