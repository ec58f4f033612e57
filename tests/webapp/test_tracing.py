"""The worker side of `trace`: a request in, the `trace_result` message out, on a real
(tiny) model; and the checks that refuse a request that does not fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import inference
from tests.factories import make_bundle
from webapp.catalog.storage import bundle_sha256
from webapp.playground import model_cache
from webapp.playground.protocol import ClientError
from webapp.playground.trace_protocol import TRACE_PARTS, TraceRequest, decode_tensor
from webapp.playground.tracing import trace_reply

CONFIG = inference.GPTConfig(vocab_size=257, block_size=32, n_layer=2, n_head=2, n_embd=16)
PROMPT = "To be, or not"  # 13 tokens with the byte tokenizer


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("trace") / "m", seed=3, config=CONFIG)


@pytest.fixture(autouse=True)
def empty_cache():
    model_cache.clear()
    yield
    model_cache.clear()


@pytest.fixture
def lm(bundle):
    return model_cache.get_model(bundle, bundle_sha256(bundle))


def request_for(bundle, **fields) -> dict:
    """A trace request as the consumer hands it to the worker."""
    request = TraceRequest.model_validate({"type": "trace", "prompt": PROMPT, **fields})
    payload = request.model_dump(mode="json")
    payload.update(
        request_id="t-1",
        model="tiny",
        model_path=str(bundle),
        model_sha256=bundle_sha256(bundle),
        max_prompt_tokens=CONFIG.block_size,
    )
    return payload


def test_every_part_arrives_with_the_engine_s_numbers(bundle, lm):
    reply = trace_reply(request_for(bundle, parts="all", layers=[1], top_k=5))
    ids = lm.tokenizer.encode(PROMPT)
    want = lm.trace(ids, "all", layers=[1], lens_top_k=5)
    T = len(ids)
    assert reply["type"] == "trace_result" and reply["request_id"] == "t-1"
    assert [t["id"] for t in reply["tokens"]] == ids
    assert (reply["layers"], reply["heads"], reply["positions"]) == ([1], [0, 1], list(range(T)))
    tensors = reply["tensors"]
    for part in ("residuals", "q", "scores", "attention", "head_outputs", "mlp_post"):
        got = decode_tensor(tensors[part])
        expected = getattr(want, part).numpy()
        assert got.shape == expected.shape, part
        np.testing.assert_allclose(got, expected, atol=2e-3, rtol=2e-3, err_msg=part)
    assert decode_tensor(tensors["residuals"]).shape == (CONFIG.n_layer + 1, T, CONFIG.n_embd)
    assert decode_tensor(tensors["scores"]).shape == (1, CONFIG.n_head, T, T)
    np.testing.assert_allclose(
        decode_tensor(tensors["ln_2"]["std"]), want.ln_2.std.numpy(), rtol=2e-3
    )
    # the heads' shares plus the bias make the attention block's output
    summed = (
        decode_tensor(tensors["head_outputs"]).sum(axis=1)
        + decode_tensor(tensors["attn_out_bias"])[:, None, :]
    )
    np.testing.assert_allclose(summed, decode_tensor(tensors["attn_out"]), atol=5e-3)
    # last logits exactly (float32), the lens as ids and ranks
    np.testing.assert_array_equal(decode_tensor(reply["logits"]["last"]), want.logits[-1].numpy())
    assert reply["logits"]["last"]["dtype"] == "float32"
    lens = reply["logit_lens"]
    assert lens["top_ids"] == want.logit_lens.top_ids.tolist()
    assert np.array(lens["target_ranks"]).shape == (CONFIG.n_layer + 1, T)
    # the last residual point of the lens is the model's own prediction
    assert lens["top_ids"][-1][-1][0] == reply["logits"]["top_ids"][-1][0]
    top_values, top_ids = want.mlp_post.topk(5, dim=-1)
    assert reply["mlp_top"]["ids"] == top_ids.tolist()
    # every token id in the reply has its text
    mentioned = set(ids) | set(np.array(lens["top_ids"]).flatten().tolist())
    assert mentioned <= {int(i) for i in reply["token_texts"]}
    assert reply["experiment"] is None
    assert reply["bytes"] > 0 and reply["elapsed_ms"]["forward"] > 0


def test_only_the_parts_and_positions_asked_for_come_back(bundle):
    reply = trace_reply(request_for(bundle, parts=["q", "logits"], heads=[1], positions=[2, 5]))
    assert set(reply["tensors"]) == {"q"}
    assert decode_tensor(reply["tensors"]["q"]).shape == (CONFIG.n_layer, 1, 2, 8)
    assert reply["logit_lens"] is None and reply["mlp_top"] is None
    assert np.array(reply["logits"]["top_ids"]).shape == (2, 10)


def test_an_ablation_reports_the_next_token_before_and_after(bundle, lm):
    reply = trace_reply(
        request_for(
            bundle,
            parts=["logits"],
            experiment={"ablate_heads": [[0, 0], [1, 1]], "ablate_mlps": [0]},
        )
    )
    experiment = reply["experiment"]
    plain = torch.softmax(lm.trace(lm.tokenizer.encode(PROMPT)).logits[-1], dim=-1)
    assert experiment["before"][0]["id"] == int(plain.argmax())
    assert experiment["before"][0]["prob"] == pytest.approx(float(plain.max()), abs=1e-5)
    assert experiment["kl_bits"] > 0
    assert experiment["top_changed"] == (
        experiment["before"][0]["id"] != experiment["after"][0]["id"]
    )
    assert experiment["memory_bytes"] is None
    # the tensors come from the changed model
    assert reply["logits"]["top_ids"][-1][0] == experiment["after"][0]["id"]


def test_quantizing_reports_the_memory_at_each_width(bundle):
    experiment = trace_reply(
        request_for(bundle, parts=["logits"], experiment={"quantize_bits": 4})
    )["experiment"]
    memory = {int(bits): size for bits, size in experiment["memory_bytes"].items()}
    assert memory[32] == 2 * memory[16] and memory[16] > memory[8] > memory[4]


def test_steering_from_prompts_and_from_a_token_changes_the_output(bundle):
    by_prompts = {"kind": "prompts", "positive": "love", "negative": "hate"}
    for vector in (by_prompts, {"kind": "token", "text": "x"}):
        steer = {"layer": 1, "strength": 8.0, "vector": vector}
        experiment = trace_reply(
            request_for(bundle, parts=["logits"], experiment={"steer": steer})
        )["experiment"]
        assert experiment["kl_bits"] > 0


@pytest.mark.parametrize(
    "fields, code, words",
    [
        ({"prompt": "x" * 33}, "prompt_too_long", "33 tokens"),
        ({"positions": [13]}, "invalid_setting", "0 to 12"),
        (
            {"experiment": {"steer": {"layer": 0, "vector": {"kind": "token", "text": "ab"}}}},
            "invalid_setting",
            "exactly one token",
        ),
    ],
)
def test_a_request_that_does_not_fit_is_refused_in_words(bundle, fields, code, words):
    with pytest.raises(ClientError) as refused:
        trace_reply(request_for(bundle, **fields))
    assert refused.value.code == code
    assert words in refused.value.message


def test_a_reply_over_the_size_limit_is_refused(bundle, settings):
    settings.GLASSBOX = {**settings.GLASSBOX, "TRACE_MAX_REPLY_BYTES": 20_000}
    with pytest.raises(ClientError) as refused:
        trace_reply(request_for(bundle, parts="all"))
    assert refused.value.code == "reply_too_large"
    assert "fewer parts" in refused.value.message
    assert trace_reply(request_for(bundle, parts=["logits"], positions=[0]))["bytes"] <= 20_000


def test_the_web_side_knows_the_same_parts_as_the_engine():
    assert TRACE_PARTS == inference.PARTS
