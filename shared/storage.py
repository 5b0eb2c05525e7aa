"""Object storage over S3: the public site bucket and the private data bucket."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import boto3
import orjson
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

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


class Objects:
    """GET, PUT, HEAD and DELETE of single objects: the requests a render makes by the
    thousand.

    Each request is signed by botocore's own SigV4 signer and sent over one urllib3 pool,
    skipping the boto3 client's per-call machinery (endpoint rules, event hooks, response
    parsing), which cost 1.3 ms of CPU per PUT against 0.5 ms this way (docs/BENCHMARKS.md;
    `python -m bench render_rebuild` prints the PUT rate of both). Listing, batch deletes and bucket
    management stay on the boto3 client. Server errors and broken connections are retried
    twice with jittered backoff, as boto3's standard mode does.
    """

    RETRY = urllib3.Retry(
        total=2,
        backoff_factor=0.05,
        backoff_jitter=0.05,
        status_forcelist=(500, 502, 503, 504),
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
            maxsize=64,  # connections kept per host: a rebuild process runs up to 64 threads
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

    def request(
        self, method: str, bucket: str, key: str, body: bytes = b"", **headers: str
    ) -> urllib3.BaseHTTPResponse:
        """One signed request. 404 is returned for the caller to read; any other answer
        that is not a success, and transport failures, raise StorageUnavailable."""
        url = self.url(bucket, key)
        signed = AWSRequest(method=method, url=url, data=body, headers=headers)
        S3SigV4Auth(self._credentials, "s3", self._region).add_auth(signed)
        try:
            answer = self._pool.request(
                method,
                url,
                body=body or None,
                headers=dict(signed.headers.items()),
                redirect=False,  # S3 answers a wrong region with 301 and an error document
            )
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"{method} {bucket}/{key}: {exc}") from exc
        if answer.status >= 300 and answer.status != 404:
            detail = answer.data[:300].decode("utf-8", "replace")
            raise StorageUnavailable(f"{method} {bucket}/{key}: {answer.status} {detail}")
        return answer


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
        headers = {"Content-Type": content_type}
        if cache_control:
            headers["Cache-Control"] = cache_control
        answer = self.objects.request("PUT", self.name, key, body, **headers)
        if answer.status == 404:
            raise StorageUnavailable(f"PUT {self.name}/{key}: no such bucket")
        return True

    def put_json(self, key: str, document: Any) -> None:
        self.put(key, orjson.dumps(document), content_type="application/json")

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
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"]
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(str(exc)) from exc

    def etags(self, prefix: str = "", *, delimiter: str = "") -> Iterator[tuple[str, str]]:
        """(key, ETag) of every object under prefix; with a delimiter, only its top level.

        One LIST call answers for up to 1,000 objects, so a caller can tell which documents
        changed without a HEAD or GET per object.
        """
        params: dict[str, Any] = {"Bucket": self.name, "Prefix": prefix}
        if delimiter:
            params["Delimiter"] = delimiter
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**params):
                for item in page.get("Contents", []):
                    yield item["Key"], item["ETag"].strip('"')
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(str(exc)) from exc

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
