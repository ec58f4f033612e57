"""Fixtures for the web app: an empty model cache, a clean Redis, a private models folder,
registry records."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fresh_model_cache():
    """Every test starts and ends with no model loaded in this process's worker cache."""
    from webapp.playground import model_cache

    model_cache.clear()
    yield
    model_cache.clear()


@pytest.fixture
def redis_client(redis_server):
    redis_server.flushall()
    from webapp.redis_client import sync_client

    sync_client.cache_clear()
    yield redis_server
    redis_server.flushall()


@pytest.fixture
def models_dir(tmp_path, settings):
    """An empty private models folder in place of the repo's."""
    folder = tmp_path / "models"
    folder.mkdir()
    settings.GLASSBOX = {**settings.GLASSBOX, "MODELS_DIR": folder}
    return folder


def ready_record(slug: str = "tiny", **fields):
    """A ready registry record whose facts describe a small model (no files needed)."""
    from webapp.catalog.models import LanguageModel

    values = dict(
        name=slug.title(),
        directory=slug,
        status=LanguageModel.Status.READY,
        n_layer=2,
        n_head=4,
        n_embd=32,
        block_size=64,
        vocab_size=300,
        parameters=1000,
    )
    values.update(fields)
    return LanguageModel.objects.create(slug=slug, **values)
