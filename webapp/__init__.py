"""The Glassbox Django project: settings, URLs, ASGI and Celery apps, and one app per concern."""

from .celery import app as celery_app

__all__ = ("celery_app",)
