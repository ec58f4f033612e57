"""The course as the pages see it: lessons rendered for one model, and the glossary.

Rendering is cached per file version and per set of facts, so a page view after the first
costs a dictionary lookup, and editing a lesson file shows on the next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .content_files import LessonFile, LessonFileError, all_lessons, content_dir
from .rendering import Rendered, render_inline, render_markdown

GLOSSARY_FILE = "glossary.yaml"
UNKNOWN_FACTS = [
    "model_name",
    "n_layer",
    "n_head",
    "n_embd",
    "head_size",
    "sqrt_head_size",
    "mlp_width",
    "vocab_size",
    "n_special",
    "n_merges",
    "block_size",
    "parameters",
    "parameters_short",
    "wte_shape",
    "wpe_shape",
    "attn_layer_params",
    "mlp_layer_params",
    "val_loss",
    "bigram_loss",
    "chars_per_token",
    "train_curve",
    "val_curve",
    "train_steps",
    "tokens_seen",
    "train_minutes",
]


def no_model_facts() -> dict[str, Any]:
    """Facts when no model is registered: every number reads 'unknown', nothing breaks."""
    return dict.fromkeys(UNKNOWN_FACTS)


@dataclass(frozen=True)
class RenderedQuestion:
    ask: str
    choices: tuple[str, ...]
    answer: int
    explanation: str


@dataclass(frozen=True)
class LessonPage:
    lesson: LessonFile
    goal: str
    body: Rendered
    questions: tuple[RenderedQuestion, ...]
    activity_body: str


def _facts_key(facts: dict[str, Any]) -> tuple:
    return tuple(sorted(facts.items()))


@lru_cache(maxsize=256)
def _render(lesson: LessonFile, facts_key: tuple) -> LessonPage:
    facts = dict(facts_key)
    questions = tuple(
        RenderedQuestion(
            ask=render_inline(q.ask, facts),
            choices=tuple(render_inline(c, facts) for c in q.choices),
            answer=q.answer,
            explanation=render_markdown(q.explanation, facts).html,
        )
        for q in lesson.questions
    )
    return LessonPage(
        lesson=lesson,
        goal=render_inline(lesson.goal, facts),
        body=render_markdown(lesson.body, facts),
        questions=questions,
        activity_body=render_markdown(lesson.activity.body, facts).html,
    )


def render_lesson(lesson: LessonFile, facts: dict[str, Any]) -> LessonPage:
    """The lesson for these facts; the widgets it embeds must be the ones it declares."""
    page = _render(lesson, _facts_key(facts))
    if page.body.widgets != lesson.widgets:
        raise LessonFileError(
            f"{lesson.path.name}: the body embeds {list(page.body.widgets)} "
            f"but the front matter lists {list(lesson.widgets)}"
        )
    return page


def course_summaries(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """What the course page lists: number, slug, title, goal (HTML), minutes."""
    return [
        {
            "number": lesson.number,
            "slug": lesson.slug,
            "title": lesson.title,
            "goal": render_inline(lesson.goal, facts),
            "minutes": lesson.minutes,
        }
        for lesson in all_lessons()
    ]


def neighbours(slug: str) -> tuple[LessonFile | None, LessonFile | None, LessonFile | None]:
    """(previous, this, next) lesson for a slug; this is None for an unknown slug."""
    lessons = all_lessons()
    for index, lesson in enumerate(lessons):
        if lesson.slug == slug:
            previous = lessons[index - 1] if index > 0 else None
            following = lessons[index + 1] if index + 1 < len(lessons) else None
            return previous, lesson, following
    return None, None, None


def glossary(facts: dict[str, Any], directory: Path | None = None) -> list[dict[str, Any]]:
    """Every glossary term, alphabetical, with its definition and the lesson that teaches it."""
    directory = directory or content_dir()
    path = directory / GLOSSARY_FILE
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    lessons = {lesson.slug: lesson for lesson in all_lessons(directory)}
    terms = []
    for entry in entries:
        lesson = lessons.get(entry.get("lesson"))
        if lesson is None or not entry.get("term") or not entry.get("definition"):
            raise LessonFileError(
                f"{GLOSSARY_FILE}: entry {entry!r} needs term, definition and a known lesson"
            )
        terms.append(
            {
                "term": str(entry["term"]),
                "definition": render_inline(str(entry["definition"]), facts),
                "lesson": lesson,
            }
        )
    return sorted(terms, key=lambda t: t["term"].lower())
