"""The model that ships in models/shakespeare: it loads, it is what its card says, it beats
a bigram model on plays it never saw, its greedy output does not drift, and the bigram
table and embedding geometry the lessons quote are what they say."""

from __future__ import annotations

import json

import pytest
import torch

from inference import load_model, validate_checkpoint
from inference.bigram import CARD_BIGRAM_FIGURES, bigram_baseline, table_for_split
from inference.bigram_table import TABLE_FILE
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


needs_corpus = pytest.mark.skipif(
    not (CORPUS_DIR / "val.txt").exists(), reason="run `make corpus` first"
)


@pytest.fixture(scope="module")
def train_text():
    return load_split(CORPUS_DIR, "train")


@needs_corpus
def test_it_beats_a_bigram_model_on_held_out_plays(lm, train_text):
    train_ids = encode_split(lm.tokenizer, train_text)
    val_ids = encode_split(lm.tokenizer, load_split(CORPUS_DIR, "val"))[:16384]
    bigram_loss, _ = bigram_baseline(train_ids, val_ids, lm.config.vocab_size)
    model_loss = evaluate(lm.model, val_ids, lm.config.block_size, len(val_ids), "cpu")
    assert model_loss < bigram_loss - 0.3, (model_loss, bigram_loss)


def test_it_ships_a_small_bigram_table_with_the_card_s_smoothing(lm):
    assert (MODEL_DIR / TABLE_FILE).stat().st_size < 2 * 2**20
    table = lm.bigram
    assert (table.vocab_size, table.kept) == (lm.config.vocab_size, 50)
    loss = lm.card["loss"]
    assert table.alpha == loss["bigram_smoothing_alpha"]
    assert json.loads(table.metadata["card_loss"]) == {k: loss[k] for k in CARD_BIGRAM_FIGURES}
    totals = table.next_probs.float().sum(dim=1) + table.rest
    torch.testing.assert_close(totals, torch.ones(table.vocab_size), atol=1e-3, rtol=0)


@needs_corpus
def test_its_bigram_table_is_the_count_of_the_training_split(lm, train_text):
    ids = encode_split(lm.tokenizer, train_text)
    fresh = table_for_split(
        ids, train_text, lm.config.vocab_size, lm.bigram.alpha, lm.card["loss"], "train.txt"
    )
    for name in ("next_ids", "next_probs", "rest", "row_counts"):
        assert torch.equal(getattr(fresh, name), getattr(lm.bigram, name)), name
    assert fresh.metadata["train_sha256"] == lm.bigram.metadata["train_sha256"]


def test_the_embedding_numbers_the_lessons_quote(lm):
    """SYLLABUS L4, measured: the neighbours of " king", and king − man + woman."""
    space = lm.embedding_space()
    king, man, woman = (lm.tokenizer.encode(word)[0] for word in (" king", " man", " woman"))
    ids, cosines = space.neighbours([king], 3)
    assert lm.tokenizer.decode(ids[0].tolist()) == " prince queen duke"
    assert cosines[0].tolist() == pytest.approx([0.674, 0.662, 0.577], abs=5e-4)
    analogy = space.analogy(king, man, woman, 3)
    assert analogy.with_inputs[0][0] == king  # without exclusion, king itself comes first
    assert lm.tokenizer.decode([i for i, _ in analogy.without_inputs]) == " foe traitor prince"
    assert all(0 < ratio <= 1 for ratio in space.map.explained)
