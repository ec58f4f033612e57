"""The KV-cache measurement of lesson 12: both runs pick the same ids, every step is timed,
and the cache's size follows its formula and matches the tensors that held it."""

from __future__ import annotations

import pytest
import torch

from inference import SamplingSettings, generate
from inference.kv_measure import (
    MAX_NEW_TOKENS,
    KVMeasureError,
    cache_size,
    measure_kv_cache,
    tokens_that_fit,
)


def greedy_reference(model, tokenizer, ids, n):
    """The engine's own greedy generation (temperature 0), which uses the cache."""
    events = generate(
        model,
        tokenizer,
        ids,
        max_new_tokens=n,
        settings=SamplingSettings(temperature=0.0),
        seed=0,
        stop_at_end_of_text=False,
    )
    return [e.token_id for e in events if e.type == "step"]


def test_both_runs_pick_the_ids_greedy_generation_picks(model, tokenizer):
    ids = tokenizer.encode("the thing")
    result = measure_kv_cache(model, ids, 12)
    assert result.identical
    assert result.cached.ids == result.uncached.ids
    assert result.cached.ids == greedy_reference(model, tokenizer, ids, 12)
    assert result.new_tokens == 12 and result.tokens == len(ids) + 12


def test_every_step_is_timed_and_positive(model, tokenizer):
    result = measure_kv_cache(model, tokenizer.encode("in the"), 8)
    for run in (result.cached, result.uncached):
        assert len(run.step_ms) == len(run.ids) == 8
        assert all(ms > 0 for ms in run.step_ms)
        assert run.total_ms == pytest.approx(sum(run.step_ms))


def test_the_size_is_the_formula_and_the_tensors_agree(model, tokenizer):
    ids = tokenizer.encode("the")
    result = measure_kv_cache(model, ids, 5)
    cfg = model.config
    size = result.size
    assert (size.n_layer, size.n_head, size.head_size) == (cfg.n_layer, cfg.n_head, 32 // 4)
    assert size.bytes_per_number == 4 and size.dtype == "float32"
    assert size.bytes_for(10) == 2 * cfg.n_layer * cfg.n_head * 8 * 10 * 4
    assert size.bytes_per_token == size.bytes_for(1)
    # the last token is chosen, never fed: the cache holds prompt + new − 1 positions
    assert result.cached_positions == len(ids) + 5 - 1
    assert result.cache_tensor_bytes == size.bytes_for(result.cached_positions)


def test_half_precision_numbers_take_two_bytes(config):
    size = cache_size(config, torch.float16)
    assert size.bytes_per_number == 2 and size.dtype == "float16"
    assert cache_size(config, torch.float32).bytes_for(7) == 2 * size.bytes_for(7)


def test_a_request_is_clipped_to_the_context(model, tokenizer):
    block = model.config.block_size
    ids = [65] * (block - 3)
    result = measure_kv_cache(model, ids, 20)
    assert result.requested_tokens == 20
    assert result.new_tokens == 4 == tokens_that_fit(len(ids), 20, block)
    assert result.identical
    assert result.cached_positions == block  # full, and never past it


def test_end_of_text_ends_both_runs(model, tokenizer):
    ids = tokenizer.encode("the")
    first = measure_kv_cache(model, ids, 3).cached.ids[0]
    result = measure_kv_cache(model, ids, 10, end_of_text=first)
    assert result.cached.ids == result.uncached.ids == [first]


def test_ids_outside_the_tokenizer_never_win(model, tokenizer):
    ids = tokenizer.encode("the")
    allowed = list(range(100))
    result = measure_kv_cache(model, ids, 6, allowed_ids=allowed)
    assert result.identical and all(i < 100 for i in result.cached.ids)


@pytest.mark.parametrize("bad", [0, -1, MAX_NEW_TOKENS + 1, 2.5])
def test_it_refuses_a_count_out_of_range(model, bad):
    with pytest.raises(KVMeasureError, match="new tokens"):
        measure_kv_cache(model, [1, 2], bad)


def test_it_refuses_an_empty_prompt(model):
    with pytest.raises(KVMeasureError, match="empty"):
        measure_kv_cache(model, [], 4)
