"""The bigram baseline: predict the next token from the current one by counting.

It is the simplest language model worth the name, and the bar a transformer must clear
to show that it uses context: a table P(next | current) estimated from the training
tokens with add-alpha smoothing, scored by cross-entropy on held-out tokens.
"""

from __future__ import annotations

import torch

SMOOTHING_CHOICES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


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
