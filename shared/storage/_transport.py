"""Signed S3 requests: one `Signer` (SigV4, credentials from PRESSROOM_S3_* or botocore's
standard chain) and two transports that send, retry and judge alike: urllib3 (`Objects`)
and aiohttp (`AsyncObjects`, for the rebuild's dozens of requests in flight)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import quote, urlsplit

import aiohttp
import botocore.session
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

from shared.settings import CommonSettings
from shared.storage._errors import NoCredentials, StorageRefused, StorageUnavailable

# Retry policy of both transports, as boto3's standard mode: server errors and broken
# connections are tried again twice, after 0.05 s then 0.1 s plus up to 0.05 s of jitter.
RETRIES, BACKOFF, RETRY_STATUSES = 2, 0.05, frozenset({500, 502, 503, 504})


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


def object_headers(content_type: str, cache_control: str | None) -> dict[str, str]:
    """What a PUT stores with the object and S3 serves back with it."""
    headers = {"Content-Type": content_type}
    if cache_control:
        headers["Cache-Control"] = cache_control
    return headers
