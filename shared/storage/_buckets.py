"""Buckets: the few operations Pressroom needs, over the urllib3 transport."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import orjson

from shared.settings import CommonSettings
from shared.storage._errors import StorageRefused, StorageUnavailable
from shared.storage._transport import AsyncObjects, Objects, object_headers

DELETE_BATCH = 1_000  # keys per DeleteObjects request: S3's limit
# What a conditional delete answers for a key that changed, or is gone, since its ETag was read.
CHANGED = frozenset({"PreconditionFailed", "NoSuchKey"})


class Listed(NamedTuple):
    """One object of a bucket listing."""

    key: str
    etag: str  # without quotes: the MD5 of a single-part upload
    modified: datetime


def delete_document(keys: list[str], etags: Mapping[str, str] | None = None) -> bytes:
    """The body of a quiet DeleteObjects request: the answer names only the failures. A key
    given an ETag is deleted only if it still has it."""
    etags = etags or {}
    objects = "".join(
        f"<Object><Key>{escape(key)}</Key>"
        + (f'<ETag>"{escape(etags[key])}"</ETag>' if key in etags else "")
        + "</Object>"
        for key in keys
    )
    return f"<Delete><Quiet>true</Quiet>{objects}</Delete>".encode()


def delete_failures(body: bytes) -> list[tuple[str, str]]:
    """(key, code) of each object a DeleteObjects answer says it could not delete."""
    root = ElementTree.fromstring(body)
    return [(e.findtext("{*}Key", ""), e.findtext("{*}Code", "")) for e in root.findall("{*}Error")]


@dataclass(frozen=True)
class Bucket:
    """One bucket, with the few operations Pressroom needs; failures raise StorageUnavailable."""

    objects: Objects
    name: str

    def get(self, key: str) -> bytes | None:
        answer = self.objects.request("GET", self.name, key)
        return None if answer.status == 404 else answer.body

    def get_json(self, key: str) -> Any:
        raw = self.get(key)
        return None if raw is None else orjson.loads(raw)

    def etag(self, key: str) -> str | None:
        answer = self.objects.request("HEAD", self.name, key)
        return None if answer.status == 404 else answer.etag

    def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str,
        cache_control: str | None = None,
        only_if_changed: bool = False,
    ) -> bool:
        """Write one object (S3 PUTs are atomic: readers see old or new bytes, never half).

        With `only_if_changed`, compares the body's MD5 with the stored ETag first and
        skips the write when equal. Returns whether bytes were written.
        """
        if only_if_changed and self.etag(key) == hashlib.md5(body).hexdigest():
            return False
        headers = object_headers(content_type, cache_control)
        self.objects.request("PUT", self.name, key, body, headers, expected=())
        return True

    def put_json(self, key: str, document: Any) -> None:
        self.put(key, orjson.dumps(document), content_type="application/json")

    def get_tagged(self, key: str) -> tuple[bytes, str] | None:
        """The object and its ETag, for a compare-and-set with `put_if`."""
        answer = self.objects.request("GET", self.name, key)
        return None if answer.status == 404 else (answer.body, answer.etag)

    def put_if(self, key: str, body: bytes, *, etag: str | None, content_type: str) -> bool:
        """Compare-and-set: write only if the object still has `etag` (None: only if it does
        not exist). False when another writer changed it first.

        S3 answers a failed condition with 412, a missing object under If-Match with 404 and
        a concurrent conditional write with 409; SeaweedFS decides these atomically.
        """
        condition = {"If-Match": f'"{etag}"'} if etag is not None else {"If-None-Match": "*"}
        headers = object_headers(content_type, None) | condition
        answer = self.objects.request(
            "PUT", self.name, key, body, headers, expected=(404, 409, 412)
        )
        if answer.status == 404:  # the object, or the whole bucket, is missing
            refused = StorageRefused.of(f"PUT {self.name}/{key}", 404, answer.body)
            if refused.code == "NoSuchBucket":
                raise refused
        return answer.status < 300

    def delete(self, key: str) -> None:
        self.objects.request("DELETE", self.name, key)  # a missing object is not an error

    def delete_if(self, key: str, etag: str) -> bool:
        """Delete the object only if it still has `etag` (S3's conditional delete, decided
        atomically by AWS S3 and SeaweedFS); False if it changed or is gone."""
        headers = {"If-Match": f'"{etag}"'}
        answer = self.objects.request(
            "DELETE", self.name, key, headers=headers, expected=(404, 412)
        )
        return answer.status < 300

    def delete_many(self, keys: list[str], *, etags: Mapping[str, str] | None = None) -> list[str]:
        """Delete every key, 1,000 per request (missing ones are not an error); any key the
        store could not delete raises StorageRefused naming it. A key given an ETag in
        `etags` is deleted only if it still has it; returns the keys kept for that reason."""
        kept: list[str] = []
        for start in range(0, len(keys), DELETE_BATCH):
            body = delete_document(keys[start : start + DELETE_BATCH], etags)
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
            headers = {"Content-MD5": md5, "Content-Type": "application/xml"}
            answer = self.objects.request(
                "POST", self.name, "", body, headers, query={"delete": ""}, expected=()
            )
            failed = delete_failures(answer.body)
            kept += [key for key, code in failed if code in CHANGED]
            failed = [(key, code) for key, code in failed if code not in CHANGED]
            if failed:
                named = ", ".join(f"{key} ({code})" for key, code in failed[:5])
                more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
                raise StorageRefused(
                    f"DELETE {self.name}/", answer.status, failed[0][1], named + more
                )
        return kept

    def keys(self, prefix: str = "") -> Iterator[str]:
        for item in self.listing(prefix):
            yield item.key

    def entries(self, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        """(key, last modified) of every object under prefix."""
        for item in self.listing(prefix):
            yield item.key, item.modified

    def etags(self, prefix: str = "", *, delimiter: str = "") -> Iterator[tuple[str, str]]:
        """(key, ETag) of every object under prefix; with a delimiter, only its top level.

        One LIST call answers for up to 1,000 objects, so a caller can tell which documents
        changed without a HEAD or GET per object.
        """
        for item in self.listing(prefix, delimiter=delimiter):
            yield item.key, item.etag

    def listing(self, prefix: str = "", *, delimiter: str = "") -> Iterator[Listed]:
        token: str | None = None
        while True:
            page, token = self.list_page(prefix, delimiter, token)
            yield from page
            if token is None:
                return

    def list_page(
        self, prefix: str, delimiter: str, token: str | None
    ) -> tuple[list[Listed], str | None]:
        """One ListObjectsV2 page (up to 1,000 objects) and the token of the next, if any,
        parsed with ElementTree (a fraction of botocore's parsing time)."""
        query = {"list-type": "2", "prefix": prefix, "max-keys": "1000"}
        if delimiter:
            query["delimiter"] = delimiter
        if token:
            query["continuation-token"] = token
        answer = self.objects.request("GET", self.name, "", query=query, expected=())
        try:
            root = ElementTree.fromstring(answer.body)
        except ElementTree.ParseError as exc:
            raise StorageUnavailable(f"LIST {self.name}/{prefix}", f"unreadable: {exc}") from exc
        listed = [
            Listed(
                item.findtext("{*}Key", ""),
                item.findtext("{*}ETag", "").strip('"'),
                datetime.fromisoformat(item.findtext("{*}LastModified", "")),
            )
            for item in root.findall("{*}Contents")
        ]
        more = root.findtext("{*}IsTruncated", "false") == "true"
        return listed, root.findtext("{*}NextContinuationToken") if more else None

    def ensure_exists(self) -> None:
        if self.objects.request("HEAD", self.name, "").status != 404:
            return
        region = self.objects.signer.region
        body = b""
        if region != "us-east-1":  # S3 creates elsewhere only when told where
            body = (
                "<CreateBucketConfiguration><LocationConstraint>"
                f"{escape(region)}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        self.objects.request("PUT", self.name, "", body, expected=(409,))  # 409: made meanwhile


@dataclass(frozen=True)
class Storage:
    """The two buckets of a Pressroom site."""

    site: Bucket
    data: Bucket

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> Storage:
        objects = Objects(settings)
        return cls(
            site=Bucket(objects, settings.site_bucket), data=Bucket(objects, settings.data_bucket)
        )

    def async_client(self, *, in_flight: int) -> AsyncObjects:
        """The asyncio client, signing with these buckets' credentials (resolved once)."""
        return AsyncObjects(self.site.objects.signer, in_flight=in_flight)

    def ensure_buckets(self) -> None:
        self.site.ensure_exists()
        self.data.ensure_exists()
