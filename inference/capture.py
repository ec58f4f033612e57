"""What a forward pass should hand back: a capture specification, and the recorder that
collects exactly that during the pass.

The specification names the parts (tensors) wanted and, for the per-layer parts, which
layers and heads; it can also keep only some query positions. The model asks the
recorder before computing anything extra, so a part nobody asked for is never computed,
copied or kept: with an empty specification the fused attention kernel runs everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

from .config import GPTConfig

# Every part a forward pass can capture, in the order a lesson meets them.
PARTS = (
    "token_embeddings",  # (T, C) the rows of wte for the tokens
    "position_embeddings",  # (T, C) the rows of wpe for the positions
    "residuals",  # (L+1, T, C) [0] the embedding sum, [i] after block i
    "ln_1",  # per layer: input mean and std per position, and the output (T, C)
    "q",  # (L, H, T, hs)
    "k",
    "v",
    "scores",  # (L, H, T, S) q·kᵀ/√hs before the causal mask and the softmax
    "attention",  # (L, H, T, S) after the mask and the softmax
    "head_outputs",  # (L, H, T, C) each head's share of the attention output
    "attn_out",  # (L, T, C) what the attention block adds to the residual stream
    "ln_2",
    "mlp_pre",  # (L, T, 4C) before the GELU
    "mlp_post",  # (L, T, 4C) after it
    "mlp_out",  # (L, T, C) what the MLP block adds to the residual stream
    "logit_lens",  # every residual through ln_f and the unembedding, as top-k tokens
    "logits",  # (T, vocab) the model's output
)
# parts that exist once per block, and so obey the `layers` selection
LAYER_PARTS = frozenset(
    ("ln_1", "q", "k", "v", "scores", "attention", "head_outputs", "attn_out")
    + ("ln_2", "mlp_pre", "mlp_post", "mlp_out")
)
# parts that exist once per head, and so obey the `heads` selection
HEAD_PARTS = frozenset(("q", "k", "v", "scores", "attention", "head_outputs"))
# parts that need the attention weights written out (the fused kernel hides them)
EXPLICIT_ATTENTION_PARTS = frozenset(("scores", "attention", "head_outputs"))
MAX_LENS_TOP_K = 100


class CaptureError(ValueError):
    """A capture specification that does not fit the model (unknown part, bad index)."""


@dataclass(frozen=True)
class CaptureSpec:
    """Which tensors to keep from a forward pass. None for layers/heads/positions = all."""

    parts: frozenset[str] = frozenset()
    layers: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None
    positions: tuple[int, ...] | None = None  # query positions kept (trace only)
    lens_top_k: int = 10  # tokens per layer and position in the logit lens
    lens_token: int | None = None  # followed through the lens; None: the model's top token

    @classmethod
    def of(cls, *parts: str, **options) -> CaptureSpec:
        return cls(parts=frozenset(parts), **_as_tuples(options))

    @classmethod
    def everything(cls, **options) -> CaptureSpec:
        return cls(parts=frozenset(PARTS), **_as_tuples(options))

    def __bool__(self) -> bool:
        return bool(self.parts)

    def validate(self, config: GPTConfig) -> None:
        unknown = sorted(set(self.parts) - set(PARTS))
        if unknown:
            raise CaptureError(f"unknown part {unknown[0]!r}; the parts are {', '.join(PARTS)}")
        _check_indices("layer", self.layers, config.n_layer)
        _check_indices("head", self.heads, config.n_head)
        if self.positions is not None and (
            not self.positions or any(p < 0 for p in self.positions)
        ):
            raise CaptureError("positions must be a non-empty list of indices from 0")
        if not 1 <= self.lens_top_k <= min(MAX_LENS_TOP_K, config.vocab_size):
            raise CaptureError(f"lens_top_k must be between 1 and {MAX_LENS_TOP_K}")
        if self.lens_token is not None and not 0 <= self.lens_token < config.vocab_size:
            raise CaptureError("lens_token is outside the model's vocabulary")

    def layer_indices(self, n_layer: int) -> list[int]:
        return list(range(n_layer)) if self.layers is None else sorted(set(self.layers))

    def head_indices(self, n_head: int) -> list[int]:
        return list(range(n_head)) if self.heads is None else sorted(set(self.heads))


def _as_tuples(options: dict) -> dict:
    for key in ("layers", "heads", "positions"):
        if options.get(key) is not None:
            options[key] = tuple(options[key])
    return options


def _check_indices(what: str, indices: Iterable[int] | None, count: int) -> None:
    if indices is None:
        return
    indices = list(indices)
    if not indices:
        raise CaptureError(f"choose at least one {what}")
    bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < count]
    if bad:
        raise CaptureError(
            f"{what} {bad[0]} is out of range: this model has {what}s 0 to {count - 1}"
        )


@dataclass
class Recorder:
    """Collects, during one forward pass, the tensors a CaptureSpec asks for.

    Tensors are kept as computed (batch first, on the model's device); `finalize` stacks
    the layers and moves them to float32 on the CPU once, at the end.
    """

    spec: CaptureSpec
    config: GPTConfig
    values: dict[str, list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layers = set(self.spec.layer_indices(self.config.n_layer))
        heads = self.spec.head_indices(self.config.n_head)
        self.heads = None if len(heads) == self.config.n_head else heads
        self.positions = list(self.spec.positions) if self.spec.positions is not None else None

    def wants(self, part: str, layer: int | None = None) -> bool:
        if part not in self.spec.parts:
            return False
        return layer is None or part not in LAYER_PARTS or layer in self.layers

    def explicit_attention(self, layer: int) -> bool:
        return any(self.wants(part, layer) for part in EXPLICIT_ATTENTION_PARTS)

    def needs_residuals(self) -> bool:
        return self.wants("residuals") or self.wants("logit_lens")

    def put(self, part: str, tensor: torch.Tensor, time_axis: int | None = 1) -> None:
        """Keep `tensor` (batch first) for `part`, cut to the chosen heads and positions."""
        tensor = tensor.detach()
        if part in HEAD_PARTS and self.heads is not None:
            tensor = tensor[:, self.heads]  # heads are axis 1: (B, nh, T, ...)
        if self.positions is not None and time_axis is not None:
            index = torch.tensor(self.positions, device=tensor.device)
            tensor = tensor.index_select(time_axis, index)
        self.values.setdefault(part, []).append(tensor)

    def put_layer_norm(
        self, part: str, out: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
    ) -> None:
        """A layer norm's output, and its input's mean and std per position (B, T).

        The std is the denominator the norm really divides by: the biased one, with
        epsilon inside the square root.
        """
        self.put(f"{part}.mean", mean)
        self.put(f"{part}.std", std)
        self.put(f"{part}.out", out)

    def finalize(self) -> dict[str, torch.Tensor]:
        """One tensor per part, on the CPU: per-layer parts stacked on a new first axis."""
        captured = {}
        for part, tensors in self.values.items():
            per_layer = part.split(".")[0] in LAYER_PARTS or part == "residuals"
            tensor = torch.stack(tensors) if per_layer else tensors[0]
            # ids stay integers; every measurement becomes float32
            captured[part] = (
                tensor.cpu() if not tensor.is_floating_point() else tensor.float().cpu()
            )
        return captured
