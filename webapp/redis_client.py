"""Shared Redis connections for Glassbox's own keys (cancel flags, heartbeats, rate limits)."""

from __future__ import annotations

from functools import lru_cache

import redis
import redis.asyncio
from django.conf import settings

KEY_PREFIX = "glassbox:"


@lru_cache(maxsize=1)
def sync_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def async_client() -> redis.asyncio.Redis:
    """A new asyncio client: each belongs to the event loop that uses it."""
    return redis.asyncio.Redis.from_url(
        settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
    )
