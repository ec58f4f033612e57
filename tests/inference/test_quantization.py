"""Weight quantization: rounding error bounds, integer ranges, the shared model left
alone, memory figures, and that int8 barely changes the bundled model's predictions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import inference
from inference.quantization import fake_quantize, quantize_rows, quantized_weights

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("bits", [8, 4])
def test_it_moves_no_weight_by_more_than_half_a_step(model, bits):
    for weight in quantized_weights(model):
        _, scales = quantize_rows(weight, bits)
        error = (fake_quantize(weight, bits) - weight.detach()).abs()
        assert (error <= scales[:, None] / 2 + 1e-7).all()


@pytest.mark.parametrize("bits", [8, 4])
def test_it_keeps_the_integers_in_range(model, bits):
    q_max = 2 ** (bits - 1) - 1
    for weight in quantized_weights(model):
        integers, _ = quantize_rows(weight, bits)
        assert integers.abs().max() <= q_max


def test_it_leaves_the_shared_model_untouched_and_caches_the_copy(lm):
    before = {name: t.clone() for name, t in lm.model.state_dict().items()}
    first = lm.quantized(8)
    assert lm.quantized(8) is first
    assert first is not lm.model
    for name, tensor in lm.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_it_keeps_the_embedding_tied_in_the_copy(lm):
    copy = lm.quantized(4)
    assert copy.lm_head.weight is copy.transformer.wte.weight


def test_it_orders_memory_by_bits_and_counts_four_bytes_a_parameter_at_32(model):
    memory = inference.weight_memory(model)
    assert memory[32] > memory[16] > memory[8] > memory[4]
    assert memory[32] == 4 * model.num_parameters()


def load_report():
    spec = importlib.util.spec_from_file_location(
        "quantization_report", ROOT / "scripts" / "quantization_report.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (ROOT / "models/shakespeare").is_dir(), reason="no bundled model")
def test_it_keeps_the_bundled_models_top_token_on_most_prompts_at_int8():
    report = load_report()
    lm = inference.load_model(ROOT / "models/shakespeare")
    agreement, kl = report.report(lm, 8)
    assert agreement >= 0.8
    assert kl >= 0


def test_sixteen_bits_rounds_every_parameter_to_a_half_precision_number(lm):
    copy = lm.quantized(16)
    for (name, rounded), original in zip(
        copy.named_parameters(), lm.model.parameters(), strict=True
    ):
        assert torch.equal(rounded, original.detach().half().float()), name
        # float16 keeps 11 significant bits: a relative error of at most 2^-11
        assert ((rounded - original).abs() <= original.abs() * 2**-11 + 1e-7).all(), name
    assert copy.lm_head.weight is copy.transformer.wte.weight


def test_sixteen_bits_changes_the_next_token_far_less_than_four(lm):
    ids = lm.tokenizer.encode("the thing in the")
    kl = {
        bits: lm.trace(ids, ["logits"], quantize_bits=bits).comparison.kl_bits for bits in (16, 4)
    }
    assert 0 <= kl[16] < kl[4]


def test_it_refuses_widths_it_does_not_offer(model):
    with pytest.raises(inference.QuantizationError, match="16, 8 or 4 bits"):
        inference.quantized_copy(model, 3)
    with pytest.raises(inference.QuantizationError, match="8 or 4 bits"):
        quantize_rows(model.lm_head.weight, 16)
