"""The layer-norm parameters and model facts a `trace_result` carries for lessons 9 and 10:
γ and β of ln_1 / ln_2 in the traced layers, the model's ε, and whether the unembedding is
the token embedding table. Checked on small real models whose norms were given random
scales and shifts, so that γ = 1, β = 0 cannot pass by accident."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import inference
from tests.factories import byte_tokenizer
from tests.webapp.worker_requests import trace_request
from webapp.catalog.storage import bundle_sha256
from webapp.playground import model_cache
from webapp.playground.trace_protocol import decode_tensor
from webapp.playground.tracing import trace_reply

CONFIG = inference.GPTConfig(
    vocab_size=257, block_size=32, n_layer=3, n_head=2, n_embd=16, layer_norm_epsilon=1e-3
)
PROMPT = "To be, or not"


def bundle_with_learned_norms(path, config: inference.GPTConfig, seed: int):
    """A saved model whose layer norms scale and shift by random (learned-looking) numbers."""
    torch.manual_seed(seed)
    model = inference.GPT(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".ln_" in name or name.startswith("transformer.ln_f"):
                param.copy_(torch.randn_like(param) * 0.5 + (1.0 if name.endswith("weight") else 0))
    return inference.save_bundle(path, model, byte_tokenizer(), card={"description": "test"})


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return bundle_with_learned_norms(tmp_path_factory.mktemp("ln") / "m", CONFIG, seed=5)


def traced(bundle, **fields) -> dict:
    """The worker's reply to a trace request for `bundle`."""
    payload = trace_request(bundle, PROMPT, 32, request_id="t-ln", **fields)
    return trace_reply(payload)


def test_gamma_and_beta_of_the_traced_layers_rebuild_the_norm_s_output(bundle):
    reply = traced(bundle, parts=["residuals", "ln_1", "ln_2", "attn_out"], layers=[0, 2])
    lm = model_cache.get_model(bundle, bundle_sha256(bundle))
    residuals = decode_tensor(reply["tensors"]["residuals"])  # (L+1, T, C)
    attn_out = decode_tensor(reply["tensors"]["attn_out"])  # (2, T, C)
    eps = reply["dims"]["layer_norm_epsilon"]
    assert eps == CONFIG.layer_norm_epsilon
    for part in ("ln_1", "ln_2"):
        norm = reply["tensors"][part]
        weight, bias = decode_tensor(norm["weight"]), decode_tensor(norm["bias"])
        assert weight.shape == bias.shape == (2, CONFIG.n_embd)
        for row, layer in enumerate([0, 2]):
            module = getattr(lm.model.transformer.h[layer], part)
            np.testing.assert_allclose(weight[row], module.weight.detach().numpy(), atol=1e-3)
            np.testing.assert_allclose(bias[row], module.bias.detach().numpy(), atol=1e-3)
            # what the norm read: the stream before the block, or after its attention
            x = residuals[layer] + (attn_out[row] if part == "ln_2" else 0)
            mean = x.mean(axis=-1, keepdims=True)
            std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)  # per token, over its features
            np.testing.assert_allclose(decode_tensor(norm["mean"])[row], mean[:, 0], atol=2e-3)
            np.testing.assert_allclose(decode_tensor(norm["std"])[row], std[:, 0], rtol=3e-3)
            rebuilt = (x - mean) / std * weight[row] + bias[row]
            np.testing.assert_allclose(decode_tensor(norm["out"])[row], rebuilt, atol=2e-2)


def test_the_reply_says_the_unembedding_is_the_token_embedding(bundle):
    reply = traced(bundle, parts=["logits"])
    assert reply["dims"]["tied_embedding"] is True
    lm = model_cache.get_model(bundle, bundle_sha256(bundle))
    lm.model.lm_head.weight = torch.nn.Parameter(lm.model.lm_head.weight.detach().clone())
    try:  # an untied copy (as an imported model might have) is reported as such
        assert traced(bundle, parts=["logits"])["dims"]["tied_embedding"] is False
    finally:
        lm.model.lm_head.weight = lm.model.transformer.wte.weight


def test_a_model_without_biases_shifts_by_zero(tmp_path):
    config = inference.GPTConfig(
        vocab_size=257, block_size=32, n_layer=1, n_head=2, n_embd=16, bias=False
    )
    path = bundle_with_learned_norms(tmp_path / "nobias", config, seed=6)
    reply = traced(path, parts=["ln_2"])
    bias = decode_tensor(reply["tensors"]["ln_2"]["bias"])
    assert bias.shape == (1, 16) and not bias.any()
    assert decode_tensor(reply["tensors"]["ln_2"]["weight"]).std() > 0.1
