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


class BatchKVCache:
    """Keys and values for a changing batch of requests, each row with its own length.

    Slot b holds one running request. Rows 0..n_rows-1 are in use and kept packed (a
    leaving row's slot is filled by the last row), so that a decode step reads plain
    slices instead of gathering scattered rows. Each row writes its new key and value at
    its own position, and `key_mask` lets it see only its own keys.

    The lengths live in a Python list: the step needs the longest row to slice the keys,
    and reading that from a device tensor would wait for the device every step.
    """

    def __init__(
        self,
        config: GPTConfig,
        max_batch: int,
        max_len: int | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        if max_batch < 1:
            raise ValueError("a batch needs at least one slot")
        self.max_len = max_len or config.block_size
        self.max_batch = max_batch
        shape = (config.n_layer, max_batch, config.n_head, self.max_len, config.head_size)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.lengths: list[int] = []  # positions stored, per row in use
        self._positions: torch.Tensor | None = None  # this step's write positions (B,)

    @property
    def n_rows(self) -> int:
        return len(self.lengths)

    def add(self, prefilled: KVCache) -> int:
        """Copy a batch-1 cache (a prefilled prompt) into the next free row; return it."""
        if self.n_rows >= self.max_batch:
            raise ValueError(f"the batch is full ({self.max_batch} rows)")
        n = prefilled.get_pos()
        if n > self.max_len:
            raise ValueError(f"{n} positions do not fit a row of {self.max_len}")
        row = self.n_rows
        self.k[:, row, :, :n] = prefilled.k[:, 0, :, :n]
        self.v[:, row, :, :n] = prefilled.v[:, 0, :, :n]
        self.lengths.append(n)
        return row

    def remove(self, row: int) -> int | None:
        """Free `row` at once; the last row moves into it. Returns the row that moved
        (its old index), or None when `row` was the last one."""
        last = self.n_rows - 1
        if not 0 <= row <= last:
            raise ValueError(f"row {row} is not in use")
        if row == last:
            self.lengths.pop()
            return None
        n = self.lengths[last]
        self.k[:, row, :, :n] = self.k[:, last, :, :n]
        self.v[:, row, :, :n] = self.v[:, last, :, :n]
        self.lengths[row] = self.lengths.pop()
        return last

    def positions(self) -> torch.Tensor:
        """(B,) where each row's next token goes: its length. Fixed for the whole step."""
        if not self.lengths:
            raise ValueError("no row is in use")
        if any(n >= self.max_len for n in self.lengths):
            raise ValueError(f"a row is full: rows hold at most {self.max_len} positions")
        self._positions = torch.tensor(self.lengths, dtype=torch.long, device=self.k.device)
        return self._positions

    def store(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write one new position per row of one layer; return (B, nh, S, hs) views.

        k_new, v_new: (B, nh, 1, hs). S is the longest row after this step: shorter rows
        are padded there, which `key_mask` hides.
        """
        if self._positions is None:
            raise ValueError("call positions() before the step's first store")
        B = self.n_rows
        rows = torch.arange(B, device=self.k.device)
        # two index tensors around a slice: the indexed view is (B, nh, hs)
        self.k[layer][rows, :, self._positions] = k_new[:, :, 0]
        self.v[layer][rows, :, self._positions] = v_new[:, :, 0]
        S = max(self.lengths) + 1
        return self.k[layer, :B, :, :S], self.v[layer, :B, :, :S]

    def key_mask(self) -> torch.Tensor:
        """(B, 1, 1, S) boolean: row b's new query sees keys 0..length_b (its own)."""
        S = max(self.lengths) + 1
        keys = torch.arange(S, device=self.k.device)
        return (keys[None, :] <= self._positions[:, None]).view(self.n_rows, 1, 1, S)

    def advance(self) -> None:
        """Every row has one more position: call once the step's forward pass is done."""
        self.lengths = [n + 1 for n in self.lengths]
        self._positions = None
