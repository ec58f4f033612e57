"""Helpers for the tokenizer API tests: the bundled model as a registry record, JSON posts."""

from __future__ import annotations

import json

import pytest

from webapp.tokenizers import sources

from .conftest import ready_record


@pytest.fixture
def shakespeare(db):
    """The bundled model, registered as the default (its tokenizer is read from models/)."""
    sources.clear_cache()
    yield ready_record("shakespeare", directory="shakespeare", is_default=True)
    sources.clear_cache()


def post_json(client, url: str, data) -> tuple[int, dict]:
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    response = client.post(url, body, content_type="application/json")
    return response.status_code, response.json()
