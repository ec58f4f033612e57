"""The head-ablation grid: how much each attention head matters for one next token.

One forward pass of the model as it is, then one more per head with only that head
knocked out (its output zeroed before `attn.c_proj`, the same `Intervention` every other
experiment uses). For a chosen target token at the last position the grid holds
log p(target) with that head gone minus log p(target) with every head present. The
passes share what they can: the layers before an ablated head are never rerun, and the
layers after it take all of that layer's ablations as one batch.

A negative cell: the head was helping the model predict the target; positive: it was
pushing against it. Numbers are natural logarithms (nats), so a cell of −0.69 halves the
probability.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .interventions import Intervention
from .model import GPT


@dataclass(frozen=True)
class HeadAblationGrid:
    """Δ log p of one target token for every (layer, head) ablated on its own."""

    target_id: int
    top_id: int  # the most likely next token of the unablated model
    log_prob: float  # log p(target) at the last position, nothing extra ablated
    delta: torch.Tensor  # (n_layer, n_head) float32: ablated log p minus log_prob


def head_ablation_grid(
    model: GPT,
    ids: list[int],
    target_id: int | None = None,
    base: Intervention | None = None,
) -> HeadAblationGrid:
    """Ablate every head in turn and measure log p(target) after the last token.

    `target_id` None means the unablated model's own top next token. `base` is an
    experiment already applied to every pass (other heads or MLPs ablated, steering):
    the grid then says what each head adds on top of it, and a head `base` already
    ablates gets 0.
    """
    config = model.config
    if not ids:
        raise ValueError("the head-ablation grid needs at least one token")
    if target_id is not None and not 0 <= target_id < config.vocab_size:
        raise ValueError("the target token is outside the model's vocabulary")
    base = base if base is not None else Intervention()
    base.validate(config)
    device = next(model.parameters()).device
    batch = torch.tensor([list(ids)], dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            delta, clean = grid_passes(model, batch, base, target_id)
    finally:
        model.train(was_training)
    top_id = int(clean.argmax())
    target = top_id if target_id is None else target_id
    return HeadAblationGrid(
        target_id=target, top_id=top_id, log_prob=float(clean[target]), delta=delta
    )


def grid_passes(model: GPT, batch: torch.Tensor, base: Intervention, target_id: int | None):
    """(delta (L, H), clean log-probs (vocab,)): the blocks run one by one, as GPT.forward
    runs them, so that each ablation restarts from the clean residual stream at its own
    layer instead of recomputing the layers before it (nothing before layer l depends on
    a head of layer l). Block l runs once per head, since one intervention zeroes the
    same heads in a whole batch; the layers after it then take that layer's heads as one
    batch, where only `base` applies."""
    config = model.config
    stream = [embed(model, batch, base)]  # residual point i: the input of block i
    for layer in range(config.n_layer):
        stream.append(run_blocks(model, stream[layer], layer, layer + 1, base))
    clean = last_log_probs(model, stream[-1])[0]
    target = int(clean.argmax()) if target_id is None else target_id
    delta = torch.zeros(config.n_layer, config.n_head)
    for layer in range(config.n_layer):
        heads = [h for h in range(config.n_head) if (layer, h) not in base.ablate_heads]
        if not heads:
            continue  # every head already gone in the clean pass: no change
        after_block = [
            run_blocks(model, stream[layer], layer, layer + 1, with_head(base, layer, head))
            for head in heads
        ]
        out = run_blocks(model, torch.cat(after_block), layer + 1, config.n_layer, base)
        delta[layer, heads] = last_log_probs(model, out)[:, target] - clean[target]
    return delta, clean


def with_head(base: Intervention, layer: int, head: int) -> Intervention:
    return dataclasses.replace(base, ablate_heads=base.ablate_heads | {(layer, head)})


def embed(model: GPT, batch: torch.Tensor, intervention: Intervention) -> torch.Tensor:
    """Residual point 0: token plus position embeddings (and any steering there)."""
    positions = torch.arange(batch.size(1), dtype=torch.long, device=batch.device)
    x = model.transformer.drop(model.transformer.wte(batch) + model.transformer.wpe(positions))
    return intervention.steer(x, 0, 0)


def run_blocks(
    model: GPT, x: torch.Tensor, start: int, stop: int, intervention: Intervention
) -> torch.Tensor:
    """Blocks start … stop − 1 on residual point `start`, with steering after each."""
    for layer in range(start, stop):
        x = model.transformer.h[layer](x, None, layer, None, intervention)
        x = intervention.steer(x, layer + 1, 0)
    return x


def last_log_probs(model: GPT, x: torch.Tensor) -> torch.Tensor:
    """(B, vocab) float32 log-probabilities of the token after the last position."""
    logits = model.lm_head(model.transformer.ln_f(x[:, -1, :]))
    return F.log_softmax(logits.float(), dim=-1).cpu()
