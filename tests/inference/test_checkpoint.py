"""Bundles save and load exactly; every bad directory gets its own specific error."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from inference import CheckpointError, load_model, validate_checkpoint
from inference.checkpoint import expected_shapes


def test_a_bundle_round_trips(bundle_dir, lm):
    loaded = load_model(bundle_dir)
    ids = lm.tokenizer.encode("the thing")
    torch.testing.assert_close(loaded.trace(ids).logits, lm.trace(ids).logits)
    assert loaded.tokenizer.encode("the thing") == ids
    assert loaded.tokenizer.eot_id == lm.tokenizer.eot_id
    assert loaded.card == {"name": "tiny"}
    assert loaded.source_format == "bundle"


def test_validation_reports_facts_without_loading(bundle_dir, lm):
    info = validate_checkpoint(bundle_dir)
    assert info.source_format == "bundle"
    assert info.config == lm.config
    assert info.parameters == lm.model.num_parameters()
    assert info.n_vocab == 300
    assert info.weights_bytes == (bundle_dir / "model.safetensors").stat().st_size


def test_expected_shapes_match_a_real_model(lm):
    real = {k: tuple(v.shape) for k, v in lm.model.state_dict().items() if k != "lm_head.weight"}
    assert expected_shapes(lm.config) == real


def assert_refused(path, code, message):
    with pytest.raises(CheckpointError, match=message) as caught:
        validate_checkpoint(path)
    assert caught.value.code == code
    with pytest.raises(CheckpointError):
        load_model(path)


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.tiktoken"])
def test_a_missing_file_is_named(bundle_dir, name):
    (bundle_dir / name).unlink()
    assert_refused(bundle_dir, "missing_file", f"{name} is missing")


def test_a_missing_directory(tmp_path):
    assert_refused(tmp_path / "nowhere", "not_found", "no model directory")


@pytest.mark.parametrize("name", ["config.json", "card.json"])
def test_bad_json_is_named(bundle_dir, name):
    (bundle_dir / name).write_text("{ not json")
    assert_refused(bundle_dir, "bad_json", f"{name} is not valid JSON")


def edit_config(bundle_dir, edit):
    config = json.loads((bundle_dir / "config.json").read_text())
    edit(config)
    (bundle_dir / "config.json").write_text(json.dumps(config))


def test_an_impossible_model_config(bundle_dir):
    edit_config(bundle_dir, lambda c: c["model"].update(n_head=5))
    assert_refused(bundle_dir, "bad_config", "divisible by n_head")


def test_an_unsupported_bundle_version(bundle_dir):
    edit_config(bundle_dir, lambda c: c.update(format_version=99))
    assert_refused(bundle_dir, "bad_config", "format_version 99")


def test_a_config_that_is_neither_format(bundle_dir):
    edit_config(bundle_dir, lambda c: c.pop("format"))
    assert_refused(bundle_dir, "unknown_format", "neither")


def test_a_tokenizer_path_outside_the_bundle_is_refused(bundle_dir):
    edit_config(bundle_dir, lambda c: c["tokenizer"].update(file="../../etc/passwd"))
    assert_refused(bundle_dir, "bad_config", "plain file name")


def test_a_tensor_of_the_wrong_shape_is_named(bundle_dir):
    # the config says 64 positions; the weights say 32
    edit_config(bundle_dir, lambda c: c["model"].update(block_size=32))
    assert_refused(bundle_dir, "tensor_mismatch", r"transformer.wpe.weight has shape \[64, 32\]")


def rewrite_weights(bundle_dir, edit):
    tensors = load_file(str(bundle_dir / "model.safetensors"))
    edit(tensors)
    save_file(tensors, str(bundle_dir / "model.safetensors"))


def test_a_missing_tensor_is_named(bundle_dir):
    rewrite_weights(bundle_dir, lambda t: t.pop("transformer.h.1.mlp.c_fc.bias"))
    assert_refused(bundle_dir, "tensor_mismatch", "missing, e.g. transformer.h.1.mlp.c_fc.bias")


def test_an_extra_tensor_is_named(bundle_dir):
    rewrite_weights(bundle_dir, lambda t: t.update({"transformer.h.2.ln_1.weight": torch.ones(32)}))
    assert_refused(bundle_dir, "tensor_mismatch", "do not belong.*transformer.h.2.ln_1.weight")


def test_integer_weights_are_refused(bundle_dir):
    rewrite_weights(
        bundle_dir,
        lambda t: t.update({"transformer.ln_f.bias": torch.zeros(32, dtype=torch.int32)}),
    )
    assert_refused(bundle_dir, "bad_weights", "not a float")


def test_nan_weights_are_refused_at_load(bundle_dir):
    def poison(tensors):
        tensors["transformer.ln_f.bias"][3] = float("nan")

    rewrite_weights(bundle_dir, poison)
    with pytest.raises(CheckpointError, match="NaN") as caught:
        load_model(bundle_dir)
    assert caught.value.code == "bad_weights"


def test_a_corrupt_weights_file_is_refused(bundle_dir):
    (bundle_dir / "model.safetensors").write_bytes(b"\xff" * 64)
    assert_refused(bundle_dir, "bad_weights", "not a readable safetensors file")


def test_a_truncated_weights_file_is_refused(bundle_dir):
    data = (bundle_dir / "model.safetensors").read_bytes()
    (bundle_dir / "model.safetensors").write_bytes(data[: len(data) // 2])
    assert_refused(bundle_dir, "bad_weights", "safetensors")


def test_a_tokenizer_larger_than_the_vocabulary_is_refused(bundle_dir):
    edit_config(bundle_dir, lambda c: c["tokenizer"]["special_tokens"].update({"<|x|>": 300}))
    assert_refused(
        bundle_dir, "tokenizer_mismatch", "ids up to 300 but the model's vocab_size is 300"
    )


def test_a_corrupt_tokenizer_file_is_refused(bundle_dir):
    (bundle_dir / "tokenizer.tiktoken").write_text("garbage\n")
    assert_refused(bundle_dir, "bad_tokenizer", "line 1")


class Exploit:
    """Unpickling this writes a file: proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth", ".pkl"])
def test_pickle_files_are_refused_and_never_unpickled(tmp_path, suffix):
    marker = tmp_path / "pwned"
    payload = tmp_path / f"model{suffix}"
    payload.write_bytes(pickle.dumps(Exploit(marker)))
    assert_refused(payload, "pickle_refused", "pickle")
    assert not marker.exists()


def test_a_directory_with_only_pickle_weights_is_refused(bundle_dir, tmp_path):
    marker = tmp_path / "pwned"
    (bundle_dir / "model.safetensors").unlink()
    (bundle_dir / "pytorch_model.bin").write_bytes(pickle.dumps(Exploit(marker)))
    assert_refused(bundle_dir, "pickle_refused", "pytorch_model.bin")
    assert not marker.exists()


def test_a_copied_bundle_loads_under_its_own_name(bundle_dir, tmp_path):
    copy = shutil.copytree(bundle_dir, tmp_path / "renamed")
    assert load_model(copy).name == "renamed"
