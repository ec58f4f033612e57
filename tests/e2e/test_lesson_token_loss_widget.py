"""Lesson 13's "score my sentence" and "how our model learned" widgets in a real browser on
the live stack: every token's loss, the mean and the perplexity shown equal the
cross-entropy worked out here from the bundled model's own forward pass, and the tokens are
walked with the keyboard; the training curves drawn are the model card's own."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.conftest import REPO

from .widget_pages import open_lesson_page, wait_for_widget

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"
ROOT = 'figure.widget[data-widget="token-loss"]'


def wait_draws(page, at_least: int) -> None:
    wait_for_widget(page, ROOT, f"draws >= {at_least}")


def expected_losses(lm, text: str) -> list[float]:
    ids = lm.tokenizer.encode(text)
    logits = lm.trace(ids, lm.capture_spec(["logits"])).logits
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return [-log_probs[t, ids[t + 1]].item() for t in range(len(ids) - 1)]


def test_the_losses_shown_are_the_model_s_cross_entropy(stack, browser, bundled_lm):
    page, errors = open_lesson_page(stack, browser, "training")
    wait_draws(page, 1)
    root = page.locator(ROOT)

    text = "My lord, the king is come."
    root.locator('[data-role="prompt"]').fill(text)
    wait_draws(page, 2)
    expected = expected_losses(bundled_lm, text)
    shown = [
        float(n)
        for n in root.locator(".tl-chip[data-nats]").evaluate_all(
            "chips => chips.map(c => c.dataset.nats)"
        )
    ]
    assert shown == pytest.approx(expected, abs=1e-4)
    # the first token is drawn but not scored: nothing came before it
    assert root.locator(".tl-chip").count() == len(expected) + 1
    assert root.locator(".tl-chip.tl-first").count() == 1
    mean = sum(expected) / len(expected)
    assert root.locator(".tl-mean").inner_text() == f"{mean:.3f} nats"
    assert root.locator(".tl-perplexity").inner_text() == f"{math.exp(mean):.1f}"

    # keyboard: focus the first scored token, step right, and the detail follows
    root.locator(".tl-chip[data-nats]").first.focus()
    page.keyboard.press("ArrowRight")
    detail = root.locator(".tl-detail").inner_text()
    second = expected[1]
    assert f"{second:.3f} nats" in detail and f"{second / math.log(2):.3f} bits" in detail

    root.screenshot(path=str(OUTPUT / "widget-token-loss.png"))
    assert errors == []
    page.close()


def test_the_training_curves_are_the_model_card_s(stack, browser, models_dir):
    card = json.loads((models_dir / "shakespeare" / "card.json").read_text())
    train, held = card["loss"]["train_curve"], card["loss"]["val_curve"]
    page, errors = open_lesson_page(stack, browser, "training")
    root = page.locator('figure.widget[data-widget="training-curves"]')
    page.wait_for_function(
        "() => Number(document.querySelector('figure[data-widget=\"training-curves\"]')"
        ".dataset.draws || 0) > 0"
    )
    train_points = root.locator("polyline.mt-train").get_attribute("points").split()
    assert len(train_points) == len(train)
    assert root.locator("circle.mt-val-point").count() == len(held)
    root.locator("details summary").click()
    rows = root.locator("tr[data-step]").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert [float(r[2]) for r in rows] == pytest.approx([loss for _, loss in held], abs=5e-4)
    summary = root.locator(".tc-summary").inner_text()
    assert f"{train[0][1]:.2f}" in summary and f"{train[-1][1]:.2f}" in summary
    # the bigram model's line is drawn at the card's figure
    bigram = f"bigram model = {card['loss']['bigram_val_loss']:.2f}"
    assert bigram in root.locator("svg").text_content()
    root.screenshot(path=str(OUTPUT / "widget-training-curves.png"))
    assert errors == []
    page.close()
