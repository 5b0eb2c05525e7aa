"""Editorial time at ingest: embargoes, holds (ninjs withheld), corrections, and the list of
an article's stored versions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from services.ingest.errors import ArticleNotFound, StoreUnavailable
from services.ingest.schemas import ArticleIn, VersionOut, VersionsOut
from services.ingest.settings import IngestSettings
from shared.ids import is_article_id
from shared.models import Article, article_key
from shared.storage import Storage, StorageUnavailable

# Appended to a held version's fingerprint: the same text sent `usable` afterwards is a new
# version that releases it, not a replay of what was held.
HELD_MARK = ":held"
VERSION_READS = 8  # version documents read side by side for the versions list


def shown_before(current: Article | None, now: datetime) -> bool:
    """Whether readers may already have seen the article: a version went live, or an
    earlier change after publication was recorded."""
    if current is None:
        return False
    if current.updated_at is not None:
        return True
    return not current.unpublished and not _embargo_ahead(current, now)


def _embargo_ahead(article: Article, now: datetime) -> bool:
    return article.embargoed is not None and article.embargoed > now


def revise(
    article: Article, incoming: ArticleIn, current: Article | None, now: datetime, *, held: bool
) -> Article:
    """The new version with its embargo, correction, update time and publication time.

    It is published no earlier than its embargo (a page never claims a time before anyone
    could read it); it carries updated_at only if it changes what readers have seen.
    """
    published = incoming.published_at
    if published is None:
        kept = current is not None and not _embargo_ahead(current, now)
        published = current.published_at if kept and current is not None else now
    if incoming.embargoed is not None:
        published = max(published, incoming.embargoed)
    update: dict[str, Any] = {
        "embargoed": incoming.embargoed,
        "correction": incoming.correction,
        "published_at": published,
        "updated_at": (incoming.updated_at or now) if shown_before(current, now) else None,
    }
    if held:
        version = incoming.version or (current.version if current else 1)
        fingerprint = article.fingerprint + HELD_MARK
        update |= {"unpublished": True, "version": version, "fingerprint": fingerprint}
    return article.model_copy(update=update)


def held_unchanged(current: Article | None, incoming: ArticleIn) -> str:
    """Why a hold changes nothing: it is no newer than what is stored (a hold at the stored
    version takes it down, as a kill does, unless it is down already)."""
    if current is None:
        return ""
    target = incoming.version or current.version
    if target < current.version:
        return f"version {target} is not newer than stored version {current.version}"
    if target == current.version and current.unpublished:
        return "already withheld or withdrawn"
    return ""


def withdrawal_update(current: Article, now: datetime) -> dict[str, Any]:
    """What a kill records besides itself: that readers had seen the story, if they had."""
    return {"updated_at": now} if shown_before(current, now) else {}


def article_versions(
    storage: Storage, settings: IngestSettings, feed: str, aid: str
) -> VersionsOut:
    """Every stored version of the feed's article, oldest first (another feed's: 404)."""
    if not is_article_id(aid):
        raise ArticleNotFound(aid[:64])
    try:
        current = storage.data.get_json(article_key(aid))
        if current is None or current.get("feed") != feed:
            raise ArticleNotFound(aid)
        keys = sorted(storage.data.keys(f"articles/{aid}/"))
        with ThreadPoolExecutor(VERSION_READS) as pool:
            documents = list(pool.map(storage.data.get_json, keys))
    except StorageUnavailable as exc:
        raise StoreUnavailable(settings.retry_after_seconds, "Object store") from exc
    versions = [_version(doc) for doc in documents if doc is not None]
    return VersionsOut(id=aid, versions=versions)


def _version(document: dict[str, Any]) -> VersionOut:
    article = Article.model_validate(document)
    return VersionOut(
        version=article.version,
        received_at=article.received_at,
        title=article.title,
        correction=article.correction,
        embargoed=article.embargoed,
        withdrawn=article.unpublished,
    )
