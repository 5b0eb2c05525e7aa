"""An independent S3 reader for tests: what boto3 sees of what shared.storage wrote."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from shared.settings import CommonSettings
from shared.storage import credentials

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def boto3_client(settings: CommonSettings) -> S3Client:
    """boto3 on the same endpoint, with the credentials shared.storage would sign with."""
    key = credentials(settings).get_frozen_credentials()
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=key.access_key,
        aws_secret_access_key=key.secret_key,
        aws_session_token=key.token,
    )
