"""Render: Celery workers that turn article events into static pages in the site bucket."""
