"""The neuron examples a model folder may ship: built by running the model over a fixed
sample (each stored value is the neuron's real activation there, and the largest ones
are kept), written with safetensors, and refused when the file is malformed or was
computed from other weights than the ones beside it."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from inference import GPTConfig, NeuronExamplesError, load_model
from inference.neuron_examples import (
    EXAMPLES_FILE,
    PAD,
    build_examples,
    file_sha256,
    read_examples,
    sample_segments,
    save_examples,
)
from tests.factories import make_bundle

CONFIG = GPTConfig(vocab_size=257, block_size=32, n_layer=2, n_head=2, n_embd=16)
WIDTH = 4 * CONFIG.n_embd
TEXT = b"To be, or not to be, that is the question: whether 'tis nobler in the mind. " * 12
BEFORE, AFTER, KEEP = 3, 1, 4


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("neurons") / "m", seed=5, config=CONFIG)


@pytest.fixture(scope="module")
def lm(bundle):
    return load_model(bundle)


@pytest.fixture(scope="module")
def built(lm, bundle):
    """Examples over 6 segments of 32 tokens of TEXT; (examples, segments)."""
    ids = list(TEXT)
    examples = build_examples(
        lm.model,
        ids,
        weights_sha256=file_sha256(bundle / "model.safetensors"),
        sample="a test text",
        keep=KEEP,
        before=BEFORE,
        after=AFTER,
        segments=6,
        segment_tokens=32,
    )
    return examples, sample_segments(ids, 6, 32)


def activations(lm, segments) -> torch.Tensor:
    """(L, N, sample tokens): every neuron after the GELU, one segment at a time."""
    per_segment = [lm.trace(segment, ["mlp_post"]).mlp_post for segment in segments]
    return torch.cat(per_segment, dim=1).permute(0, 2, 1)


def read_for(path, bundle, **changes):
    fields = dict(
        n_layer=CONFIG.n_layer,
        width=WIDTH,
        vocab_size=CONFIG.vocab_size,
        weights_sha256=file_sha256(bundle / "model.safetensors"),
    )
    return read_examples(path, **{**fields, **changes})


def test_the_sample_is_evenly_spaced_whole_segments_from_first_to_last_token():
    ids = list(range(1000))
    segments = sample_segments(ids, 5, 100)
    assert [s[0] for s in segments] == [0, 225, 450, 675, 900]
    assert all(len(s) == 100 for s in segments) and segments[-1][-1] == 999
    assert sample_segments(ids, 5, 100) == segments  # the same text, the same sample
    assert sample_segments(ids[:50], 5, 100) == [ids[:50]]


def test_stored_values_are_the_neurons_real_activations_and_the_largest(lm, built):
    examples, segments = built
    assert examples.shape == (CONFIG.n_layer, WIDTH, KEEP)
    assert examples.token_ids.dtype == torch.int16 and examples.values.dtype == torch.float16
    acts = activations(lm, segments)  # (L, N, 192)
    flat = [token for segment in segments for token in segment]
    positions = examples.positions.long()
    stored = examples.values.float()
    # each stored value is the activation at its stored position, to float16 rounding
    torch.testing.assert_close(acts.gather(-1, positions), stored, atol=2e-3, rtol=1e-3)
    # the first is the neuron's largest value anywhere in the sample; the rest descend
    torch.testing.assert_close(stored[..., 0], acts.amax(dim=-1), atol=2e-3, rtol=1e-3)
    assert (stored[..., :-1] >= stored[..., 1:]).all()
    # the examples of one neuron are a window apart (TEXT repeats, so there are enough)
    gaps = (positions[..., :, None] - positions[..., None, :]).abs()
    off_diagonal = ~torch.eye(KEEP, dtype=torch.bool)
    assert (gaps[..., off_diagonal] >= BEFORE + 1 + AFTER).all()
    # the window is the sample's tokens around the position, PAD before a segment starts
    for layer, neuron in [(0, 0), (1, WIDTH - 1), (1, 7)]:
        for rank, example in enumerate(examples.examples(layer, neuron)):
            p = example["position"]
            start = (p // 32) * 32
            want = flat[max(start, p - BEFORE) : min(start + 32, p + AFTER + 1)]
            assert example["ids"] == want
            assert example["ids"][example["index"]] == flat[p]
            window = examples.token_ids[layer, neuron, rank].tolist()
            assert window.count(PAD) == BEFORE + 1 + AFTER - len(want)


def test_a_saved_file_reads_back_the_same(tmp_path, built, bundle):
    examples, _ = built
    path = save_examples(examples, tmp_path / EXAMPLES_FILE)
    back = read_for(path, bundle)
    for name in ("token_ids", "values", "positions"):
        assert torch.equal(getattr(back, name), getattr(examples, name))
    assert (back.before, back.after) == (BEFORE, AFTER)
    assert (
        back.metadata["sample"]
        == "a test text: 6 evenly spaced windows of 32 tokens, 192 tokens in all"
    )
    assert back.examples(1, 3) == examples.examples(1, 3)
    with pytest.raises(NeuronExamplesError, match="no neuron 64 in layer 1"):
        back.examples(1, WIDTH)


def test_a_file_for_other_weights_or_another_shape_is_refused(tmp_path, built, bundle):
    examples, _ = built
    path = save_examples(examples, tmp_path / EXAMPLES_FILE)
    with pytest.raises(NeuronExamplesError, match="other weights"):
        read_for(path, bundle, weights_sha256="0" * 64)
    with pytest.raises(NeuronExamplesError, match="3 layers of 64 neurons"):
        read_for(path, bundle, n_layer=3)
    with pytest.raises(NeuronExamplesError, match="outside the vocabulary"):
        read_for(path, bundle, vocab_size=40)  # the text's letters are ids above 40


def test_a_malformed_file_is_refused_with_a_sentence(tmp_path, built, bundle):
    examples, _ = built
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    with pytest.raises(NeuronExamplesError, match="not a readable safetensors file"):
        read_for(garbage, bundle)
    sha = file_sha256(bundle / "model.safetensors")
    tensors = {"token_ids": examples.token_ids, "values": examples.values}
    missing = tmp_path / "missing.safetensors"
    save_file(tensors, str(missing), metadata={"format": "glassbox-neuron-examples"})
    with pytest.raises(NeuronExamplesError, match="must hold token_ids, values and positions"):
        read_for(missing, bundle)
    tensors["positions"] = examples.positions
    wrong_format = tmp_path / "format.safetensors"
    save_file(tensors, str(wrong_format), metadata={"format": "glassbox-bigram"})
    with pytest.raises(NeuronExamplesError, match="format"):
        read_for(wrong_format, bundle)
    as_floats = tmp_path / "floats.safetensors"
    metadata = {"format": "glassbox-neuron-examples", "weights_sha256": sha}
    metadata.update(before=str(BEFORE), after=str(AFTER))
    save_file({**tensors, "values": examples.values.float()}, str(as_floats), metadata=metadata)
    with pytest.raises(NeuronExamplesError, match="values must be float16"):
        read_for(as_floats, bundle)


def test_a_loaded_model_reads_its_file_lazily_and_explains_a_missing_or_stale_one(tmp_path, built):
    examples, _ = built
    folder = make_bundle(tmp_path / "m", seed=5, config=CONFIG)  # the same weights
    lm = load_model(folder)
    with pytest.raises(NeuronExamplesError, match="ships no neuron examples"):
        lm.neuron_examples()
    save_examples(examples, folder / EXAMPLES_FILE)
    fresh = load_model(folder)
    assert torch.equal(fresh.neuron_examples().values, examples.values)
    other = make_bundle(tmp_path / "other", seed=6, config=CONFIG)  # other weights
    save_examples(examples, other / EXAMPLES_FILE)
    stale = load_model(other)  # the model itself still loads and runs
    assert stale.trace([1, 2, 3], ["mlp_post"]).mlp_post.shape == (2, 3, WIDTH)
    for _ in range(2):  # asked twice, the same sentence
        with pytest.raises(NeuronExamplesError, match="computed from other weights"):
            stale.neuron_examples()


def test_the_bundled_models_file_fits_it_and_its_values_are_its_activations():
    """models/shakespeare ships the file; where the corpus is fetched (`make corpus`), a
    few stored examples are recomputed from the validation text they came from."""
    from inference.data import load_split
    from inference.neuron_examples import SEGMENT_TOKENS, SEGMENTS
    from tests.conftest import REPO

    folder = REPO / "models" / "shakespeare"
    if not (folder / EXAMPLES_FILE).is_file():
        pytest.skip("the bundled model is not in models/shakespeare")
    lm = load_model(folder)
    examples = lm.neuron_examples()  # refused if it did not fit these weights
    assert examples.shape == (lm.config.n_layer, lm.mlp_width, 6)
    assert (folder / EXAMPLES_FILE).stat().st_size < 2_000_000
    assert examples.metadata["sample_tokens"] == str(SEGMENTS * SEGMENT_TOKENS)
    try:
        text = load_split(REPO / "data" / "shakespeare", "val")
    except FileNotFoundError:
        pytest.skip("the corpus is not fetched (make corpus)")
    segments = sample_segments(lm.tokenizer.encode(text), SEGMENTS, SEGMENT_TOKENS)
    for layer, neuron in [(0, 5), (3, 100), (lm.config.n_layer - 1, lm.mlp_width - 1)]:
        for example in examples.examples(layer, neuron)[:2]:
            segment, offset = divmod(example["position"], SEGMENT_TOKENS)
            ids = segments[segment][: offset + 1]
            value = lm.trace(ids, ["mlp_post"], layers=[layer]).mlp_post[0, -1, neuron]
            assert float(value) == pytest.approx(example["value"], abs=0.01, rel=0.005)
            assert example["ids"][example["index"]] == ids[-1]


def test_a_sample_too_short_for_the_examples_is_refused(lm):
    with pytest.raises(NeuronExamplesError, match="fewer than 6 tokens"):
        build_examples(lm.model, [1, 2, 3], weights_sha256="x", sample="three tokens")
