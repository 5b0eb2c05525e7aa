"""Object storage over S3: the public site bucket and the private data bucket."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
import orjson
from botocore.config import Config
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


def _is_not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND_CODES


@dataclass(frozen=True)
class Bucket:
    """One bucket, with the few operations Pressroom needs; failures become StorageUnavailable."""

    client: S3Client
    name: str

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise StorageUnavailable(str(exc)) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(str(exc)) from exc

    def get_json(self, key: str) -> Any:
        raw = self.get(key)
        return None if raw is None else orjson.loads(raw)

    def etag(self, key: str) -> str | None:
        try:
            return self.client.head_object(Bucket=self.name, Key=key)["ETag"].strip('"')
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise StorageUnavailable(str(exc)) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(str(exc)) from exc

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
        extra: dict[str, Any] = {"ContentType": content_type}
        if cache_control:
            extra["CacheControl"] = cache_control
        try:
            self.client.put_object(Bucket=self.name, Key=key, Body=body, **extra)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(str(exc)) from exc
        return True

    def put_json(self, key: str, document: Any) -> None:
        self.put(key, orjson.dumps(document), content_type="application/json")

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if not _is_not_found(exc):
                raise StorageUnavailable(str(exc)) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(str(exc)) from exc

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
        client = make_s3_client(settings)
        return cls(
            site=Bucket(client, settings.site_bucket), data=Bucket(client, settings.data_bucket)
        )

    def ensure_buckets(self) -> None:
        self.site.ensure_exists()
        self.data.ensure_exists()
