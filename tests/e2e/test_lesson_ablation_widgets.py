"""Lesson 14's widget (ablation-steering) in a real browser on the live stack: the Δ ln p
grid it draws is what the bundled model gives when each head is zeroed through the
engine's own intervention path; a clicked head shows its reply's before and after; the
grid and the controls work from the keyboard; steering with strength 0 writes exactly the
plain text, and a nonzero strength writes what the engine writes with that vector."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from inference import Intervention, Steering, steering_vector_from_prompts
from tests.conftest import REPO

from .widget_pages import open_lesson_page, wait_for_widget

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"
ROOT = 'figure.widget[data-widget="ablation-steering"]'
FLOAT16 = 2e-3  # the grid travels as float16: |Δ| < 1 keeps 3 decimals


def open_widget(stack, browser, width: int = 1366):
    page, errors = open_lesson_page(stack, browser, "looking-inside", width)
    wait_until(page, "draws >= 1 && f.lastTrace")
    return page, errors


def wait_until(page, condition: str) -> None:
    """Until `condition` holds, with `f` the figure and `draws` its count."""
    wait_for_widget(page, ROOT, condition)


def draws(page) -> int:
    return int(page.locator(ROOT).get_attribute("data-draws") or 0)


def grid_reply(page) -> dict:
    return page.evaluate(f"document.querySelector('{ROOT}').lastTrace.raw")


def tensor(payload) -> np.ndarray:
    dtype = "<f2" if payload["dtype"] == "float16" else "<f4"
    data = np.frombuffer(base64.b64decode(payload["data"]), dtype=dtype)
    return data.reshape(payload["shape"]).astype(np.float64)


def log_p(lm, ids, target, heads=()) -> float:
    """ln p(target) after the last token, from the engine with `heads` zeroed."""
    intervention = Intervention(ablate_heads=frozenset(heads)) if heads else None
    logits = lm.trace(ids, ["logits"], intervention=intervention).logits[-1]
    return float(torch.log_softmax(logits.float(), dim=-1)[target])


def prompt_of(page) -> str:
    return page.locator(f'{ROOT} [data-role="prompt"]').input_value()


def test_the_grid_is_each_head_zeroed_in_the_bundled_model(stack, browser, bundled_lm):
    page, errors = open_widget(stack, browser)
    message = grid_reply(page)
    part = message["head_ablation"]
    ids = bundled_lm.tokenizer.encode(prompt_of(page))
    config = bundled_lm.config
    clean = log_p(bundled_lm, ids, part["target"]["id"])
    # the default target is the model's own top next token, and the box shows it
    with torch.inference_mode():
        logits = bundled_lm.trace(ids, ["logits"]).logits[-1]
    assert part["target"]["id"] == int(logits.argmax()) == part["top"]["id"]
    target_box = page.locator(f'{ROOT} [data-role="target"]')
    assert target_box.input_value() == part["target"]["text"]
    assert part["log_prob"] == pytest.approx(clean, abs=1e-4)

    delta = tensor(part["delta_log_prob"])
    assert delta.shape == (config.n_layer, config.n_head)
    cells = page.locator(f"{ROOT} .as-cell")
    assert cells.count() == config.n_layer * config.n_head
    for layer in range(config.n_layer):
        for head in range(config.n_head):
            expected = log_p(bundled_lm, ids, part["target"]["id"], {(layer, head)}) - clean
            assert delta[layer, head] == pytest.approx(expected, abs=FLOAT16), (layer, head)
            cell = cells.nth(layer * config.n_head + head)
            assert float(cell.get_attribute("data-delta")) == pytest.approx(delta[layer, head])
    # numbers on hover: the readout names the head and its Δ to 3 decimals
    cells.nth(1).hover()
    readout = page.locator(f"{ROOT} .as-readout").inner_text()
    assert "L0 H1" in readout and f"{abs(delta[0, 1]):.3f}" in readout
    print(f"head_ablation grid: {part['elapsed_ms']} ms on the worker for {len(ids)} tokens")
    assert errors == []
    page.close()


def test_clicking_heads_shows_the_reply_s_before_and_after(stack, browser, bundled_lm):
    page, errors = open_widget(stack, browser)
    part = grid_reply(page)["head_ablation"]
    target = part["target"]["id"]
    ids = bundled_lm.tokenizer.encode(prompt_of(page))
    before = draws(page)
    page.locator(f'{ROOT} .as-cell[data-layer="0"][data-head="1"]').click()
    wait_until(page, f"draws > {before} && f.lastExperiment && f.dataset.ablated === '0:1'")
    experiment = page.evaluate(f"document.querySelector('{ROOT}').lastExperiment.raw.experiment")
    for side in ("before", "after"):
        items = page.locator(f'{ROOT} [data-role="{side}"] li')
        assert [int(i) for i in items.evaluate_all("els => els.map(e => e.dataset.id)")] == [
            c["id"] for c in experiment[side]
        ]
        assert items.count() == len(experiment[side]) > 0
    facts = page.locator(f'{ROOT} [data-role="facts"]')
    after = float(facts.get_attribute("data-log-prob-after"))
    assert after == pytest.approx(log_p(bundled_lm, ids, target, {(0, 1)}), abs=1e-4)
    assert f"{experiment['kl_bits']:.4f}" in facts.inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.locator(f"{ROOT} .as-ablation").screenshot(path=str(OUTPUT / "lesson-ablation-click.png"))

    # "combine": a second head joins the first, and the reply is both zeroed together
    page.locator(f'{ROOT} [data-role="combine"]').check()
    before = draws(page)
    page.locator(f'{ROOT} .as-cell[data-layer="2"][data-head="3"]').click()
    wait_until(page, f"draws > {before} && f.dataset.ablated === '0:1,2:3'")
    after = float(page.locator(f'{ROOT} [data-role="facts"]').get_attribute("data-log-prob-after"))
    assert after == pytest.approx(log_p(bundled_lm, ids, target, {(0, 1), (2, 3)}), abs=1e-4)
    pressed = page.locator(f'{ROOT} .as-cell[aria-pressed="true"]')
    assert pressed.count() == 2
    page.locator(f'{ROOT} [data-role="clear"]').click()
    assert page.locator(f'{ROOT} .as-cell[aria-pressed="true"]').count() == 0
    assert errors == []
    page.close()


def focused_head(page) -> list[str]:
    """[layer, head] of the grid cell that has the keyboard focus."""
    return page.evaluate("(e => [e.dataset.layer, e.dataset.head])(document.activeElement)")


def test_the_grid_and_the_target_work_from_the_keyboard(stack, browser, bundled_lm):
    page, errors = open_widget(stack, browser)
    target_box = page.locator(f'{ROOT} [data-role="target"]')
    target_box.focus()
    page.keyboard.press("Tab")  # the grid is the next tab stop: its first head
    assert focused_head(page) == ["0", "0"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert focused_head(page) == ["1", "2"]
    assert "L1 H2" in page.locator(f"{ROOT} .as-readout").inner_text()
    before = draws(page)
    page.keyboard.press("Enter")
    wait_until(page, f"draws > {before} && f.dataset.ablated === '1:2'")

    # a new prompt typed with the keyboard redraws the grid for its own top token
    prompt = page.locator(f'{ROOT} [data-role="prompt"]')
    prompt.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("My lord")
    wait_until(page, "f.lastTrace.tokens.map((t) => t.text).join('') === 'My lord'")
    ids = bundled_lm.tokenizer.encode("My lord")
    part = grid_reply(page)["head_ablation"]
    assert part["target"]["id"] == int(bundled_lm.trace(ids, ["logits"]).logits[-1].argmax())

    # a target that is not one token is refused in words, next to the box
    target_box.fill(" lordship and")
    page.wait_for_function(
        f"document.querySelector('{ROOT} [data-role=target]').ariaInvalid === 'true'",
        timeout=30_000,
    )
    note = page.locator(f"{ROOT} .as-target-note").inner_text()
    assert "exactly one token" in note
    # a real one-token target is followed
    target_box.fill(" lady")  # (the status line still shows the refusal until it arrives)
    page.wait_for_function(
        f"document.querySelector('{ROOT}').lastTrace.raw.head_ablation.target.text === ' lady'",
        timeout=30_000,
    )
    assert page.locator(f'{ROOT} [data-role="target"]').get_attribute("aria-invalid") is None
    assert errors == []
    page.close()


def steer_to(page, strength: float) -> None:
    """Move the strength slider with the keyboard (steps of 0.5)."""
    slider = page.locator(f'{ROOT} [data-role="strength"]')
    slider.focus()
    current = float(slider.input_value())
    key = "ArrowRight" if strength > current else "ArrowLeft"
    for _ in range(int(round(abs(strength - current) / 0.5))):
        page.keyboard.press(key)
    assert float(slider.input_value()) == strength


def engine_text(lm, prompt: str, n: int, seed: int, intervention=None) -> list[int]:
    ids = lm.tokenizer.encode(prompt)
    events = lm.generate(
        ids, max_new_tokens=n, temperature=0.8, seed=seed, intervention=intervention
    )
    return [e.token_id for e in events if e.type == "step"]


def test_steering_at_strength_zero_writes_the_plain_text(stack, browser, bundled_lm):
    page, errors = open_widget(stack, browser)
    tokens = page.locator(f'{ROOT} [data-role="tokens"]')
    tokens.fill("16")
    steer_to(page, 0.0)
    page.locator(f'{ROOT} [data-role="write"]').click()
    wait_until(page, "f.dataset.steerRuns === '1'")
    run = page.evaluate(f"document.querySelector('{ROOT}').lastSteer")
    prompt = page.locator(f'{ROOT} [data-role="continue"]').input_value()
    assert len(run["plain"]["ids"]) == 16
    assert run["steered"]["ids"] == run["plain"]["ids"]
    assert run["plain"]["ids"] == engine_text(bundled_lm, prompt, 16, run["seed"])
    shown = page.locator(f'{ROOT} [data-role="steered-text"]').inner_text()
    assert shown.endswith(run["steered"]["text"].rstrip("\n")) or run["steered"]["text"] in shown

    # a nonzero strength completes, and writes what the engine writes with that vector
    steer_to(page, 8.0)
    page.locator(f'{ROOT} [data-role="write"]').click()
    wait_until(page, "f.dataset.steerRuns === '2'")
    run = page.evaluate(f"document.querySelector('{ROOT}').lastSteer")
    assert run["strength"] == 8.0 and run["steered"]["done"]["finish_reason"] in (
        "length",
        "end_of_text",
    )
    tok = bundled_lm.tokenizer
    positive = page.locator(f'{ROOT} [data-role="positive"]').input_value()
    negative = page.locator(f'{ROOT} [data-role="negative"]').input_value()
    vector = steering_vector_from_prompts(
        bundled_lm.model, tok.encode(positive), tok.encode(negative), run["layer"]
    )
    steering = Intervention(steering=Steering(vector.float(), run["layer"], 8.0))
    assert run["steered"]["ids"] == engine_text(bundled_lm, prompt, 16, run["seed"], steering)
    assert run["steered"]["ids"] != run["plain"]["ids"]
    OUTPUT.mkdir(exist_ok=True)
    page.locator(ROOT).screenshot(path=str(OUTPUT / "lesson-ablation-steering.png"))
    assert errors == []
    page.close()


def test_it_reads_at_phone_width(stack, browser):
    page, errors = open_widget(stack, browser, width=390)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    OUTPUT.mkdir(exist_ok=True)
    page.locator(ROOT).screenshot(path=str(OUTPUT / "lesson-ablation-steering-phone.png"))
    assert errors == []
    page.close()
