"""Render's Celery tasks. Messages carry ids; the context is built once per worker process."""

from __future__ import annotations

import threading
from typing import Any

from celery import Task
from celery.signals import beat_init, worker_process_init

from services.render import schedule
from services.render.coalesce import HOT_TASK, flush, refresh_hot_list
from services.render.context import RenderContext
from services.render.picture_events import picture_ready
from services.render.service import publish_article
from services.render.settings import RenderSettings
from services.render.site_pages import render_site_page
from services.render.theme import Theme
from shared.celery_app import app as celery_app
from shared.celery_app import pressroom_task
from shared.keys import Keys
from shared.redis_client import connect
from shared.site import load_site
from shared.storage import Storage

_context: RenderContext | None = None


def send_later(task: str, delay: float) -> None:
    celery_app.send_task(task, countdown=delay)


def build_context(settings: RenderSettings) -> RenderContext:
    site = load_site(settings.site_config, settings.site_base_url)
    return RenderContext(
        settings=settings,
        storage=Storage.from_settings(settings),
        redis=connect(settings),
        site=site,
        keys=Keys(settings.key_prefix),
        theme=Theme(site, settings.theme_dir),
        schedule=send_later,
        binary_redis=connect(settings, decode=False),
    )


@worker_process_init.connect
def _init_worker_process(**_: Any) -> None:
    global _context
    _context = build_context(RenderSettings())


@beat_init.connect
def _schedule_hot_list(sender: Any, **_: Any) -> None:
    """Have the one beat send render.hot_refresh: clicks change 点击排行 without a publish.

    Declared here so the render service owns its schedule; beat's own entries are set
    before this runs, so it is added to the live scheduler.
    """
    seconds = RenderSettings().hot_refresh_seconds
    if seconds:
        sender.scheduler.update_from_dict(
            {"render-hot-list": {"task": HOT_TASK, "schedule": seconds}}
        )


@beat_init.connect
def _start_releaser(sender: Any, **_: Any) -> None:
    """Have the beat release embargoed articles at their instant, polling the due set on a
    thread of its own (services/render/schedule.py); it dies with the beat."""
    settings = RenderSettings()
    schedule.Releaser(
        db=connect(settings),
        keys=Keys(settings.key_prefix),
        send=send_now,
        poll=settings.schedule_poll_seconds,
        lease=settings.schedule_lease_seconds,
        stopping=threading.Event(),
    ).start()


def send_now(task: str, args: list[object]) -> None:
    celery_app.send_task(task, args=args)


def context() -> RenderContext:
    global _context
    if _context is None:  # solo/threads pools never send worker_process_init
        _context = build_context(RenderSettings())
    return _context


@pressroom_task("render.article")
def render_article(self: Task[Any, Any], article_id: str, version: int) -> str:
    return publish_article(context(), article_id, version)


@pressroom_task("render.flush", soft_time_limit=240)
def flush_dependants(self: Task[Any, Any]) -> int:
    return sum(flush(context()).values())


@pressroom_task("render.page")
def render_page(self: Task[Any, Any], slug: str) -> str:
    """Publish or withdraw one site page (/{slug}.html) as the data bucket has it."""
    return render_site_page(context(), slug)


@pressroom_task("render.pictures_ready")
def pictures_ready(self: Task[Any, Any], ref: str) -> int:
    """Sent by media when a picture's renditions are stored: the pages showing it follow."""
    return picture_ready(context(), ref)


@pressroom_task("render.hot_refresh")
def hot_refresh(self: Task[Any, Any]) -> None:
    refresh_hot_list(context())
