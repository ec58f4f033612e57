"""Replay a tokenizer's byte-pair merges on one text, step by step, for the BPE lesson.

This is what tiktoken does to encode (its `_byte_pair_merge`), spelled out in Python:

1. Cut the text at special tokens (`<|endoftext|>`), which become one token each.
2. Split the rest into pieces with the tokenizer's pre-tokenization pattern (words with
   their leading space, numbers, punctuation runs, whitespace): no merge crosses a piece.
3. Write every piece as its UTF-8 bytes, one token per byte.
4. Among the adjacent pairs whose concatenation is a token, merge the pair whose token has
   the lowest rank (the leftmost of equals); repeat until no adjacent pair is a token.

One shortcut of tiktoken's is kept as well: a piece that is a token as a whole is taken
whole. The merges almost always reach it anyway; when they stop short, the replay ends
that piece with one extra step marked `whole_piece`, so the final split is always exactly
the tokenizer's own encoding.

The replay is cheap per step but the steps grow with the text, and a step's split grows
with its piece, so only the first steps are recorded (`truncated` says so); every piece's
final split is complete all the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import regex

from .tokenizer import Tokenizer

DEFAULT_MAX_STEPS = 300
DEFAULT_MAX_RECORDED_IDS = 20_000  # ids in all the recorded steps' splits together
_NOT_A_TOKEN = 2**63  # the "rank" of a pair whose concatenation is not in the vocabulary


PieceMerge = tuple[int, int, bytes, bytes, list[bytes]]


@dataclass(frozen=True)
class MergeStep:
    """One merge: in piece `piece`, tokens `left` and `right` at `position` become `merged`."""

    piece: int
    position: int  # index of `left` in the piece's split before the merge
    left: int | None  # None for a whole-piece step, which merges everything at once
    right: int | None
    merged: int
    rank: int
    split: tuple[int, ...]  # the piece's token ids after this merge
    whole_piece: bool = False  # tiktoken's shortcut: the whole piece is one token


@dataclass(frozen=True)
class ReplayPiece:
    """One pre-tokenized piece: its bytes, its start (single bytes) and its final split."""

    bytes: bytes
    initial: tuple[int, ...]
    final: tuple[int, ...]
    special: bool = False
    steps: int = 0  # merges this piece took (recorded or not)


@dataclass
class MergeReplay:
    pieces: list[ReplayPiece]
    steps: list[MergeStep] = field(default_factory=list)
    total_steps: int = 0
    truncated: bool = False  # more steps happened than were recorded

    def final_ids(self) -> list[int]:
        return [token_id for piece in self.pieces for token_id in piece.final]


def well_formed(text: str) -> str:
    """Lone surrogates (possible in JSON input) become U+FFFD, as tiktoken's encode does."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def split_on_specials(text: str, special_tokens: dict[str, int]) -> list[tuple[str, bool]]:
    """The text as (segment, is_special) in order; empty segments are dropped."""
    if not special_tokens:
        return [(text, False)] if text else []
    # longest first, so that a special token that contains another one wins
    alternatives = sorted(special_tokens, key=len, reverse=True)
    pattern = regex.compile("(" + "|".join(regex.escape(s) for s in alternatives) + ")")
    segments = []
    for index, segment in enumerate(pattern.split(text)):
        if segment:
            segments.append((segment, index % 2 == 1))  # split() puts matches at odd places
    return segments


def merge_piece(piece: bytes, ranks: dict[bytes, int]) -> Iterator[PieceMerge]:
    """Yield every merge of one piece as (position, rank, left, right, parts after it).

    `parts` is the live list, changed by the next merge: copy it to keep it.
    `pair_ranks[i]` is the rank of parts[i] + parts[i + 1], kept up to date after each merge
    so that finding the next merge is one `min` over a list.
    """

    def rank_of(token: bytes) -> int:
        return ranks.get(token, _NOT_A_TOKEN)

    parts = [piece[i : i + 1] for i in range(len(piece))]
    pair_ranks = [rank_of(parts[i] + parts[i + 1]) for i in range(len(parts) - 1)]
    while pair_ranks:
        best_rank = min(pair_ranks)
        if best_rank == _NOT_A_TOKEN:
            return
        position = pair_ranks.index(best_rank)  # the leftmost of equal ranks, as tiktoken
        left, right = parts[position], parts[position + 1]
        parts[position : position + 2] = [left + right]
        del pair_ranks[position]
        # only the pairs that touch the new token change
        if position > 0:
            pair_ranks[position - 1] = rank_of(parts[position - 1] + parts[position])
        if position < len(pair_ranks):
            pair_ranks[position] = rank_of(parts[position] + parts[position + 1])
        yield position, best_rank, left, right, parts


def replay_merges(
    tokenizer: Tokenizer,
    text: str,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_recorded_ids: int = DEFAULT_MAX_RECORDED_IDS,
) -> MergeReplay:
    """The merges `tokenizer` applies to `text`, in order.

    Steps are recorded until `max_steps` of them, or until their splits would hold more
    than `max_recorded_ids` ids in all (a long run of spaces is one piece of hundreds of
    tokens, and each of its steps would repeat them); the rest are counted, not recorded.
    """
    encoding = tokenizer.encoding
    ranks: dict[bytes, int] = encoding._mergeable_ranks
    pre_tokenizer = regex.compile(encoding._pat_str)

    def ids_of(parts: list[bytes]) -> tuple[int, ...]:
        return tuple(tokenizer.id_for_rank(ranks[part]) for part in parts)

    replay = MergeReplay(pieces=[])
    recorded_ids = 0

    def recording(split_length: int) -> bool:
        """Count one step; say whether it is to be recorded."""
        nonlocal recorded_ids
        replay.total_steps += 1
        full = len(replay.steps) >= max_steps or recorded_ids + split_length > max_recorded_ids
        if replay.truncated or full:
            replay.truncated = True  # once one step is left out, all later ones are too
        else:
            recorded_ids += split_length
        return not replay.truncated

    for segment, special in split_on_specials(well_formed(text), tokenizer.special_tokens):
        if special:
            token_id = tokenizer.special_tokens[segment]
            replay.pieces.append(
                ReplayPiece(segment.encode("utf-8"), (token_id,), (token_id,), special=True)
            )
            continue
        for piece_text in pre_tokenizer.findall(segment):
            piece_bytes = piece_text.encode("utf-8")
            piece_index = len(replay.pieces)
            initial = ids_of([piece_bytes[i : i + 1] for i in range(len(piece_bytes))])
            steps, parts = 0, None
            for position, rank, left, right, parts in merge_piece(piece_bytes, ranks):
                steps += 1
                if recording(len(parts)):
                    left_id, right_id = ids_of([left, right])
                    merged_id = tokenizer.id_for_rank(rank)
                    replay.steps.append(
                        MergeStep(
                            piece_index, position, left_id, right_id, merged_id, rank, ids_of(parts)
                        )
                    )
            final = ids_of(parts) if parts is not None else initial
            if len(final) > 1 and piece_bytes in ranks:
                steps += 1
                rank = ranks[piece_bytes]
                merged_id = tokenizer.id_for_rank(rank)
                final = (merged_id,)
                if recording(1):
                    replay.steps.append(
                        MergeStep(piece_index, 0, None, None, merged_id, rank, final, True)
                    )
            replay.pieces.append(ReplayPiece(piece_bytes, initial, final, steps=steps))
    return replay
