"""Protocol v1 as plain functions: request validation and the compact attention encoding."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from inference import GPT, GPTConfig, LanguageModel, Tokenizer
from inference.capture import CaptureSpec
from webapp.playground.protocol import (
    ClientError,
    GenerateRequest,
    decode_unit_8bit,
    encode_unit_8bit,
    event_json,
    parse_client_message,
    resolve_selection,
)

ATTENTION = CaptureSpec.of("attention")


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    ranks = {bytes([b]): b for b in range(256)}
    tokenizer = Tokenizer.from_ranks(ranks, {"<|endoftext|>": 256})
    config = GPTConfig(vocab_size=257, block_size=32, n_layer=2, n_head=3, n_embd=12)
    return LanguageModel(model=GPT(config).eval(), tokenizer=tokenizer)


def test_defaults_fill_in_a_minimal_request():
    request = parse_client_message({"type": "generate", "prompt": "hi"})
    assert isinstance(request, GenerateRequest)
    assert (request.temperature, request.top_k, request.top_p, request.attention) == (
        0.8,
        0,
        1.0,
        "none",
    )


def test_quantize_round_trips_within_half_a_level():
    weights = np.random.default_rng(0).random((3, 5)).astype(np.float32)
    restored = decode_unit_8bit(encode_unit_8bit(weights), [3, 5])
    assert np.abs(restored - weights).max() <= 0.5 / 255 + 1e-7
    assert np.array_equal(decode_unit_8bit(encode_unit_8bit(np.array([0.0, 1.0])), [2]), [0.0, 1.0])


def test_selection_resolves_all_and_lists():
    assert resolve_selection("none", 2, 3) is None
    assert resolve_selection({"layers": "all", "heads": [2, 0, 2]}, 2, 3) == ([0, 1], [0, 2])
    with pytest.raises(ClientError):
        resolve_selection({"layers": [], "heads": "all"}, 2, 3)


def test_prompt_attention_is_packed_as_lower_triangle_rows(lm):
    ids = list(b"hello")
    selection = ([1], [0, 2])
    capture = CaptureSpec.of("attention", layers=[1], heads=[0, 2])
    events = list(lm.generate(ids, max_new_tokens=2, seed=0, capture=capture))
    assert events[0].attention.shape == (1, 2, 5, 5)  # only what was selected was kept
    full = list(lm.generate(ids, max_new_tokens=2, seed=0, capture=ATTENTION))[0].attention
    message = event_json(events[0], "r", lm.tokenizer, selection)
    attention = message["attention"]
    assert attention["length"] == 5 and attention["layers"] == [1]
    packed = np.frombuffer(base64.b64decode(attention["data"]), dtype=np.uint8)
    assert packed.size == 1 * 2 * 5 * 6 // 2
    # head 2 of layer 1, row 3 (the 4 weights of query position 3)
    start = 5 * 6 // 2 + (1 + 2 + 3)  # skip head 0, then rows 0..2 of head 2
    row = packed[start : start + 4] / 255.0
    expected = full[1, 2, 3, :4].numpy()
    assert np.abs(row - expected).max() <= 0.5 / 255 + 1e-6


def test_step_messages_carry_the_new_row_and_the_candidates(lm):
    events = list(
        lm.generate(
            list(b"abc"),
            max_new_tokens=2,
            seed=0,
            capture=CaptureSpec.of("attention", layers=[0, 1], heads=[0, 1, 2]),
            n_candidates=4,
        )
    )
    step = event_json(events[2], "r", lm.tokenizer, ([0, 1], [0, 1, 2]))
    assert step["type"] == "step" and step["index"] == 1
    assert step["attention"]["query_position"] == 3
    row = decode_unit_8bit(step["attention"]["data"], [2, 3, 4])
    assert np.allclose(row.sum(-1), 1.0, atol=4 * 0.5 / 255)
    assert len(step["candidates"]) == 4
    assert base64.b64decode(step["token"]["bytes"]) == events[2].token.bytes
    done = event_json(events[-1], "r", lm.tokenizer, None)
    assert done["type"] == "done" and done["new_tokens"] == 2 and done["seed"] == 0


def test_no_attention_when_none_is_selected(lm):
    events = list(lm.generate(list(b"abc"), max_new_tokens=1, seed=0))
    assert event_json(events[0], "r", lm.tokenizer, None)["attention"] is None
    assert event_json(events[1], "r", lm.tokenizer, None)["attention"] is None
