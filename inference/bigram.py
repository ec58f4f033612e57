"""The bigram baseline: predict the next token from the current one by counting.

It is the simplest language model worth the name, and the bar a transformer must clear
to show that it uses context: a table P(next | current) estimated from the training
tokens with add-alpha smoothing, scored by cross-entropy on held-out tokens.

`python -m inference.bigram export` writes that table, cut to each token's most likely
successors, into a model folder (the format is in bigram_table.py):

    python -m inference.bigram export --data data/shakespeare \
        --out models/shakespeare/bigram.safetensors
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

from .bigram_table import (
    TABLE_FILE,
    TABLE_TOP_N,
    BigramTable,
    BigramTableError,
    bigram_table,
    save_bigram_table,
)
from .checkpoint import load_model
from .data import load_split

SMOOTHING_CHOICES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
# what a model card says about its bigram baseline (inference/train.py writes them)
CARD_BIGRAM_FIGURES = ("bigram_val_loss", "bigram_val_perplexity", "bigram_smoothing_alpha")


def bigram_counts(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(vocab, vocab) matrix: counts[a, b] = how often token b follows token a."""
    pairs = ids[:-1].long() * vocab_size + ids[1:].long()
    flat = torch.bincount(pairs, minlength=vocab_size * vocab_size)
    return flat.view(vocab_size, vocab_size).float()


def bigram_loss(counts: torch.Tensor, ids: torch.Tensor, alpha: float) -> float:
    """Mean cross-entropy (nats) of add-alpha-smoothed bigram predictions on `ids`."""
    current, following = ids[:-1].long(), ids[1:].long()
    row_totals = counts.sum(dim=1) + alpha * counts.size(1)
    probs = (counts[current, following] + alpha) / row_totals[current]
    return float(-probs.log().mean())


def bigram_baseline(
    train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int
) -> tuple[float, float]:
    """Best validation loss over a few smoothing strengths, and that strength.

    Choosing alpha on the validation text flatters the baseline slightly; that is the
    conservative direction for a bar the model has to beat.
    """
    counts = bigram_counts(train_ids, vocab_size)
    losses = {alpha: bigram_loss(counts, val_ids, alpha) for alpha in SMOOTHING_CHOICES}
    best = min(losses, key=losses.get)
    return losses[best], best


def export_table(
    data_dir: str | Path,
    out: str | Path,
    model_dir: str | Path | None = None,
    alpha: float | None = None,
    keep: int = TABLE_TOP_N,
) -> BigramTable:
    """Count the training split with the model's tokenizer and write the table.

    `alpha` defaults to the smoothing the model's card reports for its bigram baseline,
    so that the table is the very model the card's bigram loss was measured on.
    """

    out = Path(out)
    model_dir = Path(model_dir) if model_dir is not None else out.parent
    lm = load_model(model_dir)
    loss = lm.card.get("loss", {})
    if alpha is None:
        alpha = loss.get("bigram_smoothing_alpha")
        if alpha is None:
            raise BigramTableError(
                f"{model_dir}'s card gives no bigram_smoothing_alpha; pass --alpha"
            )
    text = load_split(data_dir, "train")
    ids = torch.tensor(lm.tokenizer.encode(text), dtype=torch.long)
    source = f"{Path(data_dir).name}/train.txt"
    table = table_for_split(ids, text, lm.config.vocab_size, float(alpha), loss, source, keep)
    save_bigram_table(table, out)
    return table


def table_for_split(
    ids: torch.Tensor,
    text: str,
    vocab_size: int,
    alpha: float,
    card_loss: dict,
    source: str,
    keep: int = TABLE_TOP_N,
) -> BigramTable:
    """The table counted on a training split's token ids, labelled with where they came
    from and with the card's own bigram figures, as it wrote them."""
    metadata = {
        "source": f"{source}, the training split",
        "train_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "train_tokens": str(len(ids)),
        "card_loss": json.dumps(
            {key: card_loss[key] for key in CARD_BIGRAM_FIGURES if key in card_loss},
            sort_keys=True,
        ),
    }
    return bigram_table(bigram_counts(ids, vocab_size), alpha, keep, metadata)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.bigram", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help=f"write a model's {TABLE_FILE}")
    export.add_argument("--data", required=True, help="the corpus folder holding train.txt")
    export.add_argument("--out", required=True, help=f"where to write, e.g. MODEL/{TABLE_FILE}")
    export.add_argument("--model", default=None, help="the model folder (default: --out's)")
    export.add_argument("--alpha", type=float, default=None, help="default: the card's")
    export.add_argument("--keep", type=int, default=TABLE_TOP_N, help="successors per token")
    args = parser.parse_args(argv)
    table = export_table(args.data, args.out, args.model, args.alpha, args.keep)
    size = Path(args.out).stat().st_size
    print(
        f"wrote {args.out}: {table.vocab_size} tokens x {table.kept} successors, "
        f"alpha {table.alpha}, {size / 2**20:.2f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
