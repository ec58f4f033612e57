"""Small model folders made on the spot: a Glassbox bundle, a Hugging Face GPT-2 folder, zips."""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from inference import GPT, GPTConfig, Tokenizer, save_bundle

TINY = GPTConfig(vocab_size=257, block_size=32, n_layer=1, n_head=2, n_embd=16)


def byte_tokenizer() -> Tokenizer:
    return Tokenizer.from_ranks({bytes([b]): b for b in range(256)}, {"<|endoftext|>": 256})


def make_bundle(path: Path, seed: int = 0, config: GPTConfig = TINY) -> Path:
    torch.manual_seed(seed)
    return save_bundle(path, GPT(config), byte_tokenizer(), card={"description": "a test model"})


def make_hf_folder(path: Path, seed: int = 0) -> Path:
    """A small random GPT-2 in Hugging Face's format, with a BPE trained on a few lines."""
    import tokenizers
    import transformers

    path.mkdir(parents=True, exist_ok=True)
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        ["To be, or not to be, that is the question."] * 20,
        vocab_size=300,
        min_frequency=2,
        special_tokens=["<|endoftext|>"],
    )
    bpe.save_model(str(path))
    vocab_size = bpe.get_vocab_size()
    config = transformers.GPT2Config(
        vocab_size=vocab_size,
        n_positions=32,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(seed)
    transformers.GPT2LMHeadModel(config).save_pretrained(str(path), safe_serialization=True)
    for extra in path.glob("generation_config.json"):
        extra.unlink()
    return path


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zipped.write(file, prefix + file.relative_to(folder).as_posix())
    return archive
