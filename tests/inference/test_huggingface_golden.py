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

TRAINING_TEXT = [
    "To be, or not to be, that is the question:",
    "Whether 'tis nobler in the mind to suffer",
    "The slings and arrows of outrageous fortune,",
    "Or to take arms against a sea of troubles",
    "And by opposing end them. To die—to sleep,",
    "No more; and by a sleep to say we end",
    "The heart-ache and the thousand natural shocks",
    "That flesh is heir to: 'tis a consummation",
    "Café, naïve, façade — “quotes” and 12,345 numbers.",
] * 20

SAMPLES = [
    "To be, or not to be",
    "The thousand natural shocks of outrageous fortune",
    "they'll've it's we're I'd 1234567 !!?? \n\n  spaced   out\t",
    "Café naïve — “new” words: Überraschung, 日本語, 🎭",
    "two texts<|endoftext|>joined by the special token",
]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("hf-gpt2")
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        TRAINING_TEXT, vocab_size=420, min_frequency=2, special_tokens=["<|endoftext|>"]
    )
    bpe.save_model(str(path))
    hf_tokenizer = transformers.GPT2Tokenizer.from_pretrained(str(path))
    config = transformers.GPT2Config(
        vocab_size=len(hf_tokenizer),
        n_positions=64,
        n_embd=48,
        n_layer=3,
        n_head=4,
        activation_function="gelu_new",
        bos_token_id=hf_tokenizer.eos_token_id,
        eos_token_id=hf_tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    # random init leaves biases and LayerNorm at 0/1; perturb them so they are tested too
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                param.add_(torch.randn_like(param) * 0.1)
    model.save_pretrained(str(path), safe_serialization=True)
    return path


@pytest.fixture(scope="module")
def hf_model(hf_dir):
    model = transformers.GPT2LMHeadModel.from_pretrained(str(hf_dir), attn_implementation="eager")
    return model.eval()


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
