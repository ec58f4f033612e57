"""POST /api/tokenizers/train: a toy BPE on a pasted text."""

from __future__ import annotations

import pytest

from .tokenizer_api import post_json

URL = "/api/tokenizers/train"


def test_it_works(client):
    status, data = post_json(client, URL, {"text": "aaabdaaabac", "merges": 30})
    assert status == 200
    assert data["initial"] == list("aaabdaaabac")
    first = data["steps"][0]
    assert first["pair"] == ["a", "a"] and first["count"] == 4 and first["replaced"] == 2
    assert first["top_pairs"][0] == {"pair": ["a", "a"], "count": 4}
    assert [s["token"] for s in data["steps"]] == ["aa", "aaa", "aaab"]
    assert data["steps"][-1]["symbols"] == ["aaab", "d", "aaab", "a", "c"]
    assert data["stopped"] == "no_repeated_pair"


def test_split_words_can_be_turned_off(client):
    status, data = post_json(client, URL, {"text": "ab ab", "merges": 1, "split_words": False})
    assert status == 200
    assert data["steps"][0]["pair"] == ["a", "b"]


@pytest.mark.parametrize(
    "body, code",
    [
        ({"text": ""}, "empty_text"),
        ({"text": "x" * 2001}, "text_too_long"),
        ({"text": "abc", "merges": 31}, "bad_merges"),
        ({"text": "abc", "merges": "many"}, "bad_merges"),
        ({"text": "abc", "split_words": "yes"}, "bad_split_words"),
        ("", "bad_json"),
    ],
)
def test_it_rejects_bad_input(client, body, code):
    status, data = post_json(client, URL, body)
    assert status == 400
    assert data["error"]["code"] == code
    assert data["error"]["message"]
