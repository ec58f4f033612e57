"""Small seeded models and tokenizers shared by the engine tests."""

from __future__ import annotations

import pytest
import torch

from inference import GPT, GPTConfig, LanguageModel, Tokenizer, save_bundle

# A few hand-picked merges on top of the 256 bytes: enough to make multi-byte tokens.
EXTRA_TOKENS = [b"th", b"the", b" the", b"in", b"ing", b"\xe2\x80", b"\xc3\xa9"]
EOT_ID = 299


def small_ranks() -> dict[bytes, int]:
    ranks = {bytes([b]): b for b in range(256)}
    for token in EXTRA_TOKENS:
        ranks[token] = len(ranks)
    return ranks


@pytest.fixture
def tokenizer() -> Tokenizer:
    return Tokenizer.from_ranks(small_ranks(), {"<|endoftext|>": EOT_ID}, name="tiny")


@pytest.fixture
def config() -> GPTConfig:
    return GPTConfig(vocab_size=300, block_size=64, n_layer=2, n_head=4, n_embd=32)


@pytest.fixture
def model(config: GPTConfig) -> GPT:
    torch.manual_seed(1234)
    return GPT(config).eval()


@pytest.fixture
def lm(model: GPT, tokenizer: Tokenizer) -> LanguageModel:
    return LanguageModel(model=model, tokenizer=tokenizer, name="tiny")


@pytest.fixture
def bundle_dir(tmp_path, model: GPT, tokenizer: Tokenizer):
    return save_bundle(tmp_path / "tiny-bundle", model, tokenizer, card={"name": "tiny"})


# The random Hugging Face GPT-2 of hf_reference.py, for the tests that compare with
# transformers (each of them skips itself when transformers is not installed).
@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    from .hf_reference import build_hf_gpt2

    return build_hf_gpt2(tmp_path_factory.mktemp("hf-gpt2"))


@pytest.fixture(scope="module")
def hf_model(hf_dir):
    from .hf_reference import load_hf_gpt2

    return load_hf_gpt2(hf_dir)
