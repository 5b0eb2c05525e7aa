"""A picture whose media.fetch message was lost (a worker killed between taking it and
recording it, a broker that lost it) is queued again by media.reconcile once its claim
lapses, so it never stays pending for good; nothing else is queued twice."""

from __future__ import annotations

import time

from services.media import service
from services.media.schemas import PictureState
from services.media.store import MediaContext
from shared.celery_app import MEDIA_QUEUE
from tests.media.pictures import PictureServer, photo
from tests.media.test_service import request, sent, state


def lapsed() -> float:
    """An instant at which every claim made until now has lapsed."""
    return time.time() + service.FETCHING_TTL_SECONDS + 1


def lose_the_message(media: MediaContext, ref: str) -> None:
    """What a lost message leaves: no fetch running, its claim gone with time."""
    media.redis.delete(media.keys.picture_fetching(ref))


def test_a_pending_picture_whose_fetch_was_lost_is_queued_again_once(
    media: MediaContext, server: PictureServer
) -> None:
    (ref,) = request(media, "a1", server.serve("/lost.jpg", photo(800, 600)))
    lose_the_message(media, ref)

    assert service.resend_lost_fetches(media.redis, media.keys, now=time.time()) == 0
    assert service.resend_lost_fetches(media.redis, media.keys, now=lapsed()) == 1
    assert service.resend_lost_fetches(media.redis, media.keys, now=time.time()) == 0
    assert sent(media, MEDIA_QUEUE) == [("media.fetch", [ref])] * 2

    assert service.run_fetch(media, ref, 1) == "done"
    assert state(media, ref).state == PictureState.ready
    assert media.redis.zcard(media.keys.pictures_in_flight) == 0


def test_a_picture_whose_fetch_finished_is_never_queued_again(
    media: MediaContext, server: PictureServer
) -> None:
    good, bad = request(
        media, "a1", server.serve("/fine.jpg", photo(640, 480)), server.url("/missing.jpg")
    )
    for ref in (good, bad):
        service.run_fetch(media, ref, 1)
        lose_the_message(media, ref)

    assert {state(media, good).state, state(media, bad).state} == {
        PictureState.ready,
        PictureState.failed,
    }
    assert service.resend_lost_fetches(media.redis, media.keys, now=lapsed()) == 0
    assert [task for task, _ in sent(media, MEDIA_QUEUE)] == ["media.fetch"] * 2
