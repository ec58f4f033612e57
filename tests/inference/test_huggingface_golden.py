"""Golden test against Hugging Face transformers: a GPT-2 saved in their format loads as is
and gives the same token ids, logits, attention weights and greedy continuation.

Everything is built here: a byte-level BPE trained with `tokenizers` on a small text and a
small random GPT-2, so the test needs no download.
"""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from inference import load_model  # noqa: E402

SAMPLES = [
    "To be, or not to be",
    "The thousand natural shocks of outrageous fortune",
    "they'll've it's we're I'd 1234567 !!?? \n\n  spaced   out\t",
    "Café naïve — “new” words: Überraschung, 日本語, 🎭",
    "two texts<|endoftext|>joined by the special token",
]


@pytest.fixture(scope="module")
def hf_tokenizer(hf_dir):
    return transformers.GPT2Tokenizer.from_pretrained(str(hf_dir))


@pytest.fixture(scope="module")
def ours(hf_dir):
    return load_model(hf_dir)


def test_the_directory_has_no_pickle_and_loads_as_huggingface(hf_dir, ours):
    assert (hf_dir / "model.safetensors").is_file()
    assert ours.source_format == "huggingface"
    assert ours.tokenizer.kind == "huggingface"


@pytest.mark.parametrize("text", SAMPLES)
def test_token_ids_equal_the_huggingface_tokenizer(ours, hf_tokenizer, text):
    ids = ours.tokenizer.encode(text)
    assert ids == hf_tokenizer.encode(text)
    assert ours.tokenizer.decode(ids) == text


def test_special_tokens_keep_their_huggingface_ids(ours, hf_tokenizer):
    assert ours.tokenizer.eot_id == hf_tokenizer.eos_token_id == 0


@pytest.mark.parametrize("text", SAMPLES[:3])
def test_logits_and_attention_equal_transformers(ours, hf_model, hf_tokenizer, text):
    ids = hf_tokenizer.encode(text)
    with torch.no_grad():
        reference = hf_model(torch.tensor([ids]), output_attentions=True)
    trace = ours.trace(ids)
    torch.testing.assert_close(trace.logits, reference.logits[0], atol=1e-4, rtol=1e-4)
    hf_attention = torch.stack([layer[0] for layer in reference.attentions])
    torch.testing.assert_close(trace.attention, hf_attention, atol=1e-5, rtol=1e-4)


def test_greedy_continuation_equals_transformers_generate(ours, hf_model, hf_tokenizer):
    ids = hf_tokenizer.encode(SAMPLES[0])
    with torch.no_grad():
        reference = hf_model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=30,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=hf_tokenizer.eos_token_id,
        )[0, len(ids) :].tolist()
    steps = ours.generate(ids, max_new_tokens=30, temperature=0, stop_at_end_of_text=False)
    generated = [event.token_id for event in steps if event.type == "step"]
    assert generated == reference


def test_the_original_gpt2_layout_loads_too(hf_dir, ours, tmp_path):
    """OpenAI's GPT-2 files name tensors without `transformer.` and carry mask buffers."""
    import shutil

    from safetensors.torch import load_file, save_file

    old = shutil.copytree(hf_dir, tmp_path / "old-layout")
    tensors = load_file(str(old / "model.safetensors"))
    renamed = {name.removeprefix("transformer."): t for name, t in tensors.items()}
    for layer in range(3):
        renamed[f"h.{layer}.attn.bias"] = torch.tril(torch.ones(1, 1, 64, 64))
    save_file(renamed, str(old / "model.safetensors"))
    ids = ours.tokenizer.encode(SAMPLES[1])
    torch.testing.assert_close(load_model(old).trace(ids).logits, ours.trace(ids).logits)
