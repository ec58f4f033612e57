"""The lesson pages in a real browser on the live stack: every lesson opens and its widgets
start, the questions answer from the keyboard, progress sticks, and a phone, a projector
and paper all get a readable page. Screenshots of every lesson go to test-output/."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from webapp.lessons.content_files import all_lessons

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"


def open_page(stack, browser, path: str, width: int = 1366, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(stack.http_url + path)
    return page, errors


def wait_for_widgets(page) -> None:
    """Until every widget on the page has drawn once from the model (or said why not)."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('figure.widget')].every(
            (f) => Number(f.dataset.draws || 0) > 0
                || f.querySelector('.widget-status[data-state="error"]'))""",
        timeout=60_000,
    )


def test_every_lesson_opens_draws_its_widgets_and_is_screenshotted(stack, browser):
    OUTPUT.mkdir(exist_ok=True)
    page, errors = open_page(stack, browser, "/lessons/")
    listed = page.locator(".course-item").count()
    assert listed == len(all_lessons())
    for lesson in all_lessons():
        page.goto(f"{stack.http_url}/lessons/{lesson.slug}/")
        assert page.locator("h1").inner_text() == lesson.title
        assert page.locator("math").count() > 0
        figures = page.locator("figure.widget")
        assert figures.count() == len(lesson.widgets)
        wait_for_widgets(page)
        broken = page.locator('figure.widget .widget-status[data-state="error"]')
        assert broken.count() == 0, f"{lesson.slug}: {broken.all_inner_texts()}"
        page.screenshot(path=str(OUTPUT / f"lesson-page-{lesson.slug}.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_questions_answer_from_the_keyboard_and_progress_is_kept(stack, browser):
    lesson = all_lessons()[0]
    page, errors = open_page(stack, browser, f"/lessons/{lesson.slug}/")
    question = page.locator("form.question").first
    answer = int(question.get_attribute("data-answer"))
    wrong = 1 if answer == 0 else 0

    # a wrong choice, picked and checked with the keyboard only
    question.locator("input[type=radio]").nth(wrong).focus()
    page.keyboard.press("Space")
    question.locator("button[type=submit]").focus()
    page.keyboard.press("Enter")
    feedback = question.locator(".question-feedback")
    assert feedback.get_attribute("data-state") == "wrong"
    assert question.locator(".question-explanation").evaluate("d => d.open")

    question.locator("input[type=radio]").nth(answer).check()
    question.locator("button[type=submit]").click()
    assert feedback.get_attribute("data-state") == "right"

    page.click("#mark-done")
    assert page.locator("#mark-done").get_attribute("aria-pressed") == "true"
    page.goto(stack.http_url + "/lessons/")
    item = page.locator(f'.course-item[data-slug="{lesson.slug}"]')
    assert "is-done" in item.get_attribute("class")
    assert re.search(r"done 1 of \d+", page.locator("#course-progress").inner_text())
    assert not errors, errors
    page.close()


def test_a_lesson_reads_on_a_phone_a_projector_and_paper(stack, browser):
    lesson = all_lessons()[min(5, len(all_lessons()) - 1)]
    path = f"/lessons/{lesson.slug}/"

    phone, errors = open_page(stack, browser, path, width=390, height=844)
    wait_for_widgets(phone)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot(path=str(OUTPUT / f"lesson-phone-{lesson.slug}.png"), full_page=True)
    phone.close()

    projector, more_errors = open_page(stack, browser, path, width=1280, height=720)
    projector.click("#presentation-toggle")
    assert projector.evaluate("document.documentElement.classList.contains('presentation')")
    assert not projector.locator(".lesson-contents").is_visible()
    size = projector.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.lesson-body')).fontSize)"
    )
    assert size >= 20
    projector.click("#presentation-toggle")  # leave it off for the other tests
    projector.close()

    paper, print_errors = open_page(stack, browser, path)
    paper.emulate_media(media="print")
    assert not paper.locator(".site-header").is_visible()
    assert not paper.locator("figure.widget").first.is_visible()
    assert paper.locator(".instructor-box").is_visible()
    paper.pdf(path=str(OUTPUT / f"lesson-print-{lesson.slug}.pdf"))
    paper.close()
    assert not (errors + more_errors + print_errors)
