"""A tiny BPE trainer for a pasted text, every step shown: BPE as the lesson runs it by hand.

The real trainer (bpe.py) works on bytes and megabytes; this one works on characters
(Unicode code points), on at most MAX_CHARS of them and MAX_MERGES merges, and reports each
step: the most frequent pairs, the pair chosen, and the whole text as symbols afterwards.

The rules, which the lesson states the same way:

* Counting: every adjacent position counts, so overlapping pairs count separately: in
  "aaab" the pair (a, a) counts 2 (positions 1-2 and 2-3). This is how bpe.py and
  tiktoken's educational trainer count.
* Merging: the chosen pair is replaced left to right without overlap, so "aaab" becomes
  [aa, a, b]: one replacement for a count of 2. Each step reports both numbers.
* Ties: among pairs with the same count, the one whose first occurrence comes first in the
  current text wins (bpe.py's rule too).
* Stopping: after `merges` merges, or when no pair occurs more than once (merging a pair
  seen once saves one symbol and learns nothing).
* Words: with `split_words` (the default), the text is first cut into pieces with GPT-2's
  pattern (a word keeps its leading space), and no pair spans two pieces.

"aaabdaaabac" under these rules: aa (4) -> [aa a b d aa a b a c]; then (aa, a) and (a, b)
both count 2 and (aa, a) comes first -> [aaa b d aaa b a c]; then (aaa, b) 2 ->
[aaab d aaab a c]; then every pair occurs once: stop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import regex

from .tokenizer import GPT2_PATTERN

MAX_CHARS = 2000
MAX_MERGES = 30
TOP_PAIRS = 5

Pair = tuple[str, str]


class ToyBPEError(ValueError):
    """A text or merge count outside what the toy trainer accepts."""


@dataclass(frozen=True)
class PairCount:
    pair: Pair
    count: int


@dataclass(frozen=True)
class TrainingStep:
    """One merge: the counts it was chosen from, the pair, and the text after it."""

    top_pairs: tuple[PairCount, ...]  # the most frequent pairs, in the order of the choice
    pair: Pair
    count: int  # occurrences counted, overlapping ones included
    replaced: int  # occurrences replaced, left to right without overlap
    symbols: tuple[str, ...]  # the whole text after the merge

    @property
    def token(self) -> str:
        return self.pair[0] + self.pair[1]


@dataclass(frozen=True)
class ToyTraining:
    initial: tuple[str, ...]  # the text as characters
    steps: tuple[TrainingStep, ...]
    vocabulary: tuple[str, ...]  # the characters (first seen first), then each new token
    stopped: str  # "merges" (as many as asked), "no_repeated_pair" or "no_pairs"


def count_pairs(pieces: list[list[str]]) -> Counter[Pair]:
    """Every adjacent pair in every piece, counted at each position, first seen first."""
    counts: Counter[Pair] = Counter()
    for symbols in pieces:
        counts.update(zip(symbols, symbols[1:], strict=False))
    return counts


def replace_pair(symbols: list[str], pair: Pair) -> tuple[list[str], int]:
    """`symbols` with `pair` merged left to right without overlap, and how many were merged."""
    merged, replaced, i = [], 0, 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            replaced += 1
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged, replaced


def train_toy_bpe(text: str, merges: int = 10, split_words: bool = True) -> ToyTraining:
    if not isinstance(text, str):
        raise ToyBPEError("the text must be a string")
    if not text:
        raise ToyBPEError("the text is empty")
    if len(text) > MAX_CHARS:
        raise ToyBPEError(f"the text has {len(text)} characters; at most {MAX_CHARS}")
    if isinstance(merges, bool) or not isinstance(merges, int) or not 1 <= merges <= MAX_MERGES:
        raise ToyBPEError(f"merges must be a whole number from 1 to {MAX_MERGES}")

    words = regex.findall(GPT2_PATTERN, text) if split_words else [text]
    pieces = [list(word) for word in words]
    initial = tuple(symbol for piece in pieces for symbol in piece)
    vocabulary = list(dict.fromkeys(initial))
    steps: list[TrainingStep] = []
    stopped = "merges"
    while len(steps) < merges:
        counts = count_pairs(pieces)
        if not counts:
            stopped = "no_pairs"
            break
        # Counter keeps first-seen order and sorted() is stable: equal counts stay in order
        # of first occurrence, so the first entry is the pair chosen.
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        pair, count = ranked[0]
        if count < 2:
            stopped = "no_repeated_pair"
            break
        replaced = 0
        for index, symbols in enumerate(pieces):
            pieces[index], replaced_here = replace_pair(symbols, pair)
            replaced += replaced_here
        if pair[0] + pair[1] not in vocabulary:  # two pairs can spell the same token
            vocabulary.append(pair[0] + pair[1])
        steps.append(
            TrainingStep(
                top_pairs=tuple(PairCount(p, c) for p, c in ranked[:TOP_PAIRS]),
                pair=pair,
                count=count,
                replaced=replaced,
                symbols=tuple(symbol for piece in pieces for symbol in piece),
            )
        )
    return ToyTraining(initial, tuple(steps), tuple(vocabulary), stopped)
