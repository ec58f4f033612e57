"""The numbers a lesson quotes about the loaded model, computed, never typed.

A lesson writes `{{n_layer}}`; this module says what that is for the model on the page,
from its registry record and, where it has one, its model card (losses, tokenizer).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

BYTE_ALPHABET = 256  # byte-level BPE starts from every byte value


def card_of(directory: Path) -> dict[str, Any]:
    """The bundle's card.json, or {} when it has none or it is unreadable."""
    try:
        return json.loads((directory / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_facts(record, card: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every fact of docs/lessons.md for a registry record (numbers stay numbers)."""
    card = card_of(record.path) if card is None else card
    d, heads, vocab = record.n_embd, record.n_head, record.vocab_size
    head_size = d // heads
    tokenizer = card.get("tokenizer", {})
    # GPT-2-family tokenizers have exactly one special token, <|endoftext|>
    n_special = len(tokenizer.get("special_tokens", {})) or 1
    loss = card.get("loss", {})
    return {
        "model_name": record.name,
        "n_layer": record.n_layer,
        "n_head": heads,
        "n_embd": d,
        "head_size": head_size,
        "sqrt_head_size": round(math.sqrt(head_size), 3),
        "mlp_width": 4 * d,
        "vocab_size": vocab,
        "n_special": n_special,
        "n_merges": vocab - BYTE_ALPHABET - n_special,
        "block_size": record.block_size,
        "parameters": record.parameters,
        "parameters_short": in_words(record.parameters),
        "wte_shape": (vocab, d),
        "wpe_shape": (record.block_size, d),
        "attn_layer_params": 4 * d * d + 4 * d,  # W_Q, W_K, W_V and W_O with their biases
        "mlp_layer_params": 8 * d * d + 5 * d,  # d -> 4d -> d with biases
        "val_loss": loss.get("final_val_loss"),
        "bigram_loss": loss.get("bigram_val_loss"),
        "chars_per_token": tokenizer.get("chars_per_token_train"),
        # the card's record of the training run (lesson 13 draws the curves)
        # tuples all the way down: the facts key a cache of rendered pages
        "train_curve": tuple(tuple(point) for point in loss.get("train_curve", [])),
        "val_curve": tuple(tuple(point) for point in loss.get("val_curve", [])),
        "train_steps": card.get("training", {}).get("max_steps"),
        "tokens_seen": card.get("tokens_seen"),
        "train_minutes": round(card["train_seconds"] / 60) if card.get("train_seconds") else None,
    }


def in_words(count: int) -> str:
    """3505152 -> '3.5 million'; 124439808 -> '124 million'."""
    for size, word in ((10**12, "trillion"), (10**9, "billion"), (10**6, "million")):
        if count >= size:
            value = count / size
            return f"{value:.1f} {word}" if value < 10 else f"{value:.0f} {word}"
    return f"{count:,}"


def as_text(value: Any) -> str:
    """A fact as prose prints it: 4,096; 4.160; 4,096 × 192; 'unknown' when missing."""
    if value is None:
        return "unknown"
    if isinstance(value, tuple):
        return " × ".join(as_text(part) for part in value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def as_latex(value: Any) -> str:
    """A fact inside a formula: thousands grouped with {,} so LaTeX spaces them as digits."""
    if value is None:
        return r"\text{unknown}"
    if isinstance(value, tuple):
        return r" \times ".join(as_latex(part) for part in value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", "{,}")
    if isinstance(value, float):
        return f"{value:.3f}"
    return r"\text{" + str(value) + "}"
