"""Lesson 13's live mini training run in a real browser on the live stack (the Procfile's
worker and trainer): a run streams a falling loss and samples, what the widget shows is
the reply's numbers, Stop ends a run as `cancelled`, and a second run from the same browser
session (another tab) is refused with the server's sentence while the first one runs."""

from __future__ import annotations

import math

import pytest

from inference.excerpts import FORUM_SCENE
from tests.conftest import REPO
from webapp.playground.consumers import TRAINING_RUNNING

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"
ROOT = 'figure.widget[data-widget="mini-training"]'


def open_lesson(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/lessons/training/")  # the context carries the base URL
    # mounted: the excerpt is in the text box and the empty chart drawn
    page.wait_for_function(
        """(root) => {
            const f = document.querySelector(root);
            return f && Number(f.dataset.draws || 0) >= 1
                && f.querySelector('[data-role="prompt"]').value.length > 0;
        }""",
        arg=ROOT,
        timeout=60_000,
    )
    return page, errors


def new_context(browser, stack, **options):
    return browser.new_context(base_url=stack.http_url, **options)


def run_state(page) -> dict:
    return page.evaluate(
        """(root) => {
            const run = document.querySelector(root).lastRun;
            return run ? JSON.parse(JSON.stringify(run)) : null;
        }""",
        ROOT,
    )


def wait_run(page, condition: str, timeout: float = 90_000) -> dict:
    """Wait until `condition` (JS, over `run`) holds for the widget's current run."""
    page.wait_for_function(
        f"""(root) => {{
            const run = document.querySelector(root).lastRun;
            return Boolean(run && ({condition}));
        }}""",
        arg=ROOT,
        timeout=timeout,
    )
    return run_state(page)


def test_a_run_streams_a_falling_loss_and_samples_from_the_keyboard(stack, browser):
    context = new_context(browser, stack, viewport={"width": 1280, "height": 1000})
    page, errors = open_lesson(context)
    root = page.locator(ROOT)
    excerpt = FORUM_SCENE.read(REPO / "data" / "shakespeare")  # as the trainer cuts it
    assert root.locator('[data-role="prompt"]').input_value() == excerpt

    root.locator(".mt-steps").select_option("100")
    root.locator(".mt-start").focus()
    page.keyboard.press("Enter")
    run = wait_run(page, "run.done || run.error")
    assert run.get("error") is None
    assert run["request"] == {"source": "excerpt", "steps": 100, "size": "small", "seed": 0}
    started, progress, done = run["started"], run["progress"], run["done"]
    assert started["vocab_size"] == len(set(excerpt))
    assert started["uniform_loss"] == pytest.approx(math.log(len(set(excerpt))), abs=1e-4)
    assert [p["step"] for p in progress] == list(range(1, 101))
    losses = [p["loss"] for p in progress]
    # random weights guess about evenly; a hundred steps later the loss is well down
    assert losses[0] == pytest.approx(started["uniform_loss"], abs=0.3)
    assert sum(losses[-10:]) / 10 < sum(losses[:5]) / 5 - 0.8
    assert (done["finish_reason"], done["steps"], done["final_loss"]) == (
        "finished",
        100,
        losses[-1],
    )
    sampled = [p for p in progress if p["sample"]]
    assert [p["step"] for p in sampled] == list(range(25, 101, 25))
    assert all(set(p["sample"]) <= set(excerpt) for p in sampled)

    # what the widget shows is that reply
    page.wait_for_function(
        "(root) => document.querySelector(root).dataset.state === 'idle'", arg=ROOT
    )
    assert root.locator(".mt-step").inner_text() == "100 of 100"
    assert root.locator(".mt-loss").inner_text() == f"{losses[-1]:.3f}"
    held = [p["val_loss"] for p in progress if p["val_loss"] is not None][-1]
    assert root.locator("output.mt-held").inner_text() == f"{held:.3f}"
    assert root.locator(".mt-ppl").inner_text() == f"{math.exp(losses[-1]):.1f}"
    points = root.locator("polyline.mt-train").get_attribute("points").split()
    assert len(points) == 100
    assert root.locator("circle.mt-val-point").count() == len(sampled)
    assert sampled[-1]["sample"] in root.locator(".mt-sample").inner_text()
    assert "Finished: 100 steps" in root.locator(".widget-status").inner_text()
    root.screenshot(path=str(OUTPUT / "widget-mini-training.png"))

    # the student's own text goes as text; too short a one is refused with a sentence
    root.locator('[data-role="prompt"]').fill("To be, or not to be.")
    root.locator(".mt-start").click()
    wait_run(page, "run.error")
    status = root.locator('.widget-status[data-state="error"]').inner_text()
    assert "at least 200" in status
    assert errors == []
    context.close()


def test_stop_ends_the_run_with_finish_reason_cancelled(stack, browser):
    context = new_context(browser, stack, viewport={"width": 390, "height": 900})  # a phone
    page, errors = open_lesson(context)
    root = page.locator(ROOT)
    root.locator(".mt-steps").select_option("1000")
    root.locator(".mt-start").click()
    wait_run(page, "run.progress.length >= 5")
    root.locator(".mt-stop").click()
    run = wait_run(page, "run.done")
    assert run["done"]["finish_reason"] == "cancelled"
    assert 5 <= run["done"]["steps"] < 1000
    assert run["done"]["steps"] == len(run["progress"])
    assert "Stopped" in root.locator(".widget-status").inner_text()
    # nothing spills sideways at phone width
    width = page.evaluate(
        "(r) => { const f = document.querySelector(r); return [f.scrollWidth, f.clientWidth]; }",
        ROOT,
    )
    assert width[0] <= width[1]
    root.screenshot(path=str(OUTPUT / "widget-mini-training-phone.png"))
    assert errors == []
    context.close()


def test_a_second_tab_of_the_same_browser_is_refused_while_a_run_goes(stack, browser):
    context = new_context(browser, stack, viewport={"width": 1280, "height": 1000})
    first, first_errors = open_lesson(context)
    second, second_errors = open_lesson(context)  # same cookies: the same Django session
    first.locator(f"{ROOT} .mt-steps").select_option("1000")
    first.locator(f"{ROOT} .mt-start").click()
    wait_run(first, "run.progress.length >= 1")

    second.locator(f"{ROOT} .mt-start").click()
    run = wait_run(second, "run.error")
    assert run["error"] == {"code": "training_running", "message": TRAINING_RUNNING}
    status = second.locator(f'{ROOT} .widget-status[data-state="error"]').inner_text()
    assert status == TRAINING_RUNNING
    assert second.locator(ROOT).get_attribute("data-refused") == "true"

    # once the first run stops, the second tab may train
    first.locator(f"{ROOT} .mt-stop").click()
    assert wait_run(first, "run.done")["done"]["finish_reason"] == "cancelled"
    second.locator(f"{ROOT} .mt-start").click()
    wait_run(second, "run.progress.length >= 1")
    second.locator(f"{ROOT} .mt-stop").click()
    assert wait_run(second, "run.done")["done"]["finish_reason"] == "cancelled"
    assert first_errors == second_errors == []
    context.close()
