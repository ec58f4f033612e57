"""block_topk must return exactly what torch.topk returns, for any width."""

import pytest
import torch

from inference.block_topk import block_topk


@pytest.mark.parametrize("width", [4096, 5000, 50257, 300])
@pytest.mark.parametrize("k", [1, 10])
def test_it_agrees_with_torch_topk(width, k):
    generator = torch.Generator().manual_seed(width + k)
    values = torch.randn(3, 7, width, generator=generator) * 4
    expected_values, expected_indices = values.topk(k, dim=-1)
    got_values, got_indices = block_topk(values, k)
    assert got_values.shape == (3, 7, k)
    assert torch.equal(got_values, expected_values)
    assert torch.equal(got_indices, expected_indices)


def test_it_finds_winners_in_the_partial_last_block():
    values = torch.zeros(2, 4096 + 17)
    values[0, -1] = 5.0  # the very last element, alone in the partial block
    values[1, -3] = 7.0
    top_values, top_indices = block_topk(values, 1)
    assert top_indices.flatten().tolist() == [4096 + 16, 4096 + 14]
    assert top_values.flatten().tolist() == [5.0, 7.0]


def test_it_finds_several_winners_in_one_block():
    values = torch.zeros(1, 8192)
    values[0, 128:138] = torch.arange(10, 0, -1, dtype=torch.float32)  # all ten in block 2
    _, top_indices = block_topk(values, 10)
    assert top_indices.flatten().tolist() == list(range(128, 138))
