"""Lesson 13's excerpt is cut from the corpus between two headings, or refused in words."""

from __future__ import annotations

import pytest

from inference.excerpts import FORUM_SCENE, Excerpt, ExcerptMissing
from tests.conftest import REPO

CORPUS_DIR = REPO / "data" / "shakespeare"  # make test fetches it (make corpus)

SCENE = Excerpt(name="test", split="train", starts_with="SCENE 2.", ends_before="SCENE 3.")


def write_corpus(folder, text: str):
    (folder / "train.txt").write_text(text, encoding="utf-8")
    return folder


def test_it_cuts_from_its_heading_to_the_next_one(tmp_path):
    corpus = write_corpus(tmp_path, "SCENE 1.\nA.\n\nSCENE 2.\nB says hi.\n\n\nSCENE 3.\nC.\n")
    assert SCENE.read(corpus) == "SCENE 2.\nB says hi.\n"


def test_without_a_corpus_it_says_how_to_fetch_one(tmp_path):
    with pytest.raises(ExcerptMissing, match="make corpus"):
        SCENE.read(tmp_path)


@pytest.mark.parametrize(
    "text",
    ["SCENE 1.\nno second scene\n", "SCENE 2.\nx\nSCENE 2.\ny\nSCENE 3.\n", "SCENE 2.\nno end\n"],
)
def test_a_corpus_without_exactly_one_passage_is_refused(tmp_path, text):
    with pytest.raises(ExcerptMissing):
        SCENE.read(write_corpus(tmp_path, text))


@pytest.mark.skipif(not (CORPUS_DIR / "train.txt").exists(), reason="run `make corpus` first")
def test_the_forum_scene_is_cut_from_the_real_corpus():
    text = FORUM_SCENE.read(CORPUS_DIR)
    assert text.startswith("SCENE II. The same. The Forum.")
    assert "Friends, Romans, countrymen" in text
    assert "SCENE III" not in text
