"""The lesson pages: every lesson renders real MathML with the loaded model's numbers,
the course lists them in order, and a broken lesson fails here rather than in class."""

from __future__ import annotations

import re

import pytest

from tests.webapp.conftest import ready_record
from webapp.lessons import content_files
from webapp.lessons.content_files import LessonFileError, all_lessons, parse_lesson
from webapp.lessons.course import no_model_facts
from webapp.lessons.facts import model_facts
from webapp.lessons.rendering import RenderError, render_markdown

pytestmark = pytest.mark.django_db

# Numbers that describe the bundled model: typed into a lesson, they would be wrong for
# any other model, so a page rendered for a tiny model must not contain them.
BUNDLED_NUMBERS = ["3,505,152", "3505152", "4,096", "3,839", "5.657", "148,224", "4.160", "4.769"]
TINY = dict(n_layer=2, n_head=4, n_embd=32, block_size=64, vocab_size=300, parameters=1000)

LESSON = """\
---
number: {number}
slug: {slug}
title: "A lesson about {slug}"
goal: "Learn that $d_k = {{{{head_size}}}}$."
minutes: 10
widgets: [next-token]
questions:
  - ask: "How many layers?"
    choices: ["{{{{n_layer}}}}", "none"]
    answer: 0
    explanation: "It has {{{{n_layer}}}} blocks."
activity:
  title: "Count the layers"
  minutes: 5
  body: "1. Count to {{{{n_layer}}}}."
---
## First part

This model has {{{{n_layer}}}} layers of width {{{{n_embd}}}},
so $\\sqrt{{d_k}} = {{{{sqrt_head_size}}}}$.

$$\\frac{{QK^T}}{{\\sqrt{{ {{{{head_size}}}} }}}}$$

[[widget next-token]]

## Second part

{body}
"""


def write_lesson(folder, number, slug, body="More text."):
    path = folder / f"{number:02d}-{slug}.md"
    path.write_text(LESSON.format(number=number, slug=slug, body=body), encoding="utf-8")
    return path


@pytest.fixture
def lesson_dir(tmp_path, monkeypatch):
    """A private lessons folder in place of the app's content."""
    folder = tmp_path / "lessons"
    folder.mkdir()
    monkeypatch.setattr(content_files, "content_dir", lambda: folder)
    return folder


def text_of(response) -> str:
    return response.content.decode()


def outside_math(page: str) -> str:
    return re.sub(r"<math.*?</math>", "", page, flags=re.S)


# -- the real lessons ------------------------------------------------------------------------
def test_every_lesson_renders_math_widgets_and_no_leftover_latex(client):
    ready_record("shakespeare", is_default=True)
    lessons = all_lessons()
    assert lessons, "no lesson files in webapp/lessons/content/"
    for lesson in lessons:
        response = client.get(f"/lessons/{lesson.slug}/")
        assert response.status_code == 200, lesson.slug
        page = text_of(response)
        assert "<math" in page, f"{lesson.slug} has no MathML"
        prose = outside_math(page)
        assert not re.search(r"\\(frac|sqrt|sum|cdot|mathbb|begin)\b", prose), lesson.slug
        assert "$$" not in prose and "{{" not in prose, lesson.slug
        # a formula the parser did not take as math stays between dollar signs
        unparsed = re.search(r"\$[^$\s<][^$\n<]*\$", prose)
        assert not unparsed, f"{lesson.slug}: {unparsed.group(0)!r} was not rendered as math"
        for widget in lesson.widgets:
            assert f'data-widget="{widget}"' in page, f"{lesson.slug} lacks widget {widget}"
        assert len(re.findall(r'<form class="question"', page)) == len(lesson.questions)
        assert 'id="instructors"' in page


def test_draft_lessons_parse_and_render_too():
    """Drafts (lessons waiting for their widget) are held to the same rules, but not served."""
    drafts = sorted((content_files.CONTENT_DIR.parent / "drafts").glob("*.md"))
    served = {lesson.number for lesson in all_lessons()}
    for path in drafts:
        lesson = parse_lesson(path)
        assert lesson.number not in served, f"{path.name} has the number of a served lesson"
        rendered = render_markdown(lesson.body, no_model_facts())
        assert rendered.widgets == lesson.widgets, path.name


def test_the_course_lists_every_lesson_in_order(client):
    ready_record("shakespeare", is_default=True)
    page = text_of(client.get("/lessons/"))
    slugs = re.findall(r'<li class="course-item" data-slug="([a-z0-9-]+)"', page)
    assert slugs == [lesson.slug for lesson in all_lessons()]
    numbers = [lesson.number for lesson in all_lessons()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_no_lesson_types_in_a_number_of_the_bundled_model(client):
    """Rendered for a tiny model, no page may still quote the bundled model's numbers."""
    ready_record("tiny", is_default=True, **TINY)
    for lesson in all_lessons():
        prose = outside_math(text_of(client.get(f"/lessons/{lesson.slug}/?model=tiny")))
        found = [number for number in BUNDLED_NUMBERS if number in prose]
        assert not found, f"{lesson.slug} types {found}: use a {{{{fact}}}} instead"


def test_the_glossary_links_every_term_to_its_lesson(client):
    ready_record("shakespeare", is_default=True)
    page = text_of(client.get("/lessons/glossary/"))
    links = re.findall(r'class="glossary-lesson" href="/lessons/([a-z0-9-]+)/', page)
    assert links, "the glossary is empty"
    assert set(links) <= {lesson.slug for lesson in all_lessons()}


# -- facts come from the model on the page ---------------------------------------------------
def test_the_numbers_follow_the_chosen_model(client, lesson_dir):
    write_lesson(lesson_dir, 1, "alpha")
    ready_record("small", is_default=True, **{**TINY, "n_layer": 3})
    ready_record("wide", **{**TINY, "n_layer": 7, "n_embd": 64})
    small = text_of(client.get("/lessons/alpha/"))
    wide = text_of(client.get("/lessons/alpha/?model=wide"))
    assert "This model has 3 layers of width 32" in small
    assert "This model has 7 layers of width 64" in wide
    assert "<mn>8</mn>" in small and "<mn>16</mn>" in wide  # head size inside the formula
    assert "Count to 7." in wide  # the instructor box too


def test_an_unknown_model_falls_back_to_the_default(client, lesson_dir):
    write_lesson(lesson_dir, 1, "alpha")
    ready_record("small", is_default=True, **{**TINY, "n_layer": 3})
    assert "This model has 3 layers" in text_of(client.get("/lessons/alpha/?model=nope"))


def test_without_a_model_the_page_still_reads(client, lesson_dir):
    write_lesson(lesson_dir, 1, "alpha")
    page = text_of(client.get("/lessons/alpha/"))
    assert "This model has unknown layers" in page
    assert "No model is installed yet" in page


def test_bundled_model_facts_come_from_its_record_and_card():
    record = ready_record(
        "shakespeare",
        n_layer=6,
        n_head=6,
        n_embd=192,
        block_size=256,
        vocab_size=4096,
        parameters=3505152,
    )
    card = {
        "tokenizer": {"special_tokens": {"<|endoftext|>": 4095}, "chars_per_token_train": 3.053},
        "loss": {"final_val_loss": 4.1598, "bigram_val_loss": 4.7694},
    }
    facts = model_facts(record, card)
    assert facts["head_size"] == 32 and facts["mlp_width"] == 768
    assert facts["n_merges"] == 3839 and facts["sqrt_head_size"] == 5.657
    assert facts["attn_layer_params"] == 148224 and facts["mlp_layer_params"] == 295872
    assert facts["parameters_short"] == "3.5 million" and facts["val_loss"] == 4.1598


# -- the course page and navigation ----------------------------------------------------------
def test_pager_and_course_order(client, lesson_dir):
    for number, slug in ((2, "beta"), (1, "alpha"), (3, "gamma")):
        write_lesson(lesson_dir, number, slug)
    ready_record("small", is_default=True, **TINY)
    page = text_of(client.get("/lessons/beta/"))
    assert 'rel="prev" href="/lessons/alpha/?model=small"' in page
    assert 'rel="next" href="/lessons/gamma/?model=small"' in page
    course = text_of(client.get("/lessons/"))
    assert re.findall(r'data-slug="([a-z]+)"', course) == ["alpha", "beta", "gamma"]
    contents = re.findall(r'<li><a href="#([a-z-]+)">', page)
    assert contents[:2] == ["first-part", "second-part"]


def test_an_unknown_lesson_is_404(client, lesson_dir):
    assert client.get("/lessons/no-such-thing/").status_code == 404


def test_home_and_navigation_lead_to_the_lessons(client):
    page = text_of(client.get("/"))
    assert 'href="/lessons/"' in page


# -- a broken lesson fails here --------------------------------------------------------------
def test_a_broken_formula_is_an_error():
    with pytest.raises(RenderError, match="frac"):
        render_markdown("Look: $\\frac{1}{$ here.", {})


def test_an_unknown_fact_is_an_error():
    with pytest.raises(RenderError, match="n_layers"):
        render_markdown("It has {{n_layers}} layers.", {"n_layer": 2})


def test_a_widget_missing_from_the_front_matter_is_an_error(client, lesson_dir):
    write_lesson(lesson_dir, 1, "alpha", body="[[widget head-grid]]")
    ready_record("small", is_default=True, **TINY)
    with pytest.raises(LessonFileError, match="head-grid"):
        client.get("/lessons/alpha/")


@pytest.mark.parametrize(
    "change, message",
    [
        (("answer: 0", "answer: 5"), "answer"),
        (("minutes: 10\n", ""), "minutes"),
        (("slug: alpha", "slug: other"), "file name"),
    ],
)
def test_front_matter_mistakes_are_refused(lesson_dir, change, message):
    path = write_lesson(lesson_dir, 1, "alpha")
    path.write_text(path.read_text().replace(*change, 1))
    with pytest.raises(LessonFileError, match=message):
        parse_lesson(path)


def test_an_edited_lesson_shows_on_the_next_request(client, lesson_dir):
    path = write_lesson(lesson_dir, 1, "alpha", body="Before the edit.")
    ready_record("small", is_default=True, **TINY)
    assert "Before the edit." in text_of(client.get("/lessons/alpha/"))
    path.write_text(path.read_text().replace("Before the edit.", "After the edit."))
    import os

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert "After the edit." in text_of(client.get("/lessons/alpha/"))


def test_the_training_excerpt_is_served_as_the_trainer_cuts_it(client, settings, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    settings.GLASSBOX = {**settings.GLASSBOX, "CORPUS_DIR": corpus}
    missing = client.get("/lessons/texts/forum-scene/")
    assert missing.status_code == 404 and "make corpus" in missing.json()["error"]
    (corpus / "train.txt").write_text(
        "SCENE II. The same. The Forum.\nCITIZENS.\nWe will be satisfied.\n\n"
        "SCENE III.  The same. A street.\n",
        encoding="utf-8",
    )
    served = client.get("/lessons/texts/forum-scene/").json()
    assert served["text"] == "SCENE II. The same. The Forum.\nCITIZENS.\nWe will be satisfied.\n"
    assert served["name"].startswith("Julius Caesar")
