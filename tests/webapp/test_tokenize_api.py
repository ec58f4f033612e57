"""POST /api/tokenizers/tokenize: the same text through several tokenizers."""

from __future__ import annotations

import base64

import pytest

from tests.tokenizer_files import installed_encoding

from .tokenizer_api import post_json, shakespeare  # noqa: F401

pytestmark = pytest.mark.django_db
URL = "/api/tokenizers/tokenize"


def test_it_works(client, shakespeare):  # noqa: F811
    installed_encoding("r50k_base")
    installed_encoding("cl100k_base")
    status, data = post_json(
        client,
        URL,
        {"text": "Hello world!", "encodings": ["r50k_base", "cl100k_base"], "model": "shakespeare"},
    )
    assert status == 200
    assert data["text_chars"] == 12
    model, gpt2, gpt4 = data["results"]
    assert (model["source"], model["name"]) == ("model", "shakespeare")
    assert [t["id"] for t in gpt2["tokens"]] == [15496, 995, 0]
    assert gpt2["label"] == "GPT-2" and gpt2["count"] == 3
    assert gpt2["chars_per_token"] == 4.0
    assert gpt2["tokens"][1] == {
        "id": 995,
        "bytes": base64.b64encode(b" world").decode(),
        "text": " world",
        "partial": False,
    }
    assert gpt4["count"] == len(gpt4["tokens"])
    assert "".join(t["text"] for t in model["tokens"]) == "Hello world!"


def test_partial_characters_are_flagged(client):
    installed_encoding("cl100k_base")
    status, data = post_json(client, URL, {"text": "👍", "encodings": ["cl100k_base"]})
    assert status == 200
    tokens = data["results"][0]["tokens"]
    assert [t["id"] for t in tokens] == [9468, 239, 235]
    assert all(t["partial"] for t in tokens)
    assert b"".join(base64.b64decode(t["bytes"]) for t in tokens) == "👍".encode()


def test_a_missing_encoding_is_reported_on_its_own(client, shakespeare, settings, tmp_path):  # noqa: F811
    settings.GLASSBOX = {**settings.GLASSBOX, "TOKENIZERS_DIR": tmp_path}
    status, data = post_json(
        client, URL, {"text": "hi", "encodings": ["o200k_base"], "model": "shakespeare"}
    )
    assert status == 200
    model, gpt4o = data["results"]
    assert model["count"] >= 1
    assert gpt4o["error"]["code"] == "not_installed"
    assert "make tokenizers" in gpt4o["error"]["message"]


@pytest.mark.parametrize(
    "body, code",
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ({"encodings": ["r50k_base"]}, "bad_text"),
        ({"text": "", "encodings": ["r50k_base"]}, "empty_text"),
        ({"text": "x" * 4001, "encodings": ["r50k_base"]}, "text_too_long"),
        ({"text": "😀" * 2001, "encodings": ["r50k_base"]}, "text_too_long"),
        ({"text": "hi", "encodings": ["gpt5_base"]}, "unknown_encoding"),
        ({"text": "hi", "encodings": "r50k_base"}, "bad_encodings"),
        ({"text": "hi", "model": "nope"}, "unknown_model"),
        ({"text": "hi"}, "nothing_requested"),
    ],
)
def test_it_rejects_bad_input(client, body, code):
    status, data = post_json(client, URL, body)
    assert status == 400
    assert data["error"]["code"] == code
    assert data["error"]["message"]


def test_it_rejects_an_oversized_body(client):
    status, data = post_json(client, URL, {"text": "x" * 200_000})
    assert status == 413
    assert data["error"]["code"] == "too_large"


def test_it_needs_no_csrf_token(shakespeare):  # noqa: F811
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    status, _ = post_json(strict, URL, {"text": "hi", "model": "shakespeare"})
    assert status == 200


def test_it_rejects_get(client):
    assert client.get(URL).status_code == 405
