"""The toy BPE trainer follows the lesson's rules: overlapping counts, first occurrence wins."""

from __future__ import annotations

import pytest

from inference.toy_bpe import MAX_CHARS, MAX_MERGES, ToyBPEError, replace_pair, train_toy_bpe


def test_it_runs_the_syllabus_example_aaabdaaabac():
    training = train_toy_bpe("aaabdaaabac", merges=MAX_MERGES)
    first, second, third = training.steps
    # aa counts 4 with overlaps (aaab has two), but only 2 are replaced, left to right
    assert (first.pair, first.count, first.replaced) == (("a", "a"), 4, 2)
    assert [(p.pair, p.count) for p in first.top_pairs[:2]] == [(("a", "a"), 4), (("a", "b"), 2)]
    assert "".join(first.symbols) == "aaabdaaabac"
    assert first.symbols == ("aa", "a", "b", "d", "aa", "a", "b", "a", "c")
    # (aa, a) and (a, b) both count 2: the first occurrence in the text wins
    assert [(p.pair, p.count) for p in second.top_pairs[:2]] == [(("aa", "a"), 2), (("a", "b"), 2)]
    assert second.pair == ("aa", "a")
    assert second.symbols == ("aaa", "b", "d", "aaa", "b", "a", "c")
    assert (third.pair, third.count) == (("aaa", "b"), 2)
    assert third.symbols == ("aaab", "d", "aaab", "a", "c")  # the lesson's "XdXac"
    assert training.stopped == "no_repeated_pair"
    assert training.vocabulary == ("a", "b", "d", "c", "aa", "aaa", "aaab")


def test_it_stops_after_the_merges_asked_for():
    training = train_toy_bpe("aaabdaaabac", merges=1)
    assert len(training.steps) == 1
    assert training.stopped == "merges"


def test_pairs_never_span_two_words():
    training = train_toy_bpe("low lower lowest", merges=MAX_MERGES)
    for step in training.steps:
        assert not step.token.endswith(" ") and " " not in step.token[1:]
    assert training.steps[0].pair == ("l", "o")
    joined = train_toy_bpe("ab ab", merges=5, split_words=False)
    assert ("b", " ") in [p.pair for p in joined.steps[0].top_pairs]


def test_a_single_symbol_text_has_no_pairs():
    assert train_toy_bpe("a", merges=3).stopped == "no_pairs"


def test_replace_pair_does_not_overlap():
    assert replace_pair(list("aaaa"), ("a", "a")) == (["aa", "aa"], 2)
    assert replace_pair(list("aaa"), ("a", "a")) == (["aa", "a"], 1)


@pytest.mark.parametrize(
    "text, merges, message",
    [
        ("", 3, "empty"),
        (None, 3, "string"),
        ("x" * (MAX_CHARS + 1), 3, "at most"),
        ("abc", 0, "merges"),
        ("abc", MAX_MERGES + 1, "merges"),
        ("abc", True, "merges"),
        ("abc", "3", "merges"),
    ],
)
def test_it_rejects_bad_input(text, merges, message):
    with pytest.raises(ToyBPEError, match=message):
        train_toy_bpe(text, merges)
