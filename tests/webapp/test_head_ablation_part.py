"""The `head_ablation` trace part on the worker: a request in, the grid of Δ log p out,
checked against single ablations through the ordinary experiment path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import inference
from tests.factories import make_bundle
from tests.webapp.worker_requests import trace_request
from webapp.catalog.storage import bundle_sha256
from webapp.playground import model_cache
from webapp.playground.protocol import ClientError, parse_client_message
from webapp.playground.trace_protocol import decode_tensor
from webapp.playground.tracing import trace_reply

CONFIG = inference.GPTConfig(vocab_size=257, block_size=32, n_layer=2, n_head=3, n_embd=24)
PROMPT = "To be, or not"  # byte tokens: every single character is one token


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("ablation") / "m", seed=5, config=CONFIG)


@pytest.fixture
def lm(bundle):
    return model_cache.get_model(bundle, bundle_sha256(bundle))


def request_for(bundle, **fields) -> dict:
    """A trace request as the consumer hands it to the worker."""
    return trace_request(bundle, PROMPT, CONFIG.block_size, request_id="t-1", **fields)


def log_p(lm, ids, target, heads=()):
    """log p(target) after the last token, through `LanguageModel.trace`."""
    intervention = inference.Intervention(ablate_heads=frozenset(heads)) if heads else None
    logits = lm.trace(ids, ["logits"], intervention=intervention).logits[-1]
    return float(torch.log_softmax(logits.float(), dim=-1)[target])


def test_the_grid_holds_each_head_s_change_of_log_p_for_the_target(bundle, lm):
    reply = trace_reply(request_for(bundle, parts=["head_ablation"], ablation_target="e"))
    grid = reply["head_ablation"]
    ids = lm.tokenizer.encode(PROMPT)
    target = ord("e")
    assert grid["target"] == {"id": target, "text": "e"}
    assert grid["position"] == len(ids) - 1
    assert grid["log_prob"] == pytest.approx(log_p(lm, ids, target), abs=1e-5)
    delta = decode_tensor(grid["delta_log_prob"])
    assert delta.shape == (CONFIG.n_layer, CONFIG.n_head)
    clean = log_p(lm, ids, target)
    for layer in range(CONFIG.n_layer):
        for head in range(CONFIG.n_head):
            expected = log_p(lm, ids, target, {(layer, head)}) - clean
            assert delta[layer, head] == pytest.approx(expected, abs=2e-3)  # float16
    assert grid["elapsed_ms"] > 0


def test_without_a_target_the_grid_follows_the_top_token(bundle, lm):
    reply = trace_reply(request_for(bundle, parts=["logits", "head_ablation"]))
    grid = reply["head_ablation"]
    top = int(np.argmax(decode_tensor(reply["logits"]["last"])))
    assert grid["target"]["id"] == grid["top"]["id"] == top


def test_other_replies_carry_no_grid(bundle):
    assert trace_reply(request_for(bundle, parts=["logits"]))["head_ablation"] is None


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"parts": ["head_ablation"], "ablation_target": "or"}, "is 2 tokens"),
        ({"parts": ["logits"], "ablation_target": "e"}, "add it to parts"),
    ],
)
def test_a_bad_target_is_refused_in_words(bundle, fields, words):
    with pytest.raises(ClientError, match=words) as caught:
        trace_reply(request_for(bundle, **fields))
    assert caught.value.code == "invalid_setting"


def test_the_web_side_accepts_the_part_and_its_target():
    message = parse_client_message(
        {"type": "trace", "prompt": "x", "parts": ["head_ablation"], "ablation_target": " lord"}
    )
    assert message.ablation_target == " lord"
    assert message.parts == ["head_ablation"]
