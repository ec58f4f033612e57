"""The key/value cache: the keys and values of past positions, kept so that decoding
one more token costs one position of work instead of the whole sequence again."""

from __future__ import annotations

import torch

from .config import GPTConfig


class KVCache:
    """Preallocated keys and values for every layer, for a batch that advances in step."""

    def __init__(
        self,
        config: GPTConfig,
        batch_size: int = 1,
        max_len: int | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        self.max_len = max_len or config.block_size
        shape = (config.n_layer, batch_size, config.n_head, self.max_len, config.head_size)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.batch_size = batch_size
        self.pos = 0  # number of positions already stored (the same for every row)

    def reset(self) -> None:
        self.pos = 0

    def get_pos(self) -> int:
        return self.pos

    def remaining(self) -> int:
        return self.max_len - self.pos

    def store(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new positions of one layer; return all keys and values so far.

        k_new, v_new: (B, nh, T, hs). Returns (B, nh, pos+T, hs) views. The position
        only moves on when the whole forward pass is done (`advance`), because every
        layer writes to the same slots.
        """
        T = k_new.size(2)
        end = self.pos + T
        if end > self.max_len:
            raise ValueError(f"KV cache is full: {self.pos} + {T} > {self.max_len} positions")
        self.k[layer, :, :, self.pos : end] = k_new
        self.v[layer, :, :, self.pos : end] = v_new
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, n: int) -> None:
        self.pos += n
