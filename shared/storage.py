"""Object storage over S3: the public site bucket and the private data bucket.

One client: every request is built, signed and judged by `Signer` and sent over urllib3
(`Bucket`, for tasks and the API) or aiohttp (`AsyncObjects`, for the rebuild's asyncio
loop). Credentials are the PRESSROOM_S3_* key pair when set, else botocore's standard
chain, refreshed as it expires. Every failure of the store is a StorageUnavailable.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import aiohttp
import botocore.session
import orjson
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

from shared.settings import CommonSettings


class StorageUnavailable(Exception):
    """The object store did not answer, or refused a request; `str()` reads
    "<METHOD> <bucket>/<key>: <reason>" whichever client sent it."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what, self.reason = what, reason


class StorageRefused(StorageUnavailable):
    """The store answered with an error: its status and S3 error code say why."""

    def __init__(self, what: str, status: int, code: str, message: str) -> None:
        super().__init__(what, f"{status} {code}: {message}".rstrip(": "))
        self.status, self.code = status, code

    @classmethod
    def of(cls, what: str, status: int, body: bytes) -> StorageRefused:
        """From the S3 error document of the answer (HEAD answers carry none)."""
        code, message = "", ""
        try:
            root = ElementTree.fromstring(body) if body else None
        except ElementTree.ParseError:
            message = body[:200].decode("utf-8", "replace")
        else:
            if root is not None:
                code, message = root.findtext("{*}Code", ""), root.findtext("{*}Message", "")
        return cls(what, status, code, message)


class NoCredentials(StorageUnavailable):
    """Neither PRESSROOM_S3_* keys nor anything in botocore's standard chain."""


# Retry policy of both transports, as boto3's standard mode: server errors and broken
# connections are tried again twice, after 0.05 s then 0.1 s plus up to 0.05 s of jitter.
RETRIES, BACKOFF, RETRY_STATUSES = 2, 0.05, frozenset({500, 502, 503, 504})
DELETE_BATCH = 1_000  # keys per DeleteObjects request: S3's limit


def backoff(attempt: int) -> float:
    return float(BACKOFF * 2 ** (attempt - 1) + random.uniform(0, BACKOFF))


def credentials(settings: CommonSettings) -> Credentials:
    """The explicit key pair when set; else botocore's chain (environment, shared
    credentials and config files with AWS_PROFILE, SSO, web identity, container and
    instance roles), whose temporary credentials refresh themselves before they expire."""
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        secret = settings.s3_secret_access_key.get_secret_value()
        return Credentials(settings.s3_access_key_id, secret)
    found = botocore.session.Session().get_credentials()
    if found is None:
        raise NoCredentials(
            "S3",
            "no credentials: set PRESSROOM_S3_ACCESS_KEY_ID and PRESSROOM_S3_SECRET_ACCESS_KEY, "
            "or give them the standard AWS ways (AWS_* variables, a profile, a role)",
        )
    return found


class Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def etag(self) -> str:
        return str(self.headers.get("ETag", "")).strip('"')


class Signer:
    """URLs, SigV4 signatures and the judgement of answers, for both transports."""

    def __init__(self, settings: CommonSettings) -> None:
        aws = f"https://s3.{settings.s3_region}.amazonaws.com"
        endpoint = urlsplit(settings.s3_endpoint_url or aws)
        self._scheme, self._host = endpoint.scheme, endpoint.netloc
        self._root = endpoint.path.rstrip("/")
        style = settings.s3_addressing_style
        self._virtual = style == "virtual" or (style == "auto" and not settings.s3_endpoint_url)
        self.region = settings.s3_region
        self._credentials = credentials(settings)

    def url(self, bucket: str, key: str) -> str:
        """The object's URL. Keys with a "." or ".." segment are refused: HTTP clients
        resolve those, so the request would name another object (or bucket)."""
        if any(segment in (".", "..") for segment in key.split("/")):
            raise ValueError(f"object key with a dot segment: {key!r}")
        path = quote(key, safe="/")
        if self._virtual:
            return f"{self._scheme}://{bucket}.{self._host}{self._root}/{path}"
        return f"{self._scheme}://{self._host}{self._root}/{bucket}/{path}"

    def sign(
        self,
        method: str,
        bucket: str,
        key: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> tuple[str, dict[str, str]]:
        """The URL and the signed headers of one request, with the credentials of now."""
        url = self.url(bucket, key)
        if query:  # encoded as SigV4 canonicalises it, so the signer takes it as it is
            url += "?" + "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        frozen = self._credentials.get_frozen_credentials()
        S3SigV4Auth(frozen, "s3", self.region).add_auth(request)
        return url, dict(request.headers.items())


def judge(what: str, answer: Answer, expected: tuple[int, ...]) -> StorageRefused | None:
    """None for a success or an `expected` status, else the refusal to raise."""
    if answer.status < 300 or answer.status in expected:
        return None
    return StorageRefused.of(what, answer.status, answer.body)


def no_answer(what: str, exc: BaseException) -> StorageUnavailable:
    """A transport failure, worded alike whichever HTTP library saw it."""
    refused = isinstance(exc, urllib3.exceptions.NewConnectionError)  # a TimeoutError too
    timed_out = not refused and isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError)
    return StorageUnavailable(what, "no answer (timed out)" if timed_out else "no answer")


class Objects:
    """Signed requests over one urllib3 pool (thread-safe: a flush writes on threads)."""

    def __init__(self, settings: CommonSettings, *, timeout: float = 10.0) -> None:
        self.signer = Signer(settings)
        self._pool = urllib3.PoolManager(
            maxsize=64,  # connections kept per host: a flush relinks on up to 64 threads
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )

    def request(
        self,
        method: str,
        bucket: str,
        key: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        query: Mapping[str, str] | None = None,
        expected: tuple[int, ...] = (404,),
    ) -> Answer:
        """One request, retried as RETRIES says; a success or an `expected` status is
        returned, anything else raises StorageUnavailable."""
        what = f"{method} {bucket}/{key}"
        for attempt in range(1 + RETRIES):
            if attempt:
                time.sleep(backoff(attempt))
            url, signed = self.signer.sign(method, bucket, key, body, headers, query)
            try:
                sent = self._pool.request(
                    method, url, body=body or None, headers=signed, redirect=False
                )
            except urllib3.exceptions.HTTPError as exc:
                failure: StorageUnavailable = no_answer(what, exc)
                failure.__cause__ = exc
                continue
            answer = Answer(sent.status, sent.headers, sent.data)
            refused = judge(what, answer, expected)
            if refused is None:
                return answer
            failure = refused
            if answer.status not in RETRY_STATUSES:
                break
        raise failure


class AsyncObjects:
    """GET and PUT of single objects on asyncio (aiohttp), for `pressroom rebuild` and
    `reindex`, which keep dozens of requests in flight per process: signed, retried and
    judged as `Objects` does. Use as `async with AsyncObjects(settings, in_flight=n)`; at
    most n requests are open at once, the others wait for a connection."""

    def __init__(
        self, settings: CommonSettings | Signer, *, in_flight: int, timeout: float = 10.0
    ) -> None:
        self._signer = settings if isinstance(settings, Signer) else Signer(settings)
        self._in_flight = in_flight
        self._timeout = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncObjects:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._in_flight), timeout=self._timeout
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        bucket: str,
        key: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        expected: tuple[int, ...] = (404,),
    ) -> Answer:
        """As Objects.request: a success or an `expected` status is returned, anything
        else raises StorageUnavailable."""
        assert self._session is not None, "use AsyncObjects in `async with`"
        what = f"{method} {bucket}/{key}"
        for attempt in range(1 + RETRIES):
            if attempt:
                await asyncio.sleep(backoff(attempt))
            url, signed = self._signer.sign(method, bucket, key, body, headers)
            try:
                async with self._session.request(
                    method,
                    URL(url, encoded=True),  # signed as quoted: sent byte for byte
                    data=body or None,
                    headers=signed,
                    allow_redirects=False,
                ) as sent:
                    answer = Answer(sent.status, sent.headers, await sent.read())
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure: StorageUnavailable = no_answer(what, exc)
                failure.__cause__ = exc
                continue
            refused = judge(what, answer, expected)
            if refused is None:
                return answer
            failure = refused
            if answer.status not in RETRY_STATUSES:
                break
        raise failure

    async def get(self, bucket: str, key: str) -> bytes | None:
        answer = await self.request("GET", bucket, key)
        return None if answer.status == 404 else answer.body

    async def put(
        self, bucket: str, key: str, body: bytes, *, content_type: str, cache_control: str | None
    ) -> None:
        headers = object_headers(content_type, cache_control)
        await self.request("PUT", bucket, key, body, headers, expected=())


class Listed(NamedTuple):
    """One object of a bucket listing."""

    key: str
    etag: str  # without quotes: the MD5 of a single-part upload
    modified: datetime


def object_headers(content_type: str, cache_control: str | None) -> dict[str, str]:
    """What a PUT stores with the object and S3 serves back with it."""
    headers = {"Content-Type": content_type}
    if cache_control:
        headers["Cache-Control"] = cache_control
    return headers


def delete_document(keys: list[str]) -> bytes:
    """The body of a quiet DeleteObjects request: the answer names only the failures."""
    objects = "".join(f"<Object><Key>{escape(key)}</Key></Object>" for key in keys)
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

    def delete_many(self, keys: list[str]) -> None:
        """Delete every key, 1,000 per request (missing ones are not an error); any key the
        store could not delete raises StorageRefused naming it."""
        for start in range(0, len(keys), DELETE_BATCH):
            body = delete_document(keys[start : start + DELETE_BATCH])
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
            headers = {"Content-MD5": md5, "Content-Type": "application/xml"}
            answer = self.objects.request(
                "POST", self.name, "", body, headers, query={"delete": ""}, expected=()
            )
            failed = delete_failures(answer.body)
            if failed:
                named = ", ".join(f"{key} ({code})" for key, code in failed[:5])
                more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
                raise StorageRefused(
                    f"DELETE {self.name}/", answer.status, failed[0][1], named + more
                )

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
