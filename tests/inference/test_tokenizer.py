"""Tokenizers through tiktoken: rank files, honest display of bytes, clear errors."""

from __future__ import annotations

import pytest
import tiktoken

from inference.tokenizer import (
    Tokenizer,
    TokenizerError,
    byte_to_unicode_map,
    display_text,
    read_rank_file,
    write_rank_file,
)

from .conftest import EOT_ID, small_ranks

UNICODE_SAMPLES = [
    "To be, or not to be: that is the question.",
    "Café naïve résumé — “quoted” … ‘single’",
    "日本語のテキストと emoji 🎭🗡️👑 and ZWJ 👩‍👩‍👧",
    "tabs\tand\nnewlines\r\n  and   spaces ",
    "العربية עברית हिन्दी",
    "\x00\x01 control \u200b zero width",
]


@pytest.mark.parametrize("text", UNICODE_SAMPLES)
def test_round_trips_arbitrary_unicode(tokenizer, text):
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert all(0 <= i < tokenizer.n_vocab for i in ids)


def test_merges_are_used(tokenizer):
    ids = tokenizer.encode(" the thing")
    assert [tokenizer.token_bytes(i) for i in ids] == [b" the", b" ", b"th", b"ing"]


def test_special_token_in_text_becomes_its_id(tokenizer):
    ids = tokenizer.encode("end<|endoftext|>")
    assert ids[-1] == EOT_ID == tokenizer.eot_id
    assert tokenizer.decode(ids) == "end<|endoftext|>"


def test_a_partial_utf8_token_is_shown_as_its_bytes(tokenizer):
    # "…" is e2 80 a6: the vocabulary has a token for its first two bytes only
    ids = tokenizer.encode("…")
    infos = tokenizer.describe(ids)
    assert [info.bytes for info in infos] == [b"\xe2\x80", b"\xa6"]
    assert infos[0].partial and infos[0].text == "\\xe2\\x80"
    assert infos[1].partial and infos[1].text == "\\xa6"
    assert tokenizer.decode(ids[:1]) == "\ufffd"  # decoding a fragment never raises


def test_display_text_of_whole_characters_is_the_text():
    assert display_text("é".encode()) == ("é", False)
    assert display_text(b" the") == (" the", False)


def test_describe_gives_id_bytes_and_text(tokenizer):
    info = tokenizer.describe(tokenizer.encode(" the"))[0]
    assert info.to_dict() == {"id": 258, "bytes": list(b" the"), "text": " the", "partial": False}


def test_rank_file_round_trip_loads_into_tiktoken(tmp_path):
    path = tmp_path / "ranks.tiktoken"
    write_rank_file(small_ranks(), path)
    assert read_rank_file(path) == small_ranks()
    encoding = tiktoken.Encoding(
        name="t", pat_str=r"\S+|\s+", mergeable_ranks=read_rank_file(path), special_tokens={}
    )
    assert encoding.decode(encoding.encode("the thing")) == "the thing"


def test_rank_file_is_reread_after_it_changes(tmp_path):
    """Regression: tiktoken's own loader caches by path and would serve the old file."""
    path = tmp_path / "ranks.tiktoken"
    write_rank_file(small_ranks(), path)
    first = Tokenizer.from_rank_file(path)
    ranks = {bytes([b]): b for b in range(256)}
    write_rank_file(ranks, path)
    second = Tokenizer.from_rank_file(path)
    assert len(first.encode("the")) == 1 and len(second.encode("the")) == 3


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty"),
        ("not-base64!! 3\n", "line 1"),
        ("YQ== 1\nYQ== 2\n", "repeats"),
        ("YQ==\n", "line 1"),
    ],
)
def test_a_malformed_rank_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.tiktoken"
    path.write_text(content)
    with pytest.raises(TokenizerError, match=message):
        read_rank_file(path)


def test_a_vocabulary_without_every_byte_is_refused():
    with pytest.raises(TokenizerError, match="256 single bytes"):
        Tokenizer.from_ranks({b"a": 0})


def test_byte_to_unicode_map_is_a_bijection_onto_printable_characters():
    mapping = byte_to_unicode_map()
    assert len(set(mapping.values())) == 256
    assert mapping[ord("A")] == "A" and mapping[ord(" ")] == "Ġ" and mapping[ord("\n")] == "Ċ"
    assert all(c.isprintable() and not c.isspace() for c in mapping.values())


def test_an_unknown_tiktoken_name_is_a_clear_error():
    with pytest.raises(TokenizerError, match="unknown tiktoken encoding 'no_such_encoding'"):
        Tokenizer.from_tiktoken_name("no_such_encoding")


def test_a_named_encoding_that_cannot_be_downloaded_is_a_clear_error(monkeypatch):
    def offline(name):
        raise ConnectionError("Failed to resolve host")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    with pytest.raises(TokenizerError, match="not available on this machine"):
        Tokenizer.from_tiktoken_name("gpt2")


def test_a_named_encoding_wraps_tiktoken(monkeypatch):
    encoding = tiktoken.Encoding(
        name="local", pat_str=r"\S+|\s+", mergeable_ranks=small_ranks(), special_tokens={}
    )
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: encoding)
    tokenizer = Tokenizer.from_tiktoken_name("local")
    assert tokenizer.kind == "tiktoken"
    assert tokenizer.decode(tokenizer.encode("the thing")) == "the thing"
