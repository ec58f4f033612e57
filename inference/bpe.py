"""Byte-level BPE training: learn a vocabulary by merging the most frequent pair, again and again.

The algorithm, as the tokenization lesson tells it:

1. Split the text into pieces with GPT-2's pattern (words with their leading space,
   numbers, punctuation runs, whitespace), so that no token ever spans two words.
2. Write every piece as its UTF-8 bytes: the first 256 tokens are the 256 byte values,
   so any text at all can be encoded.
3. Count every adjacent pair of tokens, over all pieces. Make the most frequent pair a new
   token and replace it everywhere. Repeat until the vocabulary is as large as wanted.

Ties between equally frequent pairs go to the pair that occurs first in the text, which is
also what tiktoken's educational trainer does, so the two produce the same merges.

The result loads into tiktoken as `mergeable_ranks`: the rank of a token is the step at
which it was created, and encoding replays the merges in that order.

Speed comes from bookkeeping, not cleverness: identical pieces are counted once with their
frequency, and after a merge only the pieces that contained the merged pair are recounted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import regex

from .tokenizer import END_OF_TEXT, GPT2_PATTERN, Tokenizer

Pair = tuple[bytes, bytes]


@dataclass
class BPEResult:
    """A trained vocabulary: ranks for tiktoken, the merges in order, the special tokens."""

    ranks: dict[bytes, int]
    merges: list[Pair]
    special_tokens: dict[str, int]

    def tokenizer(self, name: str = "glassbox") -> Tokenizer:
        return Tokenizer.from_ranks(self.ranks, self.special_tokens, name=name)


def count_pieces(texts: Iterable[str], pattern: str = GPT2_PATTERN) -> Counter[str]:
    """How often each pre-tokenized piece occurs, in order of first appearance."""
    compiled = regex.compile(pattern)
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(compiled.findall(text))
    return counts


def merge_pair(tokens: list[bytes], pair: Pair) -> list[bytes]:
    """Replace every occurrence of `pair` in `tokens`, scanning left to right."""
    merged = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and tokens[i] == pair[0] and tokens[i + 1] == pair[1]:
            merged.append(pair[0] + pair[1])
            i += 2
        else:
            merged.append(tokens[i])
            i += 1
    return merged


class _PairStatistics:
    """Pair counts over all pieces, and which pieces hold each pair, kept up to date."""

    def __init__(self, pieces: list[list[bytes]], frequencies: list[int]):
        self.pieces = pieces
        self.frequencies = frequencies
        self.counts: Counter[Pair] = Counter()
        self.holders: defaultdict[Pair, set[int]] = defaultdict(set)
        for index in range(len(pieces)):
            self._add(index)

    def _add(self, index: int) -> None:
        tokens, frequency = self.pieces[index], self.frequencies[index]
        for pair in zip(tokens, tokens[1:], strict=False):
            self.counts[pair] += frequency
            self.holders[pair].add(index)

    def _remove(self, index: int) -> None:
        tokens, frequency = self.pieces[index], self.frequencies[index]
        for pair in zip(tokens, tokens[1:], strict=False):
            self.counts[pair] -= frequency
            if self.counts[pair] <= 0:
                del self.counts[pair]
            self.holders[pair].discard(index)

    def most_frequent(self) -> Pair | None:
        """The most frequent pair; among equals, the one that occurs first in the text."""
        if not self.counts:
            return None
        best = max(self.counts.values())
        tied = [pair for pair, count in self.counts.items() if count == best]
        if len(tied) == 1:
            return tied[0]
        return min(tied, key=self._first_occurrence)

    def _first_occurrence(self, pair: Pair) -> tuple[int, int]:
        index = min(self.holders[pair])  # pieces are numbered in order of first appearance
        tokens = self.pieces[index]
        position = next(i for i in range(len(tokens) - 1) if (tokens[i], tokens[i + 1]) == pair)
        return index, position

    def apply(self, pair: Pair) -> None:
        for index in list(self.holders[pair]):
            self._remove(index)
            self.pieces[index] = merge_pair(self.pieces[index], pair)
            self._add(index)
        self.holders.pop(pair, None)


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    special_tokens: Iterable[str] = (END_OF_TEXT,),
    pattern: str = GPT2_PATTERN,
    progress: Callable[[int, Pair, int], None] | None = None,
) -> BPEResult:
    """Learn `vocab_size` tokens (256 bytes + merges + special tokens) from `texts`.

    Special tokens are cut out of the text before counting, and get the last ids.
    `progress(step, pair, count)` is called after each merge, if given.
    """
    special_tokens = list(special_tokens)
    n_merges = vocab_size - 256 - len(special_tokens)
    if n_merges < 0:
        raise ValueError(f"vocab_size must be at least {256 + len(special_tokens)}")

    def without_specials(texts: Iterable[str]) -> Iterable[str]:
        for text in texts:
            if special_tokens:
                yield from regex.split("|".join(regex.escape(s) for s in special_tokens), text)
            else:
                yield text

    counts = count_pieces(without_specials(texts), pattern)
    pieces = [[bytes([b]) for b in piece.encode("utf-8")] for piece in counts]
    stats = _PairStatistics(pieces, list(counts.values()))

    ranks = {bytes([b]): b for b in range(256)}
    merges: list[Pair] = []
    for step in range(n_merges):
        pair = stats.most_frequent()
        if pair is None:
            break  # every piece is a single token: nothing left to merge
        count = stats.counts[pair]
        stats.apply(pair)
        merges.append(pair)
        # the same bytes can come from two different pairs; keep the first rank
        ranks.setdefault(pair[0] + pair[1], len(ranks))
        if progress is not None:
            progress(step, pair, count)

    specials = {token: len(ranks) + i for i, token in enumerate(special_tokens)}
    return BPEResult(ranks=ranks, merges=merges, special_tokens=specials)
