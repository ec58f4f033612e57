"""Builders shared by the tests that compare the engine with Hugging Face transformers:
a byte-level BPE trained offline on a small text and a small random GPT-2 saved in the
Hugging Face layout, so no test needs a download."""

from __future__ import annotations

from pathlib import Path

import torch

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

N_LAYER = 3
N_HEAD = 4
N_EMBD = 48
N_POSITIONS = 64


def build_hf_gpt2(path: Path) -> Path:
    """Train a tokenizer and save a random GPT-2 (perturbed biases and norms) at `path`."""
    import tokenizers
    import transformers

    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        TRAINING_TEXT, vocab_size=420, min_frequency=2, special_tokens=["<|endoftext|>"]
    )
    bpe.save_model(str(path))
    hf_tokenizer = transformers.GPT2Tokenizer.from_pretrained(str(path))
    config = transformers.GPT2Config(
        vocab_size=len(hf_tokenizer),
        n_positions=N_POSITIONS,
        n_embd=N_EMBD,
        n_layer=N_LAYER,
        n_head=N_HEAD,
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


def load_hf_gpt2(path: Path):
    """The saved model in transformers, with the eager attention that shows its weights."""
    import transformers

    model = transformers.GPT2LMHeadModel.from_pretrained(str(path), attn_implementation="eager")
    return model.eval()
