"""GET /api/tokenizers/: OpenAI's encodings and the models' tokenizers."""

from __future__ import annotations

import pytest

from inference.reference_tokenizers import ENCODINGS
from tests.tokenizer_files import installed_encoding

from .tokenizer_api import shakespeare  # noqa: F401

pytestmark = pytest.mark.django_db


def test_it_works(client, shakespeare):  # noqa: F811
    for name in ENCODINGS:
        installed_encoding(name)
    response = client.get("/api/tokenizers/")
    assert response.status_code == 200
    data = response.json()
    by_name = {e["name"]: e for e in data["encodings"]}
    assert by_name["r50k_base"]["label"] == "GPT-2"
    assert by_name["cl100k_base"]["label"] == "GPT-4"
    assert by_name["o200k_base"]["label"] == "GPT-4o"
    assert all(e["installed"] for e in data["encodings"])
    assert by_name["cl100k_base"]["vocab_size"] == 100277
    assert data["models"] == [
        {
            "slug": "shakespeare",
            "name": "Shakespeare",
            "is_default": True,
            "installed": True,
            "vocab_size": 4096,
            "message": "",
        }
    ]


def test_it_says_not_installed_when_the_files_are_missing(client, settings, tmp_path):
    settings.GLASSBOX = {**settings.GLASSBOX, "TOKENIZERS_DIR": tmp_path}
    data = client.get("/api/tokenizers/").json()
    assert not any(e["installed"] for e in data["encodings"])
    assert all("make tokenizers" in e["message"] for e in data["encodings"])
    assert data["models"] == []


def test_it_reports_a_model_whose_tokenizer_cannot_be_read(client, models_dir):
    from .conftest import ready_record

    ready_record("ghost")  # a record whose folder is not there
    (model,) = client.get("/api/tokenizers/").json()["models"]
    assert model["installed"] is False and model["message"]


def test_it_rejects_post(client):
    response = client.post("/api/tokenizers/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
