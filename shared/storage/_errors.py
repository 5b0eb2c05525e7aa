"""The one exception tree of the object store, worded alike by every transport."""

from __future__ import annotations

from xml.etree import ElementTree


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
