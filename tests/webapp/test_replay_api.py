"""POST /api/tokenizers/replay: the bundled tokenizer's merges on a text."""

from __future__ import annotations

import base64

import pytest

from .tokenizer_api import post_json, shakespeare  # noqa: F401

pytestmark = pytest.mark.django_db
URL = "/api/tokenizers/replay"


def test_it_works(client, shakespeare):  # noqa: F811
    status, data = post_json(client, URL, {"text": "The cat sat", "model": "shakespeare"})
    assert status == 200
    assert data["model"]["slug"] == "shakespeare"
    tokens = {t["id"]: t for t in data["tokens"]}
    # the syllabus's measured split: The| c|at| sat
    assert [tokens[i]["text"] for i in data["final"]] == ["The", " c", "at", " sat"]
    assert [base64.b64decode(p["bytes"]) for p in data["pieces"]] == [b"The", b" cat", b" sat"]
    first = data["steps"][0]
    assert set(first) == {
        "piece", "position", "left", "right", "merged", "rank", "split", "whole_piece",
    }  # fmt: skip
    assert first["merged"]["id"] in first["split"]
    assert data["steps"][-1]["split"] == data["pieces"][-1]["final"]
    assert data["truncated"] is False and data["total_steps"] == len(data["steps"])


def test_it_uses_the_default_model_when_none_is_named(client, shakespeare):  # noqa: F811
    status, data = post_json(client, URL, {"text": "hi"})
    assert status == 200 and data["model"]["slug"] == "shakespeare"


def test_long_text_is_capped(client, shakespeare):  # noqa: F811
    text = "Friends, Romans, countrymen, lend me your ears; " * 10
    status, data = post_json(client, URL, {"text": text})
    assert status == 200
    assert data["truncated"] is True
    assert len(data["steps"]) == data["max_steps"] < data["total_steps"]


@pytest.mark.parametrize(
    "body, code",
    [
        ({"text": ""}, "empty_text"),
        ({"text": "x" * 501}, "text_too_long"),
        ({"text": "hi", "model": "nope"}, "unknown_model"),
        ("{", "bad_json"),
    ],
)
def test_it_rejects_bad_input(client, shakespeare, body, code):  # noqa: F811
    status, data = post_json(client, URL, body)
    assert status == 400
    assert data["error"]["code"] == code


def test_it_says_so_when_no_model_is_available(client):
    status, data = post_json(client, URL, {"text": "hi"})
    assert (status, data["error"]["code"]) == (400, "unknown_model")
