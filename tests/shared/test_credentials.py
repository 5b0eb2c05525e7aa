"""Storage with credentials given only the standard AWS ways (no PRESSROOM_S3_* keys): the
sync and the rebuild's asyncio client both read and write, with environment variables, a
profile of a shared credentials file, STS session tokens, and credentials that change."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import json
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from services.stack import servers
from services.stack.run import Stack
from services.stack.servers import S3Access
from shared.settings import CommonSettings
from shared.storage import NoCredentials, Storage, StorageRefused
from tests.conftest import Isolated, new_isolated
from tests.stack import harness

CHAIN = {"s3_access_key_id": None, "s3_secret_access_key": None}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with no credentials anywhere until the test gives some."""
    monkeypatch.delenv("PRESSROOM_S3_ACCESS_KEY_ID")
    monkeypatch.delenv("PRESSROOM_S3_SECRET_ACCESS_KEY")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance to ask here
    return monkeypatch


def reads_and_writes(settings: CommonSettings) -> tuple[bytes | None, bytes | None]:
    """What a write then a read returns through the sync client and the asyncio one."""
    store = Storage.from_settings(settings)
    store.data.put("articles/sync.json", b'{"sync": 1}', content_type="application/json")

    async def through_asyncio() -> bytes | None:
        async with store.async_client(in_flight=2) as objects:
            await objects.put(
                settings.site_bucket, "async.html", b"<p>async</p>", content_type="text/html",
                cache_control=None,
            )  # fmt: skip
            return await objects.get(settings.site_bucket, "async.html")

    return store.data.get("articles/sync.json"), asyncio.run(through_asyncio())


WRITTEN = (b'{"sync": 1}', b"<p>async</p>")


def key_pair(settings: CommonSettings) -> tuple[str, str]:
    """The stack's explicit keys, to hand over the standard AWS ways instead."""
    key, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    assert key is not None
    assert secret is not None
    return key, secret.get_secret_value()


def test_keys_in_aws_environment_variables(aws: pytest.MonkeyPatch, isolated: Isolated) -> None:
    key, secret = key_pair(isolated.settings)
    aws.setenv("AWS_ACCESS_KEY_ID", key)
    aws.setenv("AWS_SECRET_ACCESS_KEY", secret)

    assert reads_and_writes(CommonSettings(**isolated.settings.model_dump() | CHAIN)) == WRITTEN


def test_a_profile_of_a_shared_credentials_file(
    aws: pytest.MonkeyPatch, isolated: Isolated, tmp_path: Path
) -> None:
    key, secret = key_pair(isolated.settings)
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = {key}\naws_secret_access_key = wrong-secret\n\n"
        f"[pressroom]\naws_access_key_id = {key}\n"
        f"aws_secret_access_key = {secret}\n"
    )
    aws.setenv("AWS_PROFILE", "pressroom")

    assert reads_and_writes(CommonSettings(**isolated.settings.model_dump() | CHAIN)) == WRITTEN


def test_pressroom_keys_win_over_the_chain(aws: pytest.MonkeyPatch, isolated: Isolated) -> None:
    aws.setenv("AWS_ACCESS_KEY_ID", "someone-else")
    aws.setenv("AWS_SECRET_ACCESS_KEY", "not-this-stores-secret")

    assert reads_and_writes(isolated.settings) == WRITTEN
    with pytest.raises(StorageRefused, match="403"):
        reads_and_writes(CommonSettings(**isolated.settings.model_dump() | CHAIN))


def test_no_credentials_anywhere_is_refused_at_start(
    aws: pytest.MonkeyPatch, isolated: Isolated
) -> None:
    with pytest.raises(NoCredentials, match="PRESSROOM_S3_ACCESS_KEY_ID"):
        Storage.from_settings(CommonSettings(**isolated.settings.model_dump() | CHAIN))


CREDENTIAL_PROCESS = """\
import json, pathlib, sys
print(json.dumps({"Version": 1, **json.loads(pathlib.Path(sys.argv[1]).read_text())}))
"""


def test_credentials_are_taken_afresh_as_they_change(
    aws: pytest.MonkeyPatch, isolated: Isolated, tmp_path: Path
) -> None:
    """Credentials that expire (here from a credential_process) are refreshed by botocore,
    and each request is signed with the current ones: no restart after a rotation."""
    key, secret = key_pair(isolated.settings)
    issued, script = tmp_path / "issued.json", tmp_path / "issue.py"
    script.write_text(CREDENTIAL_PROCESS)
    (tmp_path / "config").write_text(
        f"[default]\ncredential_process = {sys.executable} {script} {issued}\n"
    )
    # inside botocore's advisory window: every request asks the process again
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=12)

    def issue(secret_key: str) -> None:
        given = {"AccessKeyId": key, "SecretAccessKey": secret_key, "Expiration": soon.isoformat()}
        issued.write_text(json.dumps(given))

    issue("an-old-secret")
    settings = CommonSettings(**isolated.settings.model_dump() | CHAIN)
    store = Storage.from_settings(settings)
    with pytest.raises(StorageRefused, match="403"):
        store.data.put("rotated.json", b"{}", content_type="application/json")

    issue(secret)
    store.data.put("rotated.json", b"{}", content_type="application/json")

    assert store.data.get("rotated.json") == b"{}"


# --- session tokens ------------------------------------------------------------------------

ROLE = "arn:aws:iam::role/PressroomWriter"


def sts_config(path: Path) -> Path:
    """SeaweedFS's advanced IAM config: an STS that lets the stack's identity assume a role
    allowed everything on S3."""
    allow_all = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "sts:ValidateSession", "Resource": "*"},
        ],
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole"]}],
    }
    config = {
        "sts": {
            "tokenDuration": 3_600_000_000_000,  # nanoseconds
            "maxSessionLength": 43_200_000_000_000,
            "issuer": "pressroom-test",
            "signingKey": base64.b64encode(secrets.token_bytes(32)).decode(),
        },
        "policy": {"defaultEffect": "Deny", "storeType": "memory"},
        "roles": [
            {
                "roleName": "PressroomWriter",
                "roleArn": ROLE,
                "trustPolicy": trust,
                "attachedPolicies": ["AllowAll"],
            }
        ],
        "policies": [{"name": "AllowAll", "document": allow_all}],
    }
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def sts_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack's Valkey, and its SeaweedFS (same identities and locks) with STS on."""
    home = tmp_path_factory.mktemp("sts")
    port = harness.free_seaweedfs_port()
    store = servers.seaweedfs(
        port, home / "s3", home / "s3.log", access=S3Access(*stack.credentials)
    )
    iam = sts_config(home / "iam.json")
    store = dataclasses.replace(store, argv=[*store.argv, f"-s3.iam.config={iam}"])
    store.start()
    try:
        servers.wait_seaweedfs(store, port)
        yield dataclasses.replace(stack, ports=dataclasses.replace(stack.ports, s3=port))
    finally:
        store.stop()


def test_a_session_token_in_the_environment(aws: pytest.MonkeyPatch, sts_stack: Stack) -> None:
    settings = new_isolated(sts_stack).settings
    key, secret = sts_stack.credentials
    sts = boto3.client(
        "sts", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
        aws_access_key_id=key, aws_secret_access_key=secret,
    )  # fmt: skip
    given = sts.assume_role(RoleArn=ROLE, RoleSessionName="pressroom-test")["Credentials"]
    aws.setenv("AWS_ACCESS_KEY_ID", given["AccessKeyId"])
    aws.setenv("AWS_SECRET_ACCESS_KEY", given["SecretAccessKey"])
    aws.setenv("AWS_SESSION_TOKEN", given["SessionToken"])
    chain = CommonSettings(**settings.model_dump() | CHAIN)

    assert reads_and_writes(chain) == WRITTEN
    aws.setenv("AWS_SESSION_TOKEN", given["SessionToken"][:-8] + "AAAAAAAA")
    with pytest.raises(StorageRefused, match="403"):
        reads_and_writes(chain)
