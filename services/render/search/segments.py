"""Index segments: immutable sets of shards, named by the hash of their content.

A segment maps each token to the sorted numbers of the documents holding it (and of those
holding it in their title). It is cut into shards by a hash of the token so that a query
fetches one shard per token per segment, and each shard is JSON (the edge gzips it, the
browser parses it natively): `{token: [deltas, title deltas]}`, numbers delta-coded in
ascending order. Merging segments reads their shards back and unions the lists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import accumulate

import orjson

from services.render.search.tokens import shard_of

SHARD_BYTES = 24_000  # raw JSON per shard; about a third of it crosses the wire gzipped


@dataclass
class Postings:
    """token -> document numbers (all, and the title subset), as sets while being built."""

    body: dict[str, set[int]] = field(default_factory=dict)
    title: dict[str, set[int]] = field(default_factory=dict)

    def add(self, number: int, body: Iterable[str], title: Iterable[str]) -> None:
        for token in body:
            self.body.setdefault(token, set()).add(number)
        for token in title:
            self.body.setdefault(token, set()).add(number)
            self.title.setdefault(token, set()).add(number)

    def merge_shard(self, shard: Mapping[str, list[list[int]]], dead: set[int]) -> None:
        """Add a stored shard's lists, leaving out documents that are gone."""
        for token, lists in shard.items():
            self.body.setdefault(token, set()).update(accumulate(lists[0]))
            if len(lists) > 1:
                self.title.setdefault(token, set()).update(accumulate(lists[1]))
        if dead:
            for token in shard:
                self.body[token] -= dead
                self.title.get(token, set()).difference_update(dead)

    def documents(self) -> set[int]:
        return set().union(*self.body.values()) if self.body else set()


@dataclass(frozen=True)
class Segment:
    id: str
    shards: int
    docs: int
    epoch: int = 0  # the search epoch it was written at (0: before epochs were kept)

    def shard_key(self, shard: int) -> str:
        return f"search/seg/{self.id}/{shard}.json"

    def shard_keys(self) -> list[str]:
        return [self.shard_key(n) for n in range(self.shards)]

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "shards": self.shards, "docs": self.docs, "epoch": self.epoch}

    @classmethod
    def of(cls, data: Mapping[str, object]) -> Segment:
        return cls(
            id=str(data["id"]),
            shards=int(str(data["shards"])),
            docs=int(str(data["docs"])),
            epoch=int(str(data.get("epoch", 0))),
        )


def deltas(numbers: set[int]) -> list[int]:
    ordered = sorted(numbers)
    return [b - a for a, b in zip([0, *ordered], ordered, strict=False)]


def shard_count(postings: Postings) -> int:
    """A power of two giving shards of about SHARD_BYTES each."""
    size = sum(len(t) * 3 + 8 + 4 * len(n) for t, n in postings.body.items())
    count = 1
    while size / count > SHARD_BYTES:
        count *= 2
    return count


def encode(postings: Postings) -> tuple[Segment, list[bytes]]:
    """The segment's shards as bytes (sorted keys: the same postings give the same id)."""
    count = shard_count(postings)
    shards: list[dict[str, list[list[int]]]] = [{} for _ in range(count)]
    for token, numbers in postings.body.items():
        if not numbers:
            continue
        lists = [deltas(numbers)]
        titled = postings.title.get(token)
        if titled:
            lists.append(deltas(titled))
        shards[shard_of(token, count)][token] = lists
    bodies = [orjson.dumps(s, option=orjson.OPT_SORT_KEYS) for s in shards]
    digest = hashlib.sha256()
    for body in bodies:
        digest.update(hashlib.sha256(body).digest())
    segment = Segment(id=digest.hexdigest()[:20], shards=count, docs=len(postings.documents()))
    return segment, bodies
