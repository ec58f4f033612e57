"""The bigram table a model folder may ship: built from counts, written with safetensors,
checked against the vocabulary, exported from a corpus exactly as the baseline counts it."""

from __future__ import annotations

import json

import pytest
import torch

from inference import BigramTableError, CheckpointError, load_model, validate_checkpoint
from inference.bigram import bigram_counts, main
from inference.bigram_table import (
    TABLE_FILE,
    bigram_table,
    read_bigram_table,
    save_bigram_table,
)
from tests.factories import TINY, make_bundle

ALPHA = 0.1
TRAIN_TEXT = "To be, or not to be, that is the question.\n" * 30 + "Whether 'tis nobler\n"


def smoothed(counts: torch.Tensor, alpha: float) -> torch.Tensor:
    """The dense add-alpha distribution, row by row, as bigram_loss computes it."""
    counts = counts.double()
    return (counts + alpha) / (counts.sum(dim=1, keepdim=True) + alpha * counts.size(1))


def assert_rows_are_the_smoothed_model(table, counts: torch.Tensor, alpha: float) -> None:
    dense = smoothed(counts, alpha)
    stored = table.next_probs.double()
    torch.testing.assert_close(stored, dense.gather(1, table.next_ids.long()), rtol=1e-3, atol=0)
    # the kept successors are the most likely ones: nothing left out beats the last kept
    left_out = dense.scatter(1, table.next_ids.long(), -1.0)
    assert (left_out.amax(dim=1) <= dense.gather(1, table.next_ids.long())[:, -1] + 1e-12).all()
    # the rest is the mass of every other token, exactly
    kept_mass = dense.gather(1, table.next_ids.long()).sum(dim=1)
    torch.testing.assert_close(table.rest.double(), 1 - kept_mass, atol=1e-6, rtol=0)
    torch.testing.assert_close(table.row_counts.long(), counts.sum(dim=1).long(), atol=0, rtol=0)


def test_rows_hold_the_top_smoothed_probabilities_and_sum_to_one_with_the_rest():
    ids = torch.tensor([0, 1, 2, 1, 2, 1, 3, 1, 2, 0, 4, 4, 4, 1])
    counts = bigram_counts(ids, 8)
    table = bigram_table(counts, alpha=ALPHA, keep=3)
    assert table.next_ids.shape == table.next_probs.shape == (8, 3)
    assert (table.next_ids.dtype, table.next_probs.dtype) == (torch.int32, torch.float16)
    assert_rows_are_the_smoothed_model(table, counts, ALPHA)
    totals = table.next_probs.float().sum(dim=1) + table.rest
    torch.testing.assert_close(totals, torch.ones(8), atol=1e-3, rtol=0)
    assert table.next_ids[1].tolist() == [2, 3, 0]  # after 1: 2 three times, then ties by id
    # token 7 never occurs: its row is uniform, the smaller ids first
    assert table.row_counts[7] == 0 and table.next_ids[7].tolist() == [0, 1, 2]
    assert table.next_probs[7].float().tolist() == pytest.approx([1 / 8] * 3, rel=1e-3)


def test_after_gives_the_top_k_and_the_mass_of_all_the_others():
    table = bigram_table(bigram_counts(torch.tensor([0, 1, 0, 1, 0, 2]), 4), alpha=ALPHA)
    ids, probs, rest = table.after(0, 2)
    assert ids == [1, 2]
    assert float(probs.sum()) + rest == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(BigramTableError):
        table.after(4, 2)


def test_it_round_trips_through_safetensors(tmp_path):
    table = bigram_table(bigram_counts(torch.arange(50) % 7, 9), ALPHA, 4, {"source": "here"})
    path = save_bigram_table(table, tmp_path / TABLE_FILE)
    again = read_bigram_table(path, 9)
    for name in ("next_ids", "next_probs", "rest", "row_counts"):
        assert torch.equal(getattr(again, name), getattr(table, name)), name
    assert again.alpha == ALPHA and again.metadata["source"] == "here"
    assert not path.read_bytes().startswith(b"\x80")  # safetensors, not a pickle


def test_a_table_for_another_vocabulary_is_refused(tmp_path):
    table = bigram_table(bigram_counts(torch.arange(50) % 7, 9), ALPHA, 4)
    path = save_bigram_table(table, tmp_path / TABLE_FILE)
    with pytest.raises(BigramTableError, match=r"next_ids is I32 \[9, 4\].*vocabulary 10"):
        read_bigram_table(path, 10)


@pytest.fixture
def corpus_and_bundle(tmp_path):
    data = tmp_path / "corpus"
    data.mkdir()
    (data / "train.txt").write_text(TRAIN_TEXT, encoding="utf-8")
    (data / "val.txt").write_text("Not to be counted.", encoding="utf-8")
    bundle = make_bundle(tmp_path / "m")
    card = {"loss": {"bigram_val_loss": 2.5, "bigram_smoothing_alpha": 0.03}}
    (bundle / "card.json").write_text(json.dumps(card), encoding="utf-8")
    return data, bundle


def test_the_export_counts_the_training_split_as_the_baseline_does(corpus_and_bundle, capsys):
    data, bundle = corpus_and_bundle
    assert main(["export", "--data", str(data), "--out", str(bundle / TABLE_FILE)]) == 0
    assert "257 tokens x 50 successors" in capsys.readouterr().out
    lm = load_model(bundle)
    table = lm.bigram
    assert table.alpha == 0.03  # the card's smoothing
    counts = bigram_counts(torch.tensor(lm.tokenizer.encode(TRAIN_TEXT)), TINY.vocab_size)
    assert_rows_are_the_smoothed_model(table, counts, 0.03)
    assert json.loads(table.metadata["card_loss"]) == {
        "bigram_val_loss": 2.5,
        "bigram_smoothing_alpha": 0.03,
    }
    assert table.metadata["train_tokens"] == str(len(TRAIN_TEXT))  # one byte, one token


def test_a_model_without_a_table_is_complete_and_one_with_a_bad_table_is_refused(tmp_path):
    bundle = make_bundle(tmp_path / "m")
    validate_checkpoint(bundle)
    assert load_model(bundle).bigram is None
    wrong = bigram_table(bigram_counts(torch.arange(40) % 5, 100), ALPHA, 5)
    save_bigram_table(wrong, bundle / TABLE_FILE)
    with pytest.raises(CheckpointError) as refused:
        validate_checkpoint(bundle)
    assert refused.value.code == "bad_bigram" and "vocabulary 257" in str(refused.value)
    (bundle / TABLE_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError) as unreadable:
        load_model(bundle)
    assert unreadable.value.code == "bad_bigram"
