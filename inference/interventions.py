"""What-if experiments that change a forward pass without touching the shared weights.

- Ablation: chosen heads' outputs are zeroed just before `attn.c_proj` mixes the heads,
  and chosen MLP blocks add nothing to the residual stream.
- Steering: a vector, times a strength, is added to the residual stream at one point
  (0 = the embeddings, i = after block i), at every position or from one position on.

An Intervention is an argument of `GPT.forward`; the model reads it and never edits a
parameter, so one loaded model can serve plain and changed requests side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .config import GPTConfig


class InterventionError(ValueError):
    """An experiment that does not fit the model (a head or layer that does not exist)."""


@dataclass(frozen=True, eq=False)
class Steering:
    """Add `strength * vector` to the residual stream at `layer` (0 … n_layer)."""

    vector: torch.Tensor  # (C,)
    layer: int
    strength: float = 1.0
    from_position: int = 0  # absolute position from which the vector is added


@dataclass(frozen=True, eq=False)
class Intervention:
    ablate_heads: frozenset[tuple[int, int]] = field(default_factory=frozenset)  # (layer, head)
    ablate_mlps: frozenset[int] = field(default_factory=frozenset)
    steering: Steering | None = None

    def __bool__(self) -> bool:
        return bool(self.ablate_heads or self.ablate_mlps or self.steering)

    def validate(self, config: GPTConfig) -> None:
        for layer, head in self.ablate_heads:
            if not 0 <= layer < config.n_layer or not 0 <= head < config.n_head:
                raise InterventionError(
                    f"there is no head {head} in layer {layer}: this model has layers "
                    f"0 to {config.n_layer - 1} and heads 0 to {config.n_head - 1}"
                )
        for layer in self.ablate_mlps:
            if not 0 <= layer < config.n_layer:
                raise InterventionError(
                    f"there is no MLP in layer {layer}: layers are 0 to {config.n_layer - 1}"
                )
        steering = self.steering
        if steering is not None:
            if not 0 <= steering.layer <= config.n_layer:
                raise InterventionError(
                    f"steering layer must be between 0 (the embeddings) and {config.n_layer}"
                )
            if tuple(steering.vector.shape) != (config.n_embd,):
                raise InterventionError(
                    f"the steering vector must have {config.n_embd} numbers, the model's width"
                )
            if not torch.isfinite(steering.vector).all() or not abs(steering.strength) < 1e6:
                raise InterventionError("the steering vector and strength must be finite")
            if steering.from_position < 0:
                raise InterventionError("steering from_position must be 0 or more")

    def head_keep_mask(self, layer: int, n_head: int) -> torch.Tensor | None:
        """(nh,) ones with zeros for the heads ablated in `layer`; None if none are."""
        ablated = [head for (at, head) in self.ablate_heads if at == layer]
        if not ablated:
            return None
        keep = torch.ones(n_head)
        keep[ablated] = 0.0
        return keep

    def steer(self, x: torch.Tensor, layer: int, first_position: int) -> torch.Tensor:
        """x (B, T, C) at residual point `layer`, whose first row is `first_position`."""
        steering = self.steering
        if steering is None or steering.layer != layer:
            return x
        T = x.size(1)
        start = max(0, steering.from_position - first_position)
        if start >= T:
            return x
        added = (steering.strength * steering.vector).to(x.device, x.dtype)
        x = x.clone()  # never write into a tensor another part of the pass captured
        x[:, start:] += added
        return x
