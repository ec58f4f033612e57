"""The head-ablation grid agrees, cell by cell, with single ablations run through the
ordinary intervention path (`LanguageModel.trace` with an `Intervention`)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.nn import functional as F

from inference import Intervention, Steering
from inference.head_ablation import head_ablation_grid

IDS = [5, 80, 17, 200, 33, 9, 150, 42]


def last_log_probs(lm, intervention=None):
    trace = lm.trace(IDS, "logits", intervention=intervention)
    return F.log_softmax(trace.logits[-1].float(), dim=-1)


def test_each_cell_is_the_change_of_one_single_head_ablation(lm):
    target = 123
    grid = head_ablation_grid(lm.model, IDS, target)
    plain = last_log_probs(lm)
    assert grid.delta.shape == (lm.config.n_layer, lm.config.n_head)
    assert grid.log_prob == pytest.approx(float(plain[target]), abs=1e-5)
    for layer in range(lm.config.n_layer):
        for head in range(lm.config.n_head):
            ablated = last_log_probs(lm, Intervention(ablate_heads=frozenset({(layer, head)})))
            expected = float(ablated[target] - plain[target])
            assert float(grid.delta[layer, head]) == pytest.approx(expected, abs=1e-5)
    assert grid.delta.abs().max() > 0  # a random model's heads do matter


def test_without_a_target_it_follows_the_model_s_own_top_token(lm):
    grid = head_ablation_grid(lm.model, IDS)
    plain = last_log_probs(lm)
    assert grid.target_id == grid.top_id == int(plain.argmax())
    assert grid.log_prob == pytest.approx(float(plain.max()), abs=1e-5)


def test_with_a_base_experiment_each_head_adds_to_it_and_ablated_heads_read_zero(lm):
    base = Intervention(ablate_heads=frozenset({(0, 1)}), ablate_mlps=frozenset({1}))
    grid = head_ablation_grid(lm.model, IDS, 7, base=base)
    with_base = last_log_probs(lm, base)
    assert grid.log_prob == pytest.approx(float(with_base[7]), abs=1e-5)
    assert float(grid.delta[0, 1]) == 0.0
    both = Intervention(ablate_heads=frozenset({(0, 1), (1, 2)}), ablate_mlps=frozenset({1}))
    expected = float(last_log_probs(lm, both)[7] - with_base[7])
    assert float(grid.delta[1, 2]) == pytest.approx(expected, abs=1e-5)


def test_with_steering_every_pass_is_steered_as_the_model_would_steer_it(lm):
    vector = torch.randn(lm.config.n_embd)
    base = Intervention(steering=Steering(vector, 1, 3.0, from_position=2))
    grid = head_ablation_grid(lm.model, IDS, 11, base=base)
    steered = last_log_probs(lm, base)
    assert grid.log_prob == pytest.approx(float(steered[11]), abs=1e-5)
    for layer, head in [(0, 0), (1, 3)]:
        both = dataclasses.replace(base, ablate_heads=frozenset({(layer, head)}))
        expected = float(last_log_probs(lm, both)[11] - steered[11])
        assert float(grid.delta[layer, head]) == pytest.approx(expected, abs=1e-5)


def test_it_leaves_the_weights_and_the_mode_as_they_were(lm):
    before = {name: t.clone() for name, t in lm.model.state_dict().items()}
    lm.model.train()
    head_ablation_grid(lm.model, IDS, 3)
    assert lm.model.training
    for name, tensor in lm.model.state_dict().items():
        assert torch.equal(tensor, before[name])


def test_it_refuses_a_target_outside_the_vocabulary_and_an_empty_prompt(lm):
    with pytest.raises(ValueError, match="vocabulary"):
        head_ablation_grid(lm.model, IDS, lm.config.vocab_size)
    with pytest.raises(ValueError, match="at least one token"):
        head_ablation_grid(lm.model, [])
