"""The model that ships in models/shakespeare: it loads, it is what its card says, it beats
a bigram model on plays it never saw, and its greedy output does not drift."""

from __future__ import annotations

import pytest
import torch

from inference import load_model, validate_checkpoint
from inference.bigram import bigram_baseline
from inference.data import load_split
from inference.train import encode_split, evaluate
from tests.environment import REPO

from .test_tokenizer import UNICODE_SAMPLES

MODEL_DIR = REPO / "models" / "shakespeare"
CORPUS_DIR = REPO / "data" / "shakespeare"
GOLDEN_PROMPT = "KING.\nWhat news from France?\n\n"
GOLDEN_IDS = [10, 874, 292, 46, 423, 2789, 304, 267, 3450, 46, 10, 10]
GOLDEN_IDS += [91, 514, 32, 1254, 290, 32, 1282, 44, 290, 395, 3614, 3081]
# "\nSCENE I. A Room in the Castle.\n\n[Enter QUEEN and ANTONY, and CATESBY"

pytestmark = pytest.mark.skipif(
    not (MODEL_DIR / "model.safetensors").exists(), reason="models/shakespeare is not built"
)


@pytest.fixture(scope="module")
def lm():
    torch.set_num_threads(1)
    return load_model(MODEL_DIR)


def test_the_bundle_is_valid_and_small():
    info = validate_checkpoint(MODEL_DIR)
    assert info.source_format == "bundle"
    size = sum(f.stat().st_size for f in MODEL_DIR.iterdir())
    assert size < 25 * 2**20
    assert info.config.block_size >= 256


def test_the_card_tells_the_truth(lm):
    card = lm.card
    assert card["parameters"] == lm.model.num_parameters()
    assert card["config"] == lm.config.to_dict()
    assert card["tokenizer"]["vocab_size"] == lm.tokenizer.n_vocab == lm.config.vocab_size
    loss = card["loss"]
    assert loss["final_val_loss"] < loss["bigram_val_loss"]
    assert len(card["samples"]) == 3
    assert set(card["data"]["val_plays"]).isdisjoint(card["data"]["train_plays"])
    assert (MODEL_DIR / "README.md").is_file()


@pytest.mark.parametrize("text", UNICODE_SAMPLES)
def test_its_tokenizer_round_trips_any_text(lm, text):
    assert lm.tokenizer.decode(lm.tokenizer.encode(text)) == text


def test_greedy_continuation_is_stable(lm):
    ids = lm.tokenizer.encode(GOLDEN_PROMPT)
    events = lm.generate(ids, max_new_tokens=len(GOLDEN_IDS), temperature=0)
    generated = [event.token_id for event in events if event.type == "step"]
    assert generated == GOLDEN_IDS, lm.tokenizer.decode(generated)


@pytest.mark.skipif(not (CORPUS_DIR / "val.txt").exists(), reason="run `make corpus` first")
def test_it_beats_a_bigram_model_on_held_out_plays(lm):
    train_ids = encode_split(lm.tokenizer, load_split(CORPUS_DIR, "train"))
    val_ids = encode_split(lm.tokenizer, load_split(CORPUS_DIR, "val"))[:16384]
    bigram_loss, _ = bigram_baseline(train_ids, val_ids, lm.config.vocab_size)
    model_loss = evaluate(lm.model, val_ids, lm.config.block_size, len(val_ids), "cpu")
    assert model_loss < bigram_loss - 0.3, (model_loss, bigram_loss)
