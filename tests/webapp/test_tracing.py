"""The worker side of `trace`: a request in, the `trace_result` message out, on a real
(tiny) model; and the checks that refuse a request that does not fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import inference
from inference.bigram import bigram_counts
from inference.bigram_table import TABLE_FILE, bigram_table, save_bigram_table
from tests.factories import make_bundle
from tests.webapp.worker_requests import trace_request
from webapp.catalog.storage import bundle_sha256
from webapp.playground import model_cache
from webapp.playground.protocol import ClientError
from webapp.playground.table_parts import NO_BIGRAM_SENTENCE
from webapp.playground.trace_protocol import TRACE_PARTS, decode_tensor
from webapp.playground.tracing import trace_reply

CONFIG = inference.GPTConfig(vocab_size=257, block_size=32, n_layer=2, n_head=2, n_embd=16)
PROMPT = "To be, or not"  # 13 tokens with the byte tokenizer
TABLE_PARTS = ["neighbours", "embedding_map", "position_table", "bigram"]
CARD_LOSS = {"final_val_loss": 2.1, "bigram_val_loss": 2.9, "bigram_smoothing_alpha": 0.1}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("trace") / "m", seed=3, config=CONFIG)


@pytest.fixture(scope="module")
def bundle_with_bigram(tmp_path_factory):
    """The same kind of model, shipping a bigram table counted on a line of text."""
    path = make_bundle(tmp_path_factory.mktemp("trace") / "b", seed=4, config=CONFIG)
    (path / "card.json").write_text(json.dumps({"loss": CARD_LOSS}), encoding="utf-8")
    ids = torch.tensor(list(b"To be, or not to be, that is the question."))
    save_bigram_table(bigram_table(bigram_counts(ids, CONFIG.vocab_size), 0.1), path / TABLE_FILE)
    return path


@pytest.fixture
def lm(bundle):
    return model_cache.get_model(bundle, bundle_sha256(bundle))


def request_for(bundle, **fields) -> dict:
    """A trace request as the consumer hands it to the worker."""
    return trace_request(bundle, PROMPT, CONFIG.block_size, request_id="t-1", **fields)


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
            {"analogy": {"a": "ab", "b": "c", "c": "d"}},
            "invalid_setting",
            "a = 'ab' is 2 tokens for this model",
        ),
        (
            {"analogy": {"a": "a", "b": "bé", "c": "xyz"}},
            "invalid_setting",
            "b = 'bé' is 3 tokens; c = 'xyz' is 3 tokens",
        ),
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


def test_the_table_parts_arrive_with_the_engine_s_numbers(bundle, lm):
    analogy = {"a": "k", "b": "m", "c": "w"}
    reply = trace_reply(
        request_for(bundle, parts=TABLE_PARTS, positions=[1, 4, 4], top_k=6, analogy=analogy)
    )
    ids = lm.tokenizer.encode(PROMPT)
    kept = [ids[1], ids[4], ids[4]]
    space = lm.embedding_space()
    want_ids, want_cosines = space.neighbours(kept, 6)
    assert reply["neighbours"]["ids"] == want_ids.tolist()
    got = decode_tensor(reply["neighbours"]["cosines"])
    np.testing.assert_allclose(got, want_cosines.numpy(), atol=1e-3, rtol=1e-3)
    # the whole position table, whatever the positions kept
    wpe = lm.model.transformer.wpe.weight.detach().numpy()
    table = reply["tensors"]["position_table"]
    assert table["shape"] == [CONFIG.block_size, CONFIG.n_embd] and table["dtype"] == "float16"
    np.testing.assert_allclose(decode_tensor(table), wpe, atol=1e-3, rtol=1e-3)
    assert set(reply["tensors"]) == {"position_table"}  # and no forward-pass part
    # the analogy, both ways
    a, b, c = (ord(letter) for letter in "kmw")
    want = space.analogy(a, b, c, 6)
    got_analogy = reply["analogy"]
    assert (got_analogy["a"], got_analogy["b"], got_analogy["c"]) == (a, b, c)
    assert [r["id"] for r in got_analogy["with_inputs"]] == [i for i, _ in want.with_inputs]
    assert [r["id"] for r in got_analogy["without_inputs"]] == [i for i, _ in want.without_inputs]
    assert not {a, b, c} & {r["id"] for r in got_analogy["without_inputs"]}
    first = got_analogy["with_inputs"][0]
    assert first["cosine"] == pytest.approx(want.with_inputs[0][1], abs=1e-6)
    assert first["text"] == lm.tokenizer.decode([first["id"]])
    # the map: the prompt's kept tokens, their neighbours, the analogy, each once
    points = reply["embedding_map"]["points"]
    assert [p["id"] for p in points if p["kind"] == "prompt"] == [ids[1], ids[4]]
    assert len({p["id"] for p in points}) == len(points)
    neighbours = {i for row in want_ids.tolist() for i in row} - set(kept)
    assert {p["id"] for p in points if p["kind"] == "neighbour"} == neighbours
    assert {a, b, c} <= {p["id"] for p in points}
    coordinates = space.coordinates([p["id"] for p in points]).numpy()
    np.testing.assert_allclose([[p["x"], p["y"]] for p in points], coordinates, atol=1e-5)
    explained = reply["embedding_map"]["explained"]
    assert all(0 < ratio <= 1 for ratio in explained)
    # every id named has its text; this model ships no bigram table, and says so
    named = {p["id"] for p in points} | set(want_ids.flatten().tolist())
    assert named <= {int(i) for i in reply["token_texts"]}
    assert reply["bigram"] is None and reply["bigram_note"] == NO_BIGRAM_SENTENCE


def test_the_bigram_part_predicts_after_the_last_kept_token(bundle_with_bigram):
    lm = model_cache.get_model(bundle_with_bigram, bundle_sha256(bundle_with_bigram))
    reply = trace_reply(
        request_for(bundle_with_bigram, parts=["bigram", "logits"], positions=[0, 3], top_k=4)
    )
    bigram = reply["bigram"]
    after = lm.tokenizer.encode(PROMPT)[3]  # "b": one byte, one token
    assert (bigram["position"], bigram["token"]) == (3, after)
    ids, probs, rest = lm.bigram.after(after, 4)
    assert bigram["ids"] == ids
    np.testing.assert_allclose(decode_tensor(bigram["probs"]), probs.numpy(), rtol=1e-3)
    assert sum(decode_tensor(bigram["probs"])) + bigram["rest"] == pytest.approx(1, abs=1e-3)
    assert bigram["seen"] == int(lm.bigram.row_counts[after]) > 0
    assert bigram["alpha"] == 0.1 and bigram["card"] == CARD_LOSS
    assert reply["bigram_note"] is None
    assert set(ids) <= {int(i) for i in reply["token_texts"]}
    assert reply["logits"] is not None  # the forward-pass parts come with it


def test_all_means_the_forward_pass_parts_only(bundle):
    reply = trace_reply(request_for(bundle, parts="all", layers=[0]))
    assert "position_table" not in reply["tensors"]
    for field in ("neighbours", "analogy", "embedding_map", "bigram", "bigram_note"):
        assert reply[field] is None, field


def test_table_parts_read_the_rounded_weights_of_a_quantize_experiment(bundle, lm):
    reply = trace_reply(
        request_for(bundle, parts=["position_table", "neighbours"], experiment={"quantize_bits": 4})
    )
    rounded = lm.quantized(4).transformer.wpe.weight.detach().numpy()
    got = decode_tensor(reply["tensors"]["position_table"])
    np.testing.assert_allclose(got, rounded, atol=1e-3, rtol=1e-3)
    want_ids, _ = lm.embedding_space(4).neighbours(lm.tokenizer.encode(PROMPT), 10)
    assert reply["neighbours"]["ids"] == want_ids.tolist()


def test_token_losses_are_the_cross_entropy_of_each_next_token(bundle, lm):
    reply = trace_reply(request_for(bundle, parts=["token_losses"]))
    losses = reply["token_losses"]
    ids = lm.tokenizer.encode(PROMPT)
    logits = lm.trace(ids, lm.capture_spec(["logits"])).logits
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    expected = [-log_probs[t, ids[t + 1]].item() for t in range(len(ids) - 1)]
    assert losses["positions"] == list(range(len(ids) - 1))
    assert losses["nats"] == pytest.approx(expected, abs=1e-5)
    assert losses["mean_nats"] == pytest.approx(np.mean(expected), abs=1e-5)
    assert losses["perplexity"] == pytest.approx(np.exp(np.mean(expected)), rel=1e-5)
    ranks = [int((log_probs[t] > log_probs[t, ids[t + 1]]).sum()) for t in range(len(ids) - 1)]
    assert losses["ranks"] == ranks
    assert reply["logits"] is None  # the logits were needed, not asked for
    assert all(str(i) in reply["token_texts"] for i in losses["top_ids"])


def test_token_losses_follow_the_kept_positions(bundle):
    last = len(PROMPT.encode()) - 1  # byte tokens: the last position has no next token
    reply = trace_reply(request_for(bundle, parts=["token_losses"], positions=[0, 4, last]))
    assert reply["token_losses"]["positions"] == [0, 4]
