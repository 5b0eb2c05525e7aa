"""Object storage over S3: the public site bucket and the private data bucket.

One client: every request is built, signed and judged by one `Signer` and sent over urllib3
(`Bucket`, for tasks and the API) or aiohttp (`AsyncObjects`, for the rebuild's asyncio
loop). Credentials are the PRESSROOM_S3_* key pair when set, else botocore's standard
chain, refreshed as it expires. Every failure of the store is a StorageUnavailable.
"""

from shared.storage._buckets import (
    DELETE_BATCH,
    Bucket,
    Listed,
    Storage,
    delete_document,
    delete_failures,
)
from shared.storage._errors import NoCredentials, StorageRefused, StorageUnavailable
from shared.storage._transport import AsyncObjects, Signer, credentials

__all__ = [
    "DELETE_BATCH",
    "AsyncObjects",
    "Bucket",
    "Listed",
    "NoCredentials",
    "Signer",
    "Storage",
    "StorageRefused",
    "StorageUnavailable",
    "credentials",
    "delete_document",
    "delete_failures",
]
