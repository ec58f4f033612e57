"""The API's results as JSON. A token is shaped exactly as on the websocket (`token_json`):
id, bytes (base64), display text (`\\xNN` for bytes that are not UTF-8 alone), partial."""

from __future__ import annotations

import base64
from typing import Any

from inference.merge_replay import MergeReplay
from inference.reference_tokenizers import EncodingStatus
from inference.tokenizer import Tokenizer, display_text
from inference.toy_bpe import ToyTraining
from webapp.playground.protocol import token_json


def error_json(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def encoding_json(status: EncodingStatus) -> dict[str, Any]:
    encoding = status.encoding
    return {
        "name": encoding.name,
        "label": encoding.label,
        "family": encoding.family,
        "installed": status.installed,
        "vocab_size": encoding.n_vocab,
        "problem": status.problem,
        "message": status.message,
    }


def tokenization_json(tokenizer: Tokenizer, text: str) -> dict[str, Any]:
    ids = tokenizer.encode(text)
    return {
        "tokens": [token_json(token) for token in tokenizer.describe(ids)],
        "count": len(ids),
        # characters (code points), as the lesson counts them; ids is never empty here
        "chars_per_token": round(len(text) / max(1, len(ids)), 3),
    }


def replay_json(tokenizer: Tokenizer, replay: MergeReplay, max_steps: int) -> dict[str, Any]:
    used: set[int] = set()
    for piece in replay.pieces:
        used.update(piece.initial, piece.final)
    for step in replay.steps:
        used.update(step.split)
        used.update(i for i in (step.left, step.right) if i is not None)
    tokens = {info.id: token_json(info) for info in tokenizer.describe(sorted(used))}
    pieces = []
    for piece in replay.pieces:
        text, partial = display_text(piece.bytes)
        pieces.append(
            {
                "bytes": base64.b64encode(piece.bytes).decode("ascii"),
                "text": text,
                "special": piece.special,
                "initial": list(piece.initial),
                "final": list(piece.final),
                "steps": piece.steps,
            }
        )
    steps = [
        {
            "piece": step.piece,
            "position": step.position,
            "left": step.left,
            "right": step.right,
            "merged": tokens[step.merged],
            "rank": step.rank,
            "split": list(step.split),
            "whole_piece": step.whole_piece,
        }
        for step in replay.steps
    ]
    return {
        "pieces": pieces,
        "steps": steps,
        "total_steps": replay.total_steps,
        "truncated": replay.truncated,
        "max_steps": max_steps,
        "final": replay.final_ids(),
        "tokens": list(tokens.values()),  # every id the pieces and steps mention
    }


def training_json(training: ToyTraining) -> dict[str, Any]:
    return {
        "initial": list(training.initial),
        "steps": [
            {
                "top_pairs": [
                    {"pair": list(count.pair), "count": count.count} for count in step.top_pairs
                ],
                "pair": list(step.pair),
                "token": step.token,
                "count": step.count,
                "replaced": step.replaced,
                "symbols": list(step.symbols),
            }
            for step in training.steps
        ],
        "vocabulary": list(training.vocabulary),
        "stopped": training.stopped,
    }
