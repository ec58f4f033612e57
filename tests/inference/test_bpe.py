"""Our BPE trainer: the same merges as tiktoken's reference trainer, and usable by tiktoken."""

from __future__ import annotations

import pytest
import tiktoken
from tiktoken._educational import bpe_train as reference_bpe_train

from inference.bpe import count_pieces, merge_pair, train_bpe
from inference.tokenizer import GPT2_PATTERN

SMALL_TEXT = """\
First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?

All:
Resolved. resolved.

First Citizen:
First, you know Caius Marcius is chief enemy to the people.
We know't, we know't. Let us kill him, and we'll have corn at our own price.
Is't a verdict? 1234 5678 — naïve café “quoted” 日本語 🎭🎭
"""


def test_merge_pair_scans_left_to_right_without_overlap():
    assert merge_pair([b"a", b"a", b"a"], (b"a", b"a")) == [b"aa", b"a"]
    assert merge_pair([b"a", b"b", b"a", b"b"], (b"a", b"b")) == [b"ab", b"ab"]


def test_pieces_are_counted_in_order_of_first_appearance():
    counts = count_pieces(["hi there hi", " there"])
    assert list(counts.items()) == [("hi", 1), (" there", 2), (" hi", 1)]


@pytest.mark.parametrize("vocab_size", [300, 420])
def test_merges_equal_the_tiktoken_reference_trainer(vocab_size):
    reference = reference_bpe_train(SMALL_TEXT, vocab_size, GPT2_PATTERN, visualise=None)
    ours = train_bpe([SMALL_TEXT], vocab_size, special_tokens=())
    assert ours.ranks == reference


def test_the_vocabulary_has_the_requested_size_with_special_tokens_last():
    result = train_bpe([SMALL_TEXT * 3], 300, special_tokens=["<|endoftext|>"])
    assert len(result.ranks) + len(result.special_tokens) == 300
    assert result.special_tokens == {"<|endoftext|>": 299}
    assert sorted(result.ranks.values()) == list(range(299))


def test_special_tokens_are_never_learned_from_the_text():
    result = train_bpe(["<|endoftext|>" * 50 + "ab"], 270, special_tokens=["<|endoftext|>"])
    assert not any(b"<|" in token and len(token) > 2 for token in result.ranks)


def test_the_result_loads_into_tiktoken_and_round_trips():
    result = train_bpe([SMALL_TEXT], 400)
    encoding = tiktoken.Encoding(
        name="trained",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=result.ranks,
        special_tokens=result.special_tokens,
    )
    ids = encoding.encode(SMALL_TEXT)
    assert encoding.decode(ids) == SMALL_TEXT
    assert len(ids) < len(SMALL_TEXT.encode()) / 2  # it learned something
    tokenizer = result.tokenizer()
    text = "Speak, speak! Unseen words: ζεύγος 🗡"
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_training_stops_early_when_nothing_is_left_to_merge():
    result = train_bpe(["ab ab"], 1000, special_tokens=())
    assert result.merges == [(b"a", b"b"), (b" ", b"ab")]
    assert len(result.ranks) == 258
