"""The `kv_cache` trace part (lesson 12) on the worker, and the 16-bit experiment: the
request's validation, and the reply a real (tiny) model gives."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import inference
from tests.factories import make_bundle
from tests.webapp.worker_requests import trace_request
from webapp.catalog.storage import bundle_sha256
from webapp.playground import model_cache
from webapp.playground.protocol import ClientError
from webapp.playground.trace_protocol import KV_MAX_NEW_TOKENS, TraceRequest
from webapp.playground.tracing import trace_reply

CONFIG = inference.GPTConfig(vocab_size=257, block_size=32, n_layer=2, n_head=2, n_embd=16)
PROMPT = "To be, or not"  # 13 tokens with the byte tokenizer


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("kv") / "m", seed=5, config=CONFIG)


@pytest.fixture
def lm(bundle):
    return model_cache.get_model(bundle, bundle_sha256(bundle))


def request_for(bundle, **fields) -> dict:
    """A trace request as the consumer hands it to the worker."""
    return trace_request(bundle, PROMPT, CONFIG.block_size, request_id="t-kv", **fields)


def engine_greedy(lm, ids, n):
    events = lm.generate(ids, max_new_tokens=n, temperature=0.0, seed=0)
    return [e.token_id for e in events if e.type == "step"]


def test_the_request_takes_the_part_and_a_bounded_count():
    request = TraceRequest.model_validate({"type": "trace", "prompt": "x", "parts": ["kv_cache"]})
    assert request.parts == ["kv_cache"] and request.kv_new_tokens == 32
    for bad in (0, KV_MAX_NEW_TOKENS + 1, "many"):
        with pytest.raises(ValidationError):
            TraceRequest.model_validate({"type": "trace", "prompt": "x", "kv_new_tokens": bad})
    # "all" stays the forward-pass parts: an old client is not sent two generations
    assert (
        "kv_cache"
        not in TraceRequest.model_validate(
            {"type": "trace", "prompt": "x", "parts": "all"}
        ).part_names()
    )


def test_the_reply_has_both_runs_with_identical_ids_and_their_times(bundle, lm):
    reply = trace_reply(request_for(bundle, parts=["kv_cache"], kv_new_tokens=8))
    kv = reply["kv_cache"]
    ids = lm.tokenizer.encode(PROMPT)
    assert kv["prompt_tokens"] == len(ids) and kv["new_tokens"] == kv["requested_tokens"] == 8
    assert kv["identical"] is True
    assert kv["cached"]["ids"] == kv["uncached"]["ids"] == engine_greedy(lm, ids, 8)
    assert kv["cached"]["text"] == lm.tokenizer.decode(kv["cached"]["ids"])
    for run in (kv["cached"], kv["uncached"]):
        assert len(run["step_ms"]) == 8 and all(ms > 0 for ms in run["step_ms"])
        assert run["total_ms"] == pytest.approx(sum(run["step_ms"]), abs=1e-2)
    assert kv["device"] == "cpu" and kv["threads"] >= 1


def test_the_size_is_the_formula_with_this_model_s_numbers(bundle):
    kv = trace_reply(request_for(bundle, parts=["kv_cache"], kv_new_tokens=4))["kv_cache"]
    size = kv["size"]
    head_size = CONFIG.n_embd // CONFIG.n_head
    assert (size["n_layer"], size["n_head"], size["head_size"]) == (2, 2, head_size)
    assert (size["bytes_per_number"], size["dtype"]) == (4, "float32")
    assert size["tokens"] == kv["prompt_tokens"] + 4
    assert size["bytes"] == 2 * 2 * 2 * head_size * size["tokens"] * 4
    assert size["bytes_per_token"] * CONFIG.block_size == size["context_bytes"]
    # what the cache's tensors really held: the last token is chosen, never fed back
    assert kv["cached_positions"] == size["tokens"] - 1
    assert kv["cache_tensor_bytes"] == size["bytes_per_token"] * kv["cached_positions"]


def test_a_long_request_is_clipped_to_the_context(bundle):
    kv = trace_reply(request_for(bundle, parts=["kv_cache"], kv_new_tokens=100))["kv_cache"]
    assert kv["requested_tokens"] == 100
    assert kv["new_tokens"] == CONFIG.block_size - kv["prompt_tokens"] + 1
    assert kv["identical"] and kv["cached_positions"] == CONFIG.block_size


def test_without_the_part_there_is_no_measurement(bundle):
    assert trace_reply(request_for(bundle, parts=["logits"]))["kv_cache"] is None


def test_a_prompt_that_fills_the_context_still_gets_one_token(bundle):
    full = "x" * CONFIG.block_size
    kv = trace_reply(request_for(bundle, prompt=full, parts=["kv_cache"]))["kv_cache"]
    assert kv["new_tokens"] == 1 and kv["identical"]


def test_a_prompt_over_the_context_is_refused_with_a_sentence(bundle):
    with pytest.raises(ClientError, match="at most 32"):
        trace_reply(request_for(bundle, prompt="x" * 40, parts=["kv_cache"]))


def test_sixteen_bit_weights_barely_move_the_next_token(bundle):
    experiments = {
        bits: trace_reply(
            request_for(bundle, parts=["logits"], experiment={"quantize_bits": bits})
        )["experiment"]
        for bits in (16, 4)
    }
    assert 0 <= experiments[16]["kl_bits"] < experiments[4]["kl_bits"]
    memory = {int(b): n for b, n in experiments[16]["memory_bytes"].items()}
    assert memory[32] == 2 * memory[16]
