"""Lesson files on disk: front matter read and checked, the Markdown body kept as text.

A lesson is `content/NN-slug.md`; its YAML front matter says what the course page and
the lesson page need (docs/lessons.md). Files are re-read only when they change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONTENT_DIR = Path(__file__).resolve().parent / "content"
FILE_NAME = re.compile(r"^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)\.md$")
WIDGET_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED = ("number", "slug", "title", "goal", "minutes", "widgets", "questions", "activity")


class LessonFileError(ValueError):
    """A lesson file that does not follow docs/lessons.md."""


@dataclass(frozen=True)
class Question:
    ask: str
    choices: tuple[str, ...]
    answer: int
    explanation: str


@dataclass(frozen=True)
class Activity:
    title: str
    minutes: int
    body: str


@dataclass(frozen=True)
class LessonFile:
    path: Path
    number: int
    slug: str
    title: str
    goal: str
    minutes: int
    widgets: tuple[str, ...]
    questions: tuple[Question, ...]
    activity: Activity
    body: str
    mtime_ns: int = field(compare=False, default=0)


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    if not text.startswith("---\n"):
        raise LessonFileError(f"{path.name}: the file must start with a --- front matter line")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise LessonFileError(f"{path.name}: the front matter has no closing --- line")
    try:
        meta = yaml.safe_load(text[4:end])
    except yaml.YAMLError as error:
        raise LessonFileError(f"{path.name}: invalid YAML in the front matter: {error}") from error
    if not isinstance(meta, dict):
        raise LessonFileError(f"{path.name}: the front matter must be a mapping")
    return meta, text[end + 5 :]


def _question(raw: Any, where: str) -> Question:
    if not isinstance(raw, dict) or set(raw) != {"ask", "choices", "answer", "explanation"}:
        raise LessonFileError(f"{where}: a question has exactly ask, choices, answer, explanation")
    choices = raw["choices"]
    if not isinstance(choices, list) or not 2 <= len(choices) <= 6:
        raise LessonFileError(f"{where}: a question needs 2 to 6 choices")
    answer = raw["answer"]
    if not isinstance(answer, int) or not 0 <= answer < len(choices):
        raise LessonFileError(f"{where}: answer must index one of the {len(choices)} choices")
    return Question(
        str(raw["ask"]), tuple(str(c) for c in choices), answer, str(raw["explanation"])
    )


def parse_lesson(path: Path) -> LessonFile:
    """The lesson in `path`, checked against docs/lessons.md."""
    match = FILE_NAME.match(path.name)
    if not match:
        raise LessonFileError(f"{path.name}: lesson files are named NN-slug.md")
    meta, body = split_front_matter(path.read_text(encoding="utf-8"), path)
    missing = [key for key in REQUIRED if key not in meta]
    if missing:
        raise LessonFileError(f"{path.name}: the front matter lacks {', '.join(missing)}")
    if meta["slug"] != match.group(2) or meta["number"] != int(match.group(1)):
        raise LessonFileError(f"{path.name}: number and slug must match the file name")
    widgets = meta["widgets"] or []
    if not isinstance(widgets, list) or not all(WIDGET_NAME.match(str(w)) for w in widgets):
        raise LessonFileError(f"{path.name}: widgets is a list of lower-case names")
    questions = tuple(_question(q, path.name) for q in meta["questions"] or [])
    activity = meta["activity"]
    if not isinstance(activity, dict) or not {"title", "minutes", "body"} <= set(activity):
        raise LessonFileError(f"{path.name}: activity needs title, minutes and body")
    return LessonFile(
        path=path,
        number=int(meta["number"]),
        slug=str(meta["slug"]),
        title=str(meta["title"]),
        goal=str(meta["goal"]),
        minutes=int(meta["minutes"]),
        widgets=tuple(str(w) for w in widgets),
        questions=questions,
        activity=Activity(str(activity["title"]), int(activity["minutes"]), str(activity["body"])),
        body=body,
        mtime_ns=path.stat().st_mtime_ns,
    )


_parsed: dict[Path, LessonFile] = {}


def load_lesson(path: Path) -> LessonFile:
    """The parsed file, re-read only when its modification time changed."""
    cached = _parsed.get(path)
    if cached is None or cached.mtime_ns != path.stat().st_mtime_ns:
        cached = _parsed[path] = parse_lesson(path)
    return cached


def content_dir() -> Path:
    """Where the lessons are: the app's content folder (tests point it elsewhere)."""
    return CONTENT_DIR


def all_lessons(directory: Path | None = None) -> list[LessonFile]:
    """Every lesson, in course order; two lessons with one number is an error."""
    directory = directory or content_dir()
    lessons = sorted((load_lesson(p) for p in directory.glob("*.md")), key=lambda l: l.number)
    numbers = [lesson.number for lesson in lessons]
    if len(set(numbers)) != len(numbers):
        raise LessonFileError("two lesson files share a number")
    return lessons
