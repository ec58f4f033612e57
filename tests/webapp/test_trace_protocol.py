"""The `trace` message: what a client may ask for, and how tensors travel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from webapp.playground.trace_protocol import (
    TABLE_PARTS,
    TRACE_PARTS,
    TraceRequest,
    decode_tensor,
    encode_tensor,
)


def test_it_accepts_a_full_request_with_an_experiment():
    request = TraceRequest.model_validate(
        {
            "type": "trace",
            "prompt": "To be",
            "parts": "all",
            "layers": [2],
            "experiment": {
                "ablate_heads": [[2, 0]],
                "steer": {
                    "layer": 3,
                    "strength": -2.5,
                    "vector": {"kind": "prompts", "positive": "love", "negative": "hate"},
                },
                "quantize_bits": 4,
            },
        }
    )
    assert request.experiment.steer.vector.kind == "prompts"
    assert request.experiment.ablate_heads == [(2, 0)]


def test_it_accepts_the_table_parts_and_an_analogy_but_all_means_the_forward_pass():
    request = TraceRequest.model_validate(
        {
            "type": "trace",
            "prompt": "My lord",
            "parts": ["neighbours", "embedding_map", "position_table", "bigram", "logits"],
            "analogy": {"a": " king", "b": " man", "c": " woman"},
        }
    )
    assert request.analogy.b == " man"
    assert request.part_names()[:4] == list(TABLE_PARTS[:4])  # each kept, in order
    everything = TraceRequest.model_validate({"type": "trace", "prompt": "x", "parts": "all"})
    assert everything.part_names() == list(TRACE_PARTS)  # as before the table parts existed
    assert everything.analogy is None


@pytest.mark.parametrize(
    "change",
    [
        {"parts": ["neighbors"]},
        {"analogy": {"a": "king", "b": "man"}},
        {"analogy": {"a": "", "b": "man", "c": "woman"}},
        {"analogy": {"a": "king", "b": "man", "c": "woman", "d": "queen"}},
        {"analogy": "king - man + woman"},
        {"layers": []},
        {"heads": [-1]},
        {"top_k": 0},
        {"top_k": 51},
        {"experiment": {"quantize_bits": 3}},
        {"experiment": {"steer": {"layer": 0, "strength": float("nan"), "vector": {}}}},
        {"experiment": {"steer": {"layer": 0, "vector": {"kind": "noise"}}}},
        {"surprise": 1},
    ],
)
def test_it_rejects_out_of_range_settings(change):
    with pytest.raises(ValidationError):
        TraceRequest.model_validate({"type": "trace", "prompt": "x", **change})


def test_tensors_round_trip_in_float16_and_float32():
    values = torch.randn(3, 4, 5)
    half = encode_tensor(values)
    assert half["shape"] == [3, 4, 5] and half["dtype"] == "float16"
    assert np.allclose(decode_tensor(half), values.numpy(), atol=1e-2, rtol=1e-3)
    exact = decode_tensor(encode_tensor(values, dtype="float32"))
    assert np.array_equal(exact, values.numpy())
