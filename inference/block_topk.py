"""Top-k over the last axis of many long rows, faster than `torch.topk` on a CPU.

The logit lens asks for the top few tokens of every layer at every position: thousands of
rows as long as the vocabulary. `torch.topk` pays for each element of each row; here each
row is cut into blocks, the blocks are ranked by their maximum, and the exact top-k is
taken among the elements of the k best blocks only. This is exact: an element of the
top k can only sit in a block whose maximum is among the k largest maxima.
"""

from __future__ import annotations

import torch

BLOCK = 64  # measured fastest for 4,096-wide rows on a two-core CPU (32 is close)


def block_topk(
    values: torch.Tensor, k: int, block: int = BLOCK
) -> tuple[torch.Tensor, torch.Tensor]:
    """(top values, their indices) along the last axis, sorted largest first, like topk."""
    width = values.size(-1)
    if values.device.type != "cpu" or width < 4 * k * block:
        return values.topk(k, dim=-1)  # GPUs have a fast topk; short rows gain nothing
    leading = values.shape[:-1]
    rows = values.reshape(-1, width)
    n_full, tail = divmod(width, block)
    maxima = rows[:, : n_full * block].view(rows.size(0), n_full, block).amax(dim=-1)
    if tail:  # the last, partial block
        maxima = torch.cat([maxima, rows[:, n_full * block :].amax(dim=-1, keepdim=True)], 1)
    best_blocks = maxima.topk(k, dim=-1).indices  # (R, k)
    offsets = torch.arange(block, device=values.device)
    candidates = (best_blocks.unsqueeze(-1) * block + offsets).view(rows.size(0), -1)
    if tail:  # the partial block's missing elements: read the last one, rank it last
        outside = candidates >= width
        picked = rows.gather(1, candidates.clamp(max=width - 1)).masked_fill(outside, -torch.inf)
    else:
        picked = rows.gather(1, candidates)
    top_values, where = picked.topk(k, dim=-1)
    top_indices = candidates.gather(1, where)
    if tail:  # only a row with fewer than k finite values could have picked a filler
        top_indices.clamp_(max=width - 1)
    return top_values.view(*leading, k), top_indices.view(*leading, k)
