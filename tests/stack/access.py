"""What an anonymous client on the machine may do to an object store: read the site's pages
and nothing else. Shared by the embedded store's tests and compose's (tests/deploy)."""

from __future__ import annotations

from urllib.parse import quote

import httpx

# (method, query) pairs covering reads, listings, writes, deletes, uploads and the bucket's
# own settings (ACL, policy, tagging): only a GET or HEAD of an object may be answered.
REQUESTS = [
    ("GET", ""),
    ("HEAD", ""),
    ("GET", "acl"),
    ("GET", "tagging"),
    ("PUT", ""),
    ("PUT", "acl"),
    ("PUT", "tagging"),
    ("DELETE", ""),
    ("POST", "uploads"),
    ("POST", "delete"),
]
BUCKET_REQUESTS = [
    ("GET", ""),
    ("GET", "list-type=2"),
    ("GET", "policy"),
    ("PUT", "policy"),
    ("PUT", ""),
    ("DELETE", ""),
    ("POST", "delete"),
]
DELETE_BODY = b"<Delete><Object><Key>{key}</Key></Object></Delete>"


def anonymous(s3_url: str, method: str, bucket: str, key: str | None, query: str) -> httpx.Response:
    """One unsigned request for an object (key) or for the bucket itself (key None)."""
    path = f"/{bucket}/{quote(key, safe='/')}" if key is not None else f"/{bucket}"
    body = b""
    if query == "delete":
        body = DELETE_BODY.replace(b"{key}", (key or "index.html").encode())
    elif method == "PUT":
        body = b"defaced"
    url = f"{s3_url}{path}" + (f"?{query}" if query else "")
    return httpx.request(method, url, content=body or None, timeout=10)


def allowed(method: str, query: str, bucket: str, site: str, key: str | None) -> bool:
    """A read of one of the site's objects: the object, or its tags (SeaweedFS counts them as
    part of a Read grant; Pressroom tags nothing)."""
    reads = {("GET", ""), ("HEAD", ""), ("GET", "tagging")}
    return bucket == site and key is not None and (method, query) in reads


def refused(answer: httpx.Response) -> bool:
    """An error status, or (a multi-object delete answers 200) an error for every object."""
    if answer.status_code >= 400:
        return True
    return b"<Deleted>" not in answer.content and b"<Code>AccessDenied</Code>" in answer.content


def filer_probe(folder_url: str) -> tuple[tuple[int, int, int], bytes]:
    """Read, list and write a folder of the filer's own HTTP API, which goes round S3's
    authorisation: the three statuses, and every byte read or listed."""
    read = httpx.get(f"{folder_url}/feed.json")
    listing = httpx.get(f"{folder_url}/", headers={"Accept": "application/json"})
    write = httpx.post(f"{folder_url}/planted.json", files={"file": b"{}"})
    return (
        read.status_code,
        listing.status_code,
        write.status_code,
    ), read.content + listing.content
