"""Redis key names. Keys of one article share the hash tag `{<id>}` so they live in one
Redis Cluster slot: the counter checks "is it published?" and counts in one script."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "pr:"

    # --- one article (hash tag = id) -------------------------------------------------
    def article(self, article_id: str) -> str:
        """Hash: status, version, rendered_version, channel, title, url, published_at, ..."""
        return f"{self.prefix}a:{{{article_id}}}"

    def hits(self, article_id: str) -> str:
        return f"{self.prefix}a:{{{article_id}}}:hits"

    def hourly(self, article_id: str) -> str:
        """Hash: hour bucket (YYYYMMDDHH, UTC) -> hits in that hour."""
        return f"{self.prefix}a:{{{article_id}}}:hourly"

    def daily(self, article_id: str) -> str:
        """Hash: day (YYYYMMDD, UTC) -> hits that day, filled by the rollup."""
        return f"{self.prefix}a:{{{article_id}}}:daily"

    def uniques(self, article_id: str, day: str) -> str:
        return f"{self.prefix}a:{{{article_id}}}:uv:{day}"

    def seen(self, article_id: str, bucket: str) -> str:
        """Hash: visitor hash (one reader of one article) -> time (ms) of their last counted
        hit, for one dedupe-window bucket (the hit script appends the bucket number to the prefix
        `seen(id, "")`). A cluster keeps one per article, on the article's slot."""
        return f"{self.prefix}a:{{{article_id}}}:seen:{bucket}"

    def requeued(self, article_id: str) -> str:
        """String, expiring: the version the reconciler last re-enqueued."""
        return f"{self.prefix}a:{{{article_id}}}:requeued"

    def signature(self, feed: str, signature: str) -> str:
        """String, expiring: a feed's request signature already accepted (no replays)."""
        return f"{self.prefix}sig:{feed}:{signature}"

    def dedupe(self, bucket: str) -> str:
        """The same as `seen`, for every article at once: a single server's dedupe hashes
        (one lookup per bucket for a whole group commit)."""
        return f"{self.prefix}seen:{bucket}"

    # --- indexes over articles (derivable from the data bucket) ----------------------
    def channel(self, channel: str) -> str:
        """Sorted set of published ids in a channel, scored by published_at (epoch s)."""
        return f"{self.prefix}ch:{channel}"

    @property
    def published(self) -> str:
        return f"{self.prefix}published"

    @property
    def headlines(self) -> str:
        return f"{self.prefix}headlines"

    # --- render coalescing -----------------------------------------------------------
    @property
    def dirty(self) -> str:
        return f"{self.prefix}{{render}}:dirty"

    @property
    def flush_scheduled(self) -> str:
        return f"{self.prefix}{{render}}:flush-scheduled"

    @property
    def render_count(self) -> str:
        """Hash: page kind -> renders performed (observability; tests read it)."""
        return f"{self.prefix}{{render}}:count"

    @property
    def dirty_from(self) -> str:
        """Sorted set: numbered series (`archive:<channel>`, `sitemap`) -> lowest dirty page."""
        return f"{self.prefix}{{render}}:dirty-from"

    @property
    def flushing(self) -> str:
        """Set: the dirty pages the running flush took; deleted once they are all rendered,
        so a flush killed mid-way leaves them for the next one to merge."""
        return f"{self.prefix}{{render}}:flushing"

    @property
    def flushing_from(self) -> str:
        """Sorted set: `dirty_from` as the running flush took it (kept like `flushing`)."""
        return f"{self.prefix}{{render}}:flushing-from"

    @property
    def flush_lock(self) -> str:
        return f"{self.prefix}{{render}}:flush-lock"

    @property
    def page_hashes(self) -> str:
        """Hash: site-bucket key -> MD5 of the bytes last written there (saves a HEAD)."""
        return f"{self.prefix}{{render}}:md5"

    @property
    def page_inputs(self) -> str:
        """Hash: article id -> fingerprint of everything its page was rendered from."""
        return f"{self.prefix}{{render}}:inputs"

    @property
    def series_length(self) -> str:
        """Hash: numbered series -> how many pages of it exist in the site bucket."""
        return f"{self.prefix}{{render}}:series"

    @property
    def sidebar_html(self) -> str:
        """String: the rendered sidebar blocks that article pages embed."""
        return f"{self.prefix}{{render}}:sidebar-html"

    @property
    def site_pages(self) -> str:
        """Set: slugs of the site pages published at /{slug}.html (the sitemap lists them)."""
        return f"{self.prefix}{{render}}:site-pages"

    @property
    def outbox_done(self) -> str:
        """Set: ids rendered whose `pending/` entry the next flush deletes (in one request)."""
        return f"{self.prefix}{{render}}:outbox-done"

    # --- site search (services/render/search/; written by the flush alone) -------------
    @property
    def search_queue(self) -> str:
        """Hash: article id -> its search document (JSON) for the next flush; "" = remove."""
        return f"{self.prefix}{{render}}:search:queue"

    @property
    def search_numbers(self) -> str:
        """Hash: article id -> its search document number."""
        return f"{self.prefix}{{render}}:search:numbers"

    @property
    def search_owners(self) -> str:
        """Hash: search document number -> the article id holding it."""
        return f"{self.prefix}{{render}}:search:owners"

    @property
    def search_gone(self) -> str:
        """Sorted set: document numbers withdrawn (score: the search epoch then), left out of
        every segment merged from now on, and forgotten once no mergeable segment predates
        them."""
        return f"{self.prefix}{{render}}:search:withdrawn"

    @property
    def search_epoch(self) -> str:
        """String: counter stamped on each new search segment (INCR) and each withdrawal."""
        return f"{self.prefix}{{render}}:search:epoch"

    @property
    def search_manifest(self) -> str:
        """String: the live segments (JSON), as search/manifest.json on the site bucket."""
        return f"{self.prefix}{{render}}:search:manifest"

    @property
    def search_retired(self) -> str:
        """Sorted set: "<segment id>:<shards>" merged away -> when (epoch s); deleted later."""
        return f"{self.prefix}{{render}}:search:retired"

    def document_cache(self, article_id: str) -> str:
        """String, short-lived: the article document just rendered, for its neighbours' flush."""
        return f"{self.prefix}renderdoc:{{{article_id}}}"

    def rebuild_done(self, scope: str) -> str:
        """Set: article ids a running `pressroom rebuild` has finished (for resuming)."""
        return f"{self.prefix}{{render}}:rebuild:{scope}"

    # --- counter rankings (one hash tag `{rank}`: a window is a ZUNIONSTORE of hours) --
    def top(self, window: str, channel: str | None = None) -> str:
        """Sorted set id -> hits: window all|1h|24h|7d|30d, overall (None) or one channel."""
        return f"{self.prefix}top:{{rank}}:{window}:{channel or '*'}"

    def top_hour(self, hour: str, channel: str | None = None) -> str:
        return f"{self.prefix}top:{{rank}}:h:{hour}:{channel or '*'}"

    def top_day(self, day: str, channel: str | None = None) -> str:
        """Sorted set id -> hits on day (YYYYMMDD, UTC), summed from the hourly ones."""
        return f"{self.prefix}top:{{rank}}:d:{day}:{channel or '*'}"

    @property
    def top_channels(self) -> str:
        """Set of channels that have a ranking (the rollups walk it)."""
        return f"{self.prefix}top:{{rank}}:channels"

    def visitor_salt(self, day: str) -> str:
        """String: the random salt of one day's visitor hashes; expires, so hashes cannot be
        re-derived afterwards."""
        return f"{self.prefix}counter:salt:{day}"

    # --- media (a picture's keys share the hash tag `{m:<ref>}`) -------------------------
    def picture(self, ref: str) -> str:
        """String: the picture's record (services/media/schemas.py Picture, JSON); the
        data bucket's media/pictures/<ref>.json is the durable copy."""
        return f"{self.prefix}m:{{m:{ref}}}"

    def picture_articles(self, ref: str) -> str:
        """Set: ids of the articles whose current version shows the picture."""
        return f"{self.prefix}m:{{m:{ref}}}:articles"

    def picture_fetching(self, ref: str) -> str:
        """String, expiring: a media.fetch of the picture is queued or running."""
        return f"{self.prefix}m:{{m:{ref}}}:fetching"

    @property
    def pictures_in_flight(self) -> str:
        """Sorted set: refs whose media.fetch was queued, scored by when its claim lapses;
        media.reconcile queues again a pending one whose claim lapsed (a lost message)."""
        return f"{self.prefix}m:in-flight"

    def article_pictures(self, article_id: str) -> str:
        """Set: refs of the pictures the article's current version shows."""
        return f"{self.prefix}a:{{{article_id}}}:pictures"

    def digest_pictures(self, sha256: str) -> str:
        """Set: refs whose bytes have this SHA-256 (one original and one set of renditions)."""
        return f"{self.prefix}m:{{d:{sha256}}}:refs"

    @property
    def unlinked_pictures(self) -> str:
        """Sorted set: ref -> when its last article let go of it (epoch s), for the sweep."""
        return f"{self.prefix}m:unlinked"

    # --- scheduled publishing (one hash tag `{sched}`: the claim script takes both) ----
    @property
    def due(self) -> str:
        """Sorted set: embargoed article id -> its embargo instant (epoch s); read by range."""
        return f"{self.prefix}{{sched}}:due"

    @property
    def releasing(self) -> str:
        """Sorted set: id claimed by a scheduler -> when its lease ends (epoch s); render
        removes it once the page is live, an expired lease is claimed again."""
        return f"{self.prefix}{{sched}}:releasing"

    # --- imported archives (pressroom import) ------------------------------------------
    @property
    def legacy_urls(self) -> str:
        """Hash: an old site's path (or `/x.php?id=N`, or a list-page pattern with `*`) -> the
        path it redirects to; rebuilt from the data bucket's legacy/ maps."""
        return f"{self.prefix}legacy:urls"

    def imported_clicks(self, article_id: str) -> str:
        """String: the old site's 点击量 once added to the article's hits (never twice)."""
        return f"{self.prefix}a:{{{article_id}}}:imported-clicks"

    # --- ingest ------------------------------------------------------------------------
    def idempotency(self, feed: str, key: str) -> str:
        return f"{self.prefix}idem:{feed}:{key}"
