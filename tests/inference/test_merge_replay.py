"""The merge replay ends exactly where the tokenizer's own encoding does, step by step."""

from __future__ import annotations

import random

import pytest

from inference import Tokenizer
from inference.checkpoint import load_tokenizer
from inference.merge_replay import merge_piece, replay_merges
from tests.environment import REPO
from tests.tokenizer_files import installed_encoding

from .conftest import small_ranks

FIXED_TEXTS = [
    "",
    "Hello world!",
    "To be, or not to be: that is the question.",
    "supercalifragilistic",
    "2 + 2 =",
    "I'm here, you're there; we'll see. DON'T",
    "naïve café, Straße, São Paulo",
    "日本語のテキスト、中文文本",
    "emoji 😀👍🏽 👨‍👩‍👧 and flags 🇫🇷",
    "tabs\tand\nnew\r\nlines\n\n\n   spaces   ",
    "numbers 1234567890 3.14159 1e-9",
    "<|endoftext|>after the end<|endoftext|>",
    "lone surrogate \ud83d here",
    "a" * 300,
    " " * 200,
    "😀" * 50,
]
ALPHABET = list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,;:'!?-\n\t") + list(
    "éèüßñçøåæœ日本語中文한국어😀👍🏽🇫🇷€£\u200d\u0301"
)


def random_texts(count: int = 150, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(ALPHABET, k=rng.randint(1, 60))) for _ in range(count)]


@pytest.fixture(scope="module")
def bundled() -> Tokenizer:
    return load_tokenizer(REPO / "models" / "shakespeare")


def expected_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    # tiktoken replaces a lone surrogate by U+FFFD; the replay does the same
    return tokenizer.encode(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


def test_replay_ends_with_the_bundled_tokenizers_encoding(bundled):
    for text in FIXED_TEXTS + random_texts():
        replay = replay_merges(bundled, text, max_steps=10)
        assert replay.final_ids() == expected_ids(bundled, text), repr(text)


@pytest.mark.parametrize("name", ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"])
def test_replay_ends_with_openais_encodings(name):
    tokenizer = installed_encoding(name)
    for text in FIXED_TEXTS + random_texts(60):
        assert replay_merges(tokenizer, text).final_ids() == expected_ids(tokenizer, text)


def test_partial_utf8_tokens_are_replayed_exactly():
    # the small vocabulary has b"\xe2\x80" and b"\xc3\xa9": tokens that are half a character
    tokenizer = Tokenizer.from_ranks(small_ranks(), {"<|endoftext|>": 299})
    for text in ["café", "“quoted” – dash…", "éé the thing"]:
        assert replay_merges(tokenizer, text).final_ids() == tokenizer.encode(text)


def test_each_step_records_the_pair_the_merge_and_the_split():
    tokenizer = Tokenizer.from_ranks(small_ranks())  # 256 = "th", 257 = "the", 258 = " the"
    replay = replay_merges(tokenizer, "the")
    steps = [(s.piece, s.position, s.left, s.right, s.merged, s.split) for s in replay.steps]
    assert steps == [
        (0, 0, ord("t"), ord("h"), 256, (256, ord("e"))),
        (0, 0, 256, ord("e"), 257, (257,)),
    ]
    assert replay.pieces[0].initial == (ord("t"), ord("h"), ord("e"))
    assert replay.pieces[0].final == (257,)


def test_the_lowest_rank_merges_first_and_the_leftmost_among_equals():
    ranks = {bytes([b]): b for b in range(256)} | {b"bc": 256, b"ab": 257}
    merges = [(position, rank) for position, rank, *_ in merge_piece(b"abcbc", ranks)]
    # "bc" (256) beats "ab" (257); of the two "bc"s the left one goes first
    assert merges == [(1, 256), (2, 256)]


def test_a_piece_that_is_a_token_is_taken_whole_as_tiktoken_does():
    # "abc" is a token but neither "ab" nor "bc" is: merges alone would stop at a|b|c
    ranks = {bytes([b]): b for b in range(256)} | {b"abc": 256}
    tokenizer = Tokenizer.from_ranks(ranks)
    replay = replay_merges(tokenizer, "abc")
    assert tokenizer.encode("abc") == [256]
    assert replay.final_ids() == [256]
    assert [(s.whole_piece, s.left, s.split) for s in replay.steps] == [(True, None, (256,))]


def test_special_tokens_are_one_piece_without_steps(bundled):
    replay = replay_merges(bundled, "<|endoftext|>")
    assert [p.special for p in replay.pieces] == [True]
    assert replay.final_ids() == [bundled.eot_id]
    assert replay.steps == []


def test_long_text_is_capped_but_its_final_split_is_complete(bundled):
    text = "To be, or not to be, that is the question. " * 10
    replay = replay_merges(bundled, text, max_steps=25)
    assert len(replay.steps) == 25
    assert replay.truncated and replay.total_steps > 25
    assert replay.final_ids() == bundled.encode(text)


def test_a_long_piece_is_capped_by_the_ids_its_splits_repeat(bundled):
    replay = replay_merges(bundled, " " * 400, max_steps=1000, max_recorded_ids=2000)
    assert sum(len(step.split) for step in replay.steps) <= 2000
    assert replay.truncated
    assert replay.final_ids() == bundled.encode(" " * 400)
