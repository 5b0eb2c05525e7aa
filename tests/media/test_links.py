"""Links between articles and pictures under any order of renders, unpublishes and sweeps
(a state machine over request_pictures, unlink_article and sweep, on a real Valkey)."""

from __future__ import annotations

import time

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from services.media import service
from services.media.store import MediaContext

ARTICLES = ["a1", "a2", "a3"]
URLS = [f"http://pictures.example/{n}.jpg" for n in range(4)]
REFS = {service.picture_ref(url): url for url in URLS}


class Links(RuleBasedStateMachine):
    media: MediaContext  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        self.shows: dict[str, set[str]] = {}  # article -> refs its current version shows
        self.known: set[str] = set()  # refs with a record (requested, not swept)
        self.clock = time.time()
        self.grace = self.media.settings.media_sweep_grace_seconds
        prefix = self.media.keys.prefix
        leftovers = list(self.media.redis.scan_iter(f"{prefix}*"))
        if leftovers:
            self.media.redis.delete(*leftovers)  # each example starts from nothing

    @rule(article=st.sampled_from(ARTICLES), refs=st.sets(st.sampled_from(sorted(REFS))))
    def render(self, article: str, refs: set[str]) -> None:
        sources = {ref: REFS[ref] for ref in refs}
        service.request_pictures(self.media.redis, self.media.keys, article, sources)
        self.shows[article] = set(refs)
        self.known |= refs

    @rule(article=st.sampled_from(ARTICLES))
    def unpublish(self, article: str) -> None:
        service.unlink_article(self.media.redis, self.media.keys, article)
        self.shows[article] = set()

    @rule(hours=st.integers(0, 3))
    def sweep(self, hours: int) -> None:
        self.clock += hours * 3600
        service.sweep(self.media, now=self.clock)
        if hours * 3600 > self.grace:
            self.known = {ref for ref in self.known if self._shown(ref)}

    def _shown(self, ref: str) -> bool:
        return any(ref in refs for refs in self.shows.values())

    @invariant()
    def each_picture_knows_the_articles_that_show_it(self) -> None:
        for ref in REFS:
            linked = self.media.redis.smembers(self.media.keys.picture_articles(ref))
            assert linked == {a for a, refs in self.shows.items() if ref in refs}

    @invariant()
    def a_shown_picture_is_never_swept(self) -> None:
        records = service.pictures(self.media.redis, self.media.keys, sorted(REFS))
        for ref in REFS:
            if self._shown(ref):
                assert ref in records
        assert set(records) <= self.known | {r for r in REFS if self._shown(r)}

    @invariant()
    def only_pictures_no_article_shows_wait_for_the_sweep(self) -> None:
        unlinked = self.media.redis.zrange(self.media.keys.unlinked_pictures, 0, -1)
        waiting = {str(ref) for ref in unlinked}
        assert not {ref for ref in waiting if self._shown(ref)}


def test_links_survive_any_order_of_renders_unpublishes_and_sweeps(media: MediaContext) -> None:
    media.settings.media_sweep_grace_seconds = 2 * 3600.0
    Links.media = media
    machine = settings(max_examples=25, stateful_step_count=15, deadline=None)
    Links.TestCase.settings = machine
    run = Links.TestCase("runTest")
    run.runTest()
