"""The `neuron_examples` trace part: one neuron's strongest places in the model's sample of
held-out text, read from the file its folder ships; a sentence, not an error, from a
model without one; a clear refusal for a neuron that is missing or does not exist."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import inference
from inference.neuron_examples import EXAMPLES_FILE, build_examples, file_sha256, save_examples
from tests.factories import make_bundle
from tests.webapp.worker_requests import trace_request
from webapp.playground.protocol import ClientError, parse_client_message
from webapp.playground.trace_protocol import TraceRequest, decode_tensor
from webapp.playground.tracing import trace_reply

CONFIG = inference.GPTConfig(vocab_size=257, block_size=32, n_layer=2, n_head=2, n_embd=16)
PROMPT = "To be, or not"
SAMPLE = list(b"Now is the winter of our discontent made glorious summer by this sun. " * 8)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("neuron-part") / "plain", seed=3, config=CONFIG)


@pytest.fixture(scope="module")
def shipping(tmp_path_factory):
    """A model whose folder ships neuron examples counted on SAMPLE."""
    path = make_bundle(tmp_path_factory.mktemp("neuron-part") / "ships", seed=4, config=CONFIG)
    lm = inference.load_model(path)
    examples = build_examples(
        lm.model,
        SAMPLE,
        weights_sha256=file_sha256(path / "model.safetensors"),
        sample="a line of Richard III",
        segments=4,
        segment_tokens=32,
    )
    save_examples(examples, path / EXAMPLES_FILE)
    return path


def request_for(bundle, **fields) -> dict:
    """A trace request as the consumer hands it to the worker."""
    return trace_request(bundle, PROMPT, CONFIG.block_size, request_id="t-1", **fields)


def test_the_part_returns_the_files_examples_with_their_token_texts(shipping):
    neuron = {"layer": 1, "index": 9}
    reply = trace_reply(request_for(shipping, parts=["mlp_post", "neuron_examples"], neuron=neuron))
    stored = inference.load_model(shipping).neuron_examples()
    part = reply["neuron_examples"]
    assert (part["layer"], part["index"], part["before"], part["after"]) == (1, 9, 8, 2)
    assert part["sample"].startswith("a line of Richard III: 4 evenly spaced windows")
    assert part["examples"] == stored.examples(1, 9)
    assert reply["neuron_note"] is None
    values = [example["value"] for example in part["examples"]]
    assert values == sorted(values, reverse=True) and len(values) == 6
    for example in part["examples"]:
        window = "".join(reply["token_texts"][str(i)] for i in example["ids"])
        assert window in bytes(SAMPLE).decode()  # the sample's own text around the place
    # the forward-pass parts arrive beside it as always
    assert decode_tensor(reply["tensors"]["mlp_post"]).shape == (2, len(PROMPT), 64)


def test_a_model_without_examples_answers_a_sentence_and_the_rest_of_the_trace(plain):
    reply = trace_reply(
        request_for(plain, parts=["mlp_pre", "neuron_examples"], neuron={"layer": 0, "index": 0})
    )
    assert reply["neuron_examples"] is None
    assert "ships no neuron examples" in reply["neuron_note"]
    assert "mlp_pre" in reply["tensors"]


def test_a_trace_that_does_not_ask_has_neither_field_set(shipping):
    reply = trace_reply(request_for(shipping, parts=["mlp_post"]))
    assert reply["neuron_examples"] is None and reply["neuron_note"] is None


def test_a_missing_or_nonexistent_neuron_is_refused_with_a_sentence(shipping):
    with pytest.raises(ClientError, match="needs a neuron") as missing:
        trace_reply(request_for(shipping, parts=["neuron_examples"]))
    assert missing.value.code == "invalid_setting"
    with pytest.raises(ClientError, match="layers 0 to 1 and neurons 0 to 63"):
        trace_reply(
            request_for(shipping, parts=["neuron_examples"], neuron={"layer": 2, "index": 0})
        )
    with pytest.raises(ClientError, match="neurons 0 to 63"):
        trace_reply(
            request_for(shipping, parts=["neuron_examples"], neuron={"layer": 0, "index": 64})
        )


def test_the_neuron_field_is_validated_on_arrival():
    base = {"type": "trace", "prompt": PROMPT, "parts": ["neuron_examples"]}
    with pytest.raises(ValidationError):
        TraceRequest.model_validate({**base, "neuron": {"layer": -1, "index": 0}})
    with pytest.raises(ValidationError):
        TraceRequest.model_validate({**base, "neuron": {"layer": 0, "neuron": 3}})
    with pytest.raises(ClientError, match=r"The neuron \(layer\)") as error:
        parse_client_message({**base, "neuron": {"layer": "x", "index": 0}})
    assert error.value.code == "invalid_setting"
