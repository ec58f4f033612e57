"""The cross-entropy of a text under the model, token by token: for every token after the
first, how surprised the model was to see it given the tokens before it.

Training minimises the mean of exactly these numbers over the training text (lesson 13);
here they are worked out for one text the student types, from one forward pass's logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TokenLosses:
    """Entry i is about the token after position `positions[i]`, predicted there (the last
    token of the text has no entry: the text does not say what came after it)."""

    positions: list[int]
    nats: list[float]  # −ln p(next token | tokens up to the position)
    probs: list[float]  # p(next token | tokens up to the position)
    ranks: list[int]  # its place among all tokens at that position, 0 = the model's top
    top_ids: list[int]  # what the model found most likely there instead

    @property
    def mean_nats(self) -> float:
        return sum(self.nats) / len(self.nats) if self.nats else float("nan")

    @property
    def perplexity(self) -> float:
        """e to the mean loss: as unsure as a fair choice among this many tokens."""
        return math.exp(self.mean_nats) if self.nats else float("nan")


def token_losses(
    logits: torch.Tensor, ids: list[int], positions: list[int] | None = None
) -> TokenLosses:
    """`logits` (P, vocab): row i is the forward pass's output at `positions[i]` (all T
    positions of `ids` when None)."""
    positions = list(range(len(ids))) if positions is None else list(positions)
    if logits.dim() != 2 or logits.shape[0] != len(positions):
        raise ValueError(
            f"logits of shape {tuple(logits.shape)} do not fit {len(positions)} positions"
        )
    rows = [i for i, position in enumerate(positions) if position + 1 < len(ids)]
    if not rows:
        return TokenLosses(positions=[], nats=[], probs=[], ranks=[], top_ids=[])
    kept = [positions[i] for i in rows]
    log_probs = torch.log_softmax(logits[rows].float(), dim=-1)  # (P', vocab)
    targets = torch.tensor([ids[position + 1] for position in kept], dtype=torch.long)
    chosen = log_probs.gather(1, targets[:, None])[:, 0]
    # rank = how many tokens the model put strictly above the one that came
    ranks = (log_probs > chosen[:, None]).sum(dim=-1)
    return TokenLosses(
        positions=kept,
        nats=(-chosen).tolist(),
        probs=chosen.exp().tolist(),
        ranks=ranks.tolist(),
        top_ids=log_probs.argmax(dim=-1).tolist(),
    )
