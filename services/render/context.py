"""What every render step works with: settings, clients, the theme, and the page writer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from redis import Redis

from services.render.settings import RenderSettings
from services.render.theme import Theme
from shared.keys import Keys
from shared.site import SiteConfig
from shared.storage import AsyncObjects, Storage

if TYPE_CHECKING:
    from services.render.pictures import PictureView

HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
XML = "application/xml; charset=utf-8"


@dataclass(frozen=True)
class Entry:
    """An article as lists, feeds and the sitemap show it (read from its Redis hash)."""

    id: str
    title: str
    url: str  # site path with a leading slash
    published_at: datetime
    updated_at: datetime
    date: str  # 时间 in the site's time zone
    summary: str
    channel: str
    correction: str = ""  # 更正 notice, if the article carries one
    thumbnail: PictureView | None = None  # set by pictures.add_thumbnails where lists show it


@dataclass
class RenderContext:
    settings: RenderSettings
    storage: Storage
    redis: Redis
    site: SiteConfig
    keys: Keys
    theme: Theme
    schedule: Callable[[str, float], object]
    """Send a render task by name after a delay (seconds)."""
    binary_redis: Redis
    """The same server without response decoding, for document bytes."""
    page_hashes_complete: bool = False
    """True once page_hashes mirrors a listing of the bucket: no entry then means no page."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """What time it is, for embargoes (a test moves it)."""

    def write_page(
        self, key: str, body: bytes, kind: str, content_type: str = HTML, *, new: bool = False
    ) -> bool:
        """Put a page if its bytes changed; return whether it was written.

        The MD5 of what was last written is kept in Redis, so an unchanged page costs no
        request to the object store; with no record there, the stored ETag decides, unless
        the caller knows the page is `new`.
        """
        md5 = hashlib.md5(body).hexdigest()
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(self.keys.render_count, kind, 1)
        pipe.hget(self.keys.page_hashes, key)
        known = pipe.execute()[1]
        if known == md5:
            return False
        written = self.storage.site.put(
            key,
            body,
            content_type=content_type,
            cache_control=self.settings.html_cache_control,
            only_if_changed=known is None and not (new or self.page_hashes_complete),
        )
        self.redis.hset(self.keys.page_hashes, key, md5)
        return written

    async def put_page_over(self, objects: AsyncObjects, key: str, body: bytes) -> None:
        """Put a page the caller knows changed over a rebuild's asyncio client; the caller
        records its MD5."""
        await objects.put(
            self.storage.site.name,
            key,
            body,
            content_type=HTML,
            cache_control=self.settings.html_cache_control,
        )

    def delete_page(self, key: str) -> None:
        self.storage.site.delete(key)
        self.redis.hdel(self.keys.page_hashes, key)

    def render(self, template: str, **context: Any) -> bytes:
        return self.theme.render(template, **context)

    def article_url(self, article_id: str, channel: str, published_at: datetime) -> str:
        return self.site.article_path(article_id, channel, published_at)
