"""Comparing a changed model with the plain one, and building steering vectors.

An experiment's result is always two next-token distributions side by side: the plain
model's and the changed one's, with the KL divergence between them and whether the most
likely token changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .model import GPT


@dataclass(frozen=True)
class Comparison:
    """The next token after the last position, before and after an experiment."""

    before_ids: list[int]  # the top tokens of the plain model, most likely first
    before_probs: list[float]
    after_ids: list[int]  # the top tokens of the changed model
    after_probs: list[float]
    kl_bits: float  # KL(before ‖ after) in bits: how much information the change lost
    top_before: int
    top_after: int

    @property
    def top_changed(self) -> bool:
        return self.top_before != self.top_after


def compare_next_token(before: torch.Tensor, after: torch.Tensor, top_k: int = 10) -> Comparison:
    """Compare two 1-D logit vectors (same vocabulary)."""
    log_p = F.log_softmax(before.detach().float().cpu(), dim=-1)
    log_q = F.log_softmax(after.detach().float().cpu(), dim=-1)
    p = log_p.exp()
    # terms where p is 0 contribute nothing; guard -inf - -inf
    kl = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p)).sum()
    k = min(top_k, p.numel())
    before_probs, before_ids = p.topk(k)
    after_probs, after_ids = log_q.exp().topk(k)
    return Comparison(
        before_ids=before_ids.tolist(),
        before_probs=before_probs.tolist(),
        after_ids=after_ids.tolist(),
        after_probs=after_probs.tolist(),
        kl_bits=max(0.0, float(kl) / math.log(2)),
        top_before=int(before_ids[0]),
        top_after=int(after_ids[0]),
    )


def mean_residual(model: GPT, ids: list[int], layer: int) -> torch.Tensor:
    """(C,) the residual stream at point `layer`, averaged over the positions of `ids`."""
    from .capture import CaptureSpec

    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(
            torch.tensor([ids], dtype=torch.long, device=device),
            capture=CaptureSpec.of("residuals"),
            last_logits_only=True,
        )
    return out.captured["residuals"][layer, 0].mean(dim=0)


def steering_vector_from_prompts(
    model: GPT, positive_ids: list[int], negative_ids: list[int], layer: int
) -> torch.Tensor:
    """The contrastive recipe: mean residual of one prompt minus that of another."""
    if not positive_ids or not negative_ids:
        raise ValueError("both steering prompts need at least one token")
    return mean_residual(model, positive_ids, layer) - mean_residual(model, negative_ids, layer)


def steering_vector_from_token(model: GPT, token_id: int) -> torch.Tensor:
    """(C,) the token's embedding, i.e. the direction the model reads as that token."""
    if not 0 <= token_id < model.config.vocab_size:
        raise ValueError("the steering token is outside the model's vocabulary")
    return model.transformer.wte.weight[token_id].detach().float().cpu().clone()
