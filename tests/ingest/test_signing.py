"""Request signatures and sealed signing secrets, as pure functions: a signature is good for
exactly the request it was made for, however the sender percent-encoded it."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, unquote

import pytest
from cryptography.fernet import InvalidToken
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from starlette.requests import Request

from services.ingest.errors import BadSignature
from services.ingest.feeds import Feed, SecretBox, SecretsKeyMissing, new_secrets_key
from services.ingest.settings import IngestSettings
from services.ingest.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    canonical_path,
    canonical_query,
    sign_legacy,
    signature_headers,
    verify_signature,
)

pytestmark = pytest.mark.unit  # pure logic: no server, no browser

NOW = 1_800_000_000
SECRET = "s3cr3t-for-tests-only"
SETTINGS = IngestSettings(environment="development")
NO_LEGACY = IngestSettings(environment="development", accept_legacy_signatures=False)


def feed(secret: str | None = SECRET, sealed: str | None = None) -> Feed:
    return Feed(
        name="wire",
        key_sha256="0" * 64,
        created_at=datetime.now(UTC),
        signing_secret=None if secret is None else SecretStr(secret),
        sealed_signing_secret=sealed,
    )


def request(method: str, raw_path: str, query: str, headers: dict[str, str]) -> Request:
    """The request as ingest's server hands it over: the path decoded once, the raw kept."""
    return Request(
        {
            "type": "http",
            "method": method,
            "path": unquote(raw_path),
            "raw_path": raw_path.encode(),
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
    )


def verified(
    method: str, path: str, query: str, body: bytes, headers: dict[str, str]
) -> str | None:
    return verify_signature(feed(), body, request(method, path, query, headers), SETTINGS, NOW)


METHODS = st.sampled_from(["POST", "PUT", "DELETE"])
SEGMENT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
PATHS = st.lists(SEGMENT, min_size=1, max_size=4).map(
    lambda parts: "/v1/" + "/".join(quote(p, safe="") for p in parts)
)
QUERIES = st.lists(st.tuples(SEGMENT, st.text(max_size=8)), max_size=3).map(
    lambda pairs: "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
)


@settings(max_examples=200, deadline=None)
@given(METHODS, PATHS, QUERIES, st.binary(max_size=64), METHODS, PATHS, QUERIES, st.binary())
def test_a_signature_is_good_for_its_own_request_only(
    method: str,
    path: str,
    query: str,
    body: bytes,
    other_method: str,
    other_path: str,
    other_query: str,
    other_body: bytes,
) -> None:
    headers = signature_headers(SECRET, body, method=method, path=path, query=query, timestamp=NOW)
    assert verified(method, path, query, body, headers) is not None

    changed = [
        (other_method, path, query, body),
        (method, other_path, query, body),
        (method, path, other_query, body),
        (method, path, query, other_body),
    ]
    for sent in changed:
        if canonical(*sent) != canonical(method, path, query, body):
            with pytest.raises(BadSignature):
                verified(*sent, headers)


def canonical(method: str, path: str, query: str, body: bytes) -> tuple[str, str, str, bytes]:
    """What a signature covers: other spellings of one request share one signature."""
    return method.upper(), canonical_path(path), canonical_query(query), body


def test_spellings_of_one_request_share_a_signature() -> None:
    headers = signature_headers(
        SECRET, b"{}", method="put", path="/v1/articles/a~b c", query="b=2&a=1", timestamp=NOW
    )

    for path, query in [
        ("/v1/articles/a~b%20c", "a=1&b=2"),
        ("/v1/articles/a%7Eb%20c", "b=2&a=1"),
        ("/v1/%61rticles/a~b%20c", "a=%31&b=2"),
    ]:
        assert verified("PUT", path, query, b"{}", headers) is not None, (path, query)


def test_stale_unsigned_and_legacy_signatures() -> None:
    body = b'{"title": "x"}'
    legacy = {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: sign_legacy(SECRET, body, NOW)}
    old = signature_headers(SECRET, body, method="POST", path="/v1/articles", timestamp=NOW - 301)

    assert verified("POST", "/v1/articles", "", body, legacy) is not None
    with pytest.raises(BadSignature):
        verify_signature(feed(), body, request("POST", "/v1/articles", "", legacy), NO_LEGACY, NOW)
    with pytest.raises(BadSignature, match="s old"):
        verified("POST", "/v1/articles", "", body, old)
    with pytest.raises(BadSignature, match="must sign"):
        verified("POST", "/v1/articles", "", body, {})


def test_a_feed_whose_secret_cannot_be_opened_is_refused_not_let_through() -> None:
    sealed = SecretBox([new_secrets_key()]).seal(SECRET)
    unopened = feed(secret=None, sealed=sealed)
    headers = signature_headers(SECRET, b"", method="DELETE", path="/v1/articles/x", timestamp=NOW)

    assert unopened.signs
    with pytest.raises(BadSignature, match="PRESSROOM_FEED_SECRETS_KEY"):
        verify_signature(unopened, b"", request("DELETE", "/v1/articles/x", "", headers), SETTINGS)


def test_sealed_secrets_open_with_any_listed_key_and_seal_with_the_first() -> None:
    old, new = new_secrets_key(), new_secrets_key()
    sealed_with_old = SecretBox([old]).seal(SECRET)
    rotating = SecretBox([new, old])

    assert SECRET not in sealed_with_old
    assert rotating.open(sealed_with_old) == SECRET
    assert SecretBox([new]).open(rotating.seal(SECRET)) == SECRET
    with pytest.raises(InvalidToken):
        SecretBox([new]).open(sealed_with_old)
    with pytest.raises(SecretsKeyMissing):
        SecretBox().seal(SECRET)


@pytest.mark.parametrize("value", ["changeme", "secret", "", "not-a-fernet-key", "a,b"])
def test_a_placeholder_or_malformed_secrets_key_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="PRESSROOM_FEED_SECRETS_KEY"):
        IngestSettings(environment="development", feed_secrets_key=value)


def test_production_refuses_to_run_without_a_secrets_key() -> None:
    production = IngestSettings(
        environment="production",
        s3_secret_access_key="a-real-secret-key",
    )

    with pytest.raises(SecretsKeyMissing):
        production.secret_box()
    key = new_secrets_key()
    keyed = production.model_copy(update={"feed_secrets_key": SecretStr(key)})
    assert keyed.secret_box().open(SecretBox([key]).seal(SECRET)) == SECRET
