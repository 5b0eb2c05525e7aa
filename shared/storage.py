"""Object storage over S3: the public site bucket and the private data bucket."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import aiohttp
import boto3
import orjson
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError
from yarl import URL

from shared.logging import describe
from shared.settings import CommonSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class StorageUnavailable(Exception):
    """The object store did not answer, or answered with a server error."""


def make_s3_client(settings: CommonSettings, *, timeout: float = 10.0) -> S3Client:
    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"mode": "standard", "max_attempts": 3},
        s3={"addressing_style": settings.s3_addressing_style},
        max_pool_connections=32,
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
        config=config,
    )


# Both transports' retry policy, as boto3's standard mode: server errors and broken
# connections are tried again twice, after 0.05 s then 0.1 s plus up to 0.05 s of jitter.
RETRIES, BACKOFF, RETRY_STATUSES = 2, 0.05, (500, 502, 503, 504)


class Objects:
    """GET, PUT, HEAD and DELETE of single objects: the requests a render makes by the
    thousand.

    Each request is signed by botocore's own SigV4 signer and sent over one urllib3 pool,
    skipping the boto3 client's per-call machinery (endpoint rules, event hooks, response
    parsing), which cost 1.3 ms of CPU per PUT against 0.5 ms this way (docs/BENCHMARKS.md;
    `python -m bench render_rebuild` prints the PUT rate of both), and bucket listings, parsed
    with ElementTree. Batch deletes and bucket management stay on the boto3 client. Server
    errors and broken connections are retried twice with jittered backoff, as boto3's
    standard mode does.
    """

    RETRY = urllib3.Retry(
        total=RETRIES,
        backoff_factor=BACKOFF,
        backoff_jitter=BACKOFF,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # every method used here is idempotent
        raise_on_status=False,
    )

    def __init__(self, settings: CommonSettings, *, timeout: float = 10.0) -> None:
        aws = f"https://s3.{settings.s3_region}.amazonaws.com"
        endpoint = urlsplit(settings.s3_endpoint_url or aws)
        self._scheme, self._host = endpoint.scheme, endpoint.netloc
        self._root = endpoint.path.rstrip("/")
        style = settings.s3_addressing_style
        self._virtual = style == "virtual" or (style == "auto" and not settings.s3_endpoint_url)
        self._region = settings.s3_region
        self._credentials = Credentials(
            settings.s3_access_key_id, settings.s3_secret_access_key.get_secret_value()
        )
        self._pool = urllib3.PoolManager(
            maxsize=64,  # connections kept per host: a flush relinks on up to 64 threads
            retries=self.RETRY,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )

    def url(self, bucket: str, key: str) -> str:
        """The object's URL. Keys with a "." or ".." segment are refused: HTTP clients
        resolve those, so the request would name another object (or bucket)."""
        if any(segment in (".", "..") for segment in key.split("/")):
            raise ValueError(f"object key with a dot segment: {key!r}")
        path = quote(key, safe="/")
        if self._virtual:
            return f"{self._scheme}://{bucket}.{self._host}{self._root}/{path}"
        return f"{self._scheme}://{self._host}{self._root}/{bucket}/{path}"

    def signed(
        self,
        method: str,
        bucket: str,
        key: str,
        body: bytes,
        headers: dict[str, str],
        query: dict[str, str] | None = None,
    ) -> tuple[str, dict[str, str]]:
        """The URL and the SigV4-signed headers of one request (both transports use it)."""
        url = self.url(bucket, key)
        if query:  # encoded as SigV4 canonicalises it, so the signer takes it as it is
            url += "?" + "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        S3SigV4Auth(self._credentials, "s3", self._region).add_auth(request)
        return url, dict(request.headers.items())

    def request(
        self, method: str, bucket: str, key: str, body: bytes = b"", **headers: str
    ) -> urllib3.BaseHTTPResponse:
        """One signed request. 404 is returned for the caller to read; any other answer
        that is not a success, and transport failures, raise StorageUnavailable."""
        return self.request_expecting((404,), method, bucket, key, body, headers)

    def request_expecting(
        self,
        expected: tuple[int, ...],
        method: str,
        bucket: str,
        key: str,
        body: bytes,
        headers: dict[str, str],
    ) -> urllib3.BaseHTTPResponse:
        """`request`, returning the `expected` failure statuses for the caller to read."""
        url, signed = self.signed(method, bucket, key, body, headers)
        return self._send(method, url, body, signed, f"{method} {bucket}/{key}", expected)

    def list_page(
        self, bucket: str, prefix: str, delimiter: str, token: str | None
    ) -> tuple[list[Listed], str | None]:
        """One ListObjectsV2 page (up to 1,000 objects) and the token of the next, if any.

        Parsed with ElementTree: botocore took 0.36 s to list 5,000 objects, of which the
        request itself is 0.04 s (docs/BENCHMARKS.md, render section).
        """
        query = {"list-type": "2", "prefix": prefix, "max-keys": "1000"}
        if delimiter:
            query["delimiter"] = delimiter
        if token:
            query["continuation-token"] = token
        url, signed = self.signed("GET", bucket, "", b"", {}, query)
        answer = self._send("GET", url, b"", signed, f"LIST {bucket}/{prefix}")
        if answer.status == 404:
            raise StorageUnavailable(f"LIST {bucket}/{prefix}: no such bucket")
        try:
            root = ElementTree.fromstring(answer.data)
        except ElementTree.ParseError as exc:
            raise StorageUnavailable(f"LIST {bucket}/{prefix}: {exc}") from exc
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

    def _send(
        self,
        method: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        what: str,
        expected: tuple[int, ...] = (404,),
    ) -> urllib3.BaseHTTPResponse:
        try:
            answer = self._pool.request(
                method,
                url,
                body=body or None,
                headers=headers,
                redirect=False,  # S3 answers a wrong region with 301 and an error document
            )
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"{what}: {exc}") from exc
        if answer.status >= 300 and answer.status not in expected:
            raise StorageUnavailable(refusal(what, answer.status, answer.data))
        return answer


def refusal(what: str, status: int, body: bytes) -> str:
    """How a request the store refused reads in StorageUnavailable: its S3 error document
    says why (AccessDenied, NoSuchBucket, SlowDown...)."""
    return f"{what}: {status} {body[:300].decode('utf-8', 'replace')}"


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


class AsyncObjects:
    """GET and PUT of single objects on asyncio (aiohttp), for `pressroom rebuild`, which
    keeps dozens of requests in flight per process.

    Signed as `Objects` signs; one thread multiplexing the requests costs the client about
    half the CPU per request of urllib3 on threads (docs/BENCHMARKS.md, render section).
    Use as `async with AsyncObjects(settings, in_flight=n) as objects:`; at most n requests
    are open at once, the others wait for a connection. Failures and retries as `Objects`:
    404 is an answer, server errors and broken connections are tried again (RETRIES), then
    raise StorageUnavailable.
    """

    def __init__(self, settings: CommonSettings, *, in_flight: int, timeout: float = 10.0) -> None:
        self._signer = Objects(settings, timeout=timeout)
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
        self, method: str, bucket: str, key: str, body: bytes = b"", **headers: str
    ) -> tuple[int, bytes]:
        """One signed request: (status, body) for a success or a 404."""
        assert self._session is not None, "use AsyncObjects in `async with`"
        for attempt in range(1 + RETRIES):
            if attempt:
                await asyncio.sleep(BACKOFF * 2 ** (attempt - 1) + random.uniform(0, BACKOFF))
            url, signed = self._signer.signed(method, bucket, key, body, headers)
            try:
                async with self._session.request(
                    method,
                    URL(url, encoded=True),  # signed as quoted: sent byte for byte
                    data=body or None,
                    headers=signed,
                    allow_redirects=False,
                ) as answer:
                    status, data = answer.status, await answer.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = f"{method} {bucket}/{key}: {describe(exc)}"
                continue
            if status < 300 or status == 404:
                return status, data
            failure = refusal(f"{method} {bucket}/{key}", status, data)
            if status not in RETRY_STATUSES:
                break
        raise StorageUnavailable(failure)

    async def get(self, bucket: str, key: str) -> bytes | None:
        status, data = await self.request("GET", bucket, key)
        return None if status == 404 else data

    async def put(
        self, bucket: str, key: str, body: bytes, *, content_type: str, cache_control: str | None
    ) -> None:
        headers = object_headers(content_type, cache_control)
        status, _ = await self.request("PUT", bucket, key, body, **headers)
        if status == 404:
            raise StorageUnavailable(f"PUT {bucket}/{key}: no such bucket")


def _is_not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND_CODES


@dataclass(frozen=True)
class Bucket:
    """One bucket, with the few operations Pressroom needs; failures become StorageUnavailable."""

    client: S3Client
    objects: Objects
    name: str

    def get(self, key: str) -> bytes | None:
        answer = self.objects.request("GET", self.name, key)
        return None if answer.status == 404 else answer.data

    def get_json(self, key: str) -> Any:
        raw = self.get(key)
        return None if raw is None else orjson.loads(raw)

    def etag(self, key: str) -> str | None:
        answer = self.objects.request("HEAD", self.name, key)
        return None if answer.status == 404 else str(answer.headers.get("ETag", "")).strip('"')

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
        answer = self.objects.request("PUT", self.name, key, body, **headers)
        if answer.status == 404:
            raise StorageUnavailable(f"PUT {self.name}/{key}: no such bucket")
        return True

    def put_json(self, key: str, document: Any) -> None:
        self.put(key, orjson.dumps(document), content_type="application/json")

    def get_tagged(self, key: str) -> tuple[bytes, str] | None:
        """The object and its ETag, for a compare-and-set with `put_if`."""
        answer = self.objects.request("GET", self.name, key)
        if answer.status == 404:
            return None
        return answer.data, str(answer.headers.get("ETag", "")).strip('"')

    def put_if(self, key: str, body: bytes, *, etag: str | None, content_type: str) -> bool:
        """Compare-and-set: write only if the object still has `etag` (None: only if it does
        not exist). False when another writer changed it first.

        S3 answers a failed condition with 412, a missing object under If-Match with 404 and
        a concurrent conditional write with 409; SeaweedFS decides these atomically.
        """
        condition = {"If-Match": f'"{etag}"'} if etag is not None else {"If-None-Match": "*"}
        headers = object_headers(content_type, None) | condition
        answer = self.objects.request_expecting(
            (404, 409, 412), "PUT", self.name, key, body, headers
        )
        return answer.status < 300

    def delete(self, key: str) -> None:
        self.objects.request("DELETE", self.name, key)  # a missing object is not an error

    def delete_many(self, keys: list[str]) -> None:
        """Delete up to 1,000 objects in one request (missing ones are not an error)."""
        if not keys:
            return
        try:
            self.client.delete_objects(
                Bucket=self.name,
                Delete={"Objects": [{"Key": k} for k in keys[:1000]], "Quiet": True},
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(str(exc)) from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        for key, _ in self.entries(prefix):
            yield key

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
            page, token = self.objects.list_page(self.name, prefix, delimiter, token)
            yield from page
            if token is None:
                return

    def ensure_exists(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.name)
        except ClientError as exc:
            if not _is_not_found(exc):
                raise StorageUnavailable(str(exc)) from exc
            self.client.create_bucket(Bucket=self.name)
        except BotoCoreError as exc:
            raise StorageUnavailable(str(exc)) from exc


@dataclass(frozen=True)
class Storage:
    """The two buckets of a Pressroom site."""

    site: Bucket
    data: Bucket

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> Storage:
        client, objects = make_s3_client(settings), Objects(settings)
        return cls(
            site=Bucket(client, objects, settings.site_bucket),
            data=Bucket(client, objects, settings.data_bucket),
        )

    def ensure_buckets(self) -> None:
        self.site.ensure_exists()
        self.data.ensure_exists()
