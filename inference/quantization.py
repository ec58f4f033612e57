"""Weight quantization, to show what rounding the weights to 16, 8 or 4 bits does.

Symmetric, per output channel, round to nearest: each row of a weight matrix (one output
channel of a Linear; one token's or position's vector in an embedding) gets its own
scale, max|row| / (2^(bits-1) - 1), and every weight becomes an integer in
[-(2^(bits-1) - 1), 2^(bits-1) - 1] times that scale. Biases and layer norms stay in
float. The quantized model is a separate copy holding the rounded values (dequantized
back to float, "fake quantization"): what it computes is what an integer kernel would,
and the shared model is never touched.

At 16 bits there is no scale: every parameter (biases and layer norms too, as a float16
model stores them) is rounded to the nearest IEEE half-precision number and back, so the
copy computes in the model's own dtype what a float16 model holds.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from .model import GPT

SUPPORTED_BITS = (16, 8, 4)
INTEGER_BITS = (8, 4)  # the widths stored as integers times a per-channel scale
MEMORY_BITS = (32, 16, 8, 4)
SCALE_BYTES = 2  # one float16 scale per output channel


class QuantizationError(ValueError):
    """A bit width we do not offer."""


def check_bits(bits: int) -> None:
    if bits not in SUPPORTED_BITS:
        raise QuantizationError(
            f"weights can be quantized to {', '.join(map(str, SUPPORTED_BITS[:-1]))} "
            f"or {SUPPORTED_BITS[-1]} bits"
        )


def quantize_rows(weight: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(integers, scales): weight (out, in) ≈ integers * scales[:, None]."""
    if bits not in INTEGER_BITS:
        raise QuantizationError(
            f"integer rounding is for {' or '.join(map(str, INTEGER_BITS))} bits"
        )
    q_max = 2 ** (bits - 1) - 1
    w = weight.detach().float()
    scales = w.abs().amax(dim=1) / q_max  # (out,)
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))  # an all-zero row
    integers = torch.round(w / scales[:, None]).clamp(-q_max, q_max).to(torch.int8)
    return integers, scales


def fake_quantize(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """The weight rounded to `bits` and back to its own dtype."""
    if bits == 16:
        return weight.detach().to(torch.float16).to(weight.dtype)
    integers, scales = quantize_rows(weight, bits)
    return (integers.float() * scales[:, None]).to(weight.dtype)


def quantized_weights(model: GPT) -> list[nn.Parameter]:
    """The matrices that quantization rounds: every Linear weight and both embeddings.

    The output head is tied to the token embedding, so it is rounded once, with it.
    """
    seen: set[int] = set()
    weights = []
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            weight = module.weight
            if id(weight) not in seen:
                seen.add(id(weight))
                weights.append(weight)
    return weights


def quantized_copy(model: GPT, bits: int) -> GPT:
    """A new model whose weight matrices are rounded to `bits`; `model` is unchanged."""
    check_bits(bits)
    rounded = copy.deepcopy(model)  # deepcopy keeps the tie between wte and lm_head
    # 16 bits rounds every parameter, as a float16 model stores them all that way
    weights = list(rounded.parameters()) if bits == 16 else quantized_weights(rounded)
    with torch.no_grad():
        for weight in weights:
            weight.copy_(fake_quantize(weight, bits))
    return rounded.eval()


def weight_memory(model: GPT) -> dict[int, int]:
    """Bytes the parameters take at 32, 16, 8 and 4 bits.

    At 32 and 16 bits every parameter has that width. At 8 and 4 bits the weight
    matrices take `bits` each plus a float16 scale per output channel; biases and layer
    norms (a tiny share) are counted at 16 bits, as they would be kept beside them.
    """
    matrices = quantized_weights(model)
    matrix_ids = {id(w) for w in matrices}
    n_matrix = sum(w.numel() for w in matrices)
    n_channels = sum(w.shape[0] for w in matrices)
    n_other = sum(p.numel() for p in model.parameters() if id(p) not in matrix_ids)
    memory = {32: (n_matrix + n_other) * 4, 16: (n_matrix + n_other) * 2}
    for bits in INTEGER_BITS:
        memory[bits] = (n_matrix * bits + 7) // 8 + n_channels * SCALE_BYTES + n_other * 2
    return memory
