"""Fixtures for the web app: a real Redis on loopback, and registry records."""

from __future__ import annotations

import pytest


@pytest.fixture
def redis_client(redis_server):
    redis_server.flushall()
    from webapp.redis_client import sync_client

    sync_client.cache_clear()
    yield redis_server
    redis_server.flushall()
