"""Lesson 11's sampler widget in a real browser on the live stack. The bars, kept counts and
entropies it shows are checked against the server's own sampler (inference/sampling.py)
run here on the float32 logits the reply carried; the slider moves must send no request;
the greedy and seeded runs and the step-by-step loop are checked against the bundled model
generating here, in this process, with the same settings."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest
import torch

from inference.sampling import SamplingSettings, entropy_bits, final_distribution
from tests.conftest import REPO
from tests.e2e.test_sampler_in_the_page import on_the_boundary

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"
ROOT = 'figure.widget[data-widget="sampler"]'
RUN_TOKENS = 40


def open_sampler(stack, browser, width: int = 1366):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.http_url}/lessons/sampling/")
    wait_until(page, "draws >= 1")
    return page, errors


def wait_until(page, condition: str, timeout: int = 60_000) -> None:
    """Until `condition` holds (`f` the figure, `draws` its count); an error shown in the
    widget's status line fails at once with its sentence."""
    page.wait_for_function(
        f"""(root) => {{
            const f = document.querySelector(root);
            if (!f) return false;
            const failed = f.querySelector(':scope > .widget-status[data-state="error"]');
            if (failed) throw new Error(failed.textContent);
            const draws = Number(f.dataset.draws || 0);
            return {condition};
        }}""",
        arg=ROOT,
        timeout=timeout,
    )


def reply_logits(page) -> torch.Tensor:
    """The last position's logits as the reply carried them: float32, decoded here."""
    payload = page.evaluate(f"document.querySelector('{ROOT}').lastTrace.raw.logits.last")
    assert payload["dtype"] == "float32"
    data = np.frombuffer(base64.b64decode(payload["data"]), dtype="<f4")
    return torch.from_numpy(data.copy()).reshape(payload["shape"])


def shown(page) -> dict:
    """What the widget shows now: its bars (id, raw, final), summary numbers, cut lines."""
    return page.evaluate(
        f"""() => {{
            const root = document.querySelector('{ROOT}');
            const rows = [...root.querySelectorAll('.sp-part-dist .sp-dist .sp-row:not(.sp-rest)')];
            const rest = root.querySelector('.sp-part-dist .sp-rest');
            const summary = root.querySelector('.sp-summary');
            const cuts = [...root.querySelectorAll('.sp-part-dist .sp-cut')].map(
                (c) => [c.dataset.cut, Number(c.dataset.at)]);
            const values = [...root.querySelectorAll('.sp-slider-value')].map((o) => o.textContent);
            const row = (r) => [r.dataset.tokenId, r.dataset.raw, r.dataset.final].map(Number);
            return {{
                rows: rows.map(row),
                rest: [Number(rest.dataset.raw), Number(rest.dataset.final)],
                kept: Number(summary.dataset.kept),
                rawEntropy: Number(summary.dataset.rawEntropy),
                finalEntropy: Number(summary.dataset.finalEntropy),
                tiny: Number(summary.dataset.tiny),
                text: summary.textContent,
                cuts, values,
                settings: root.samplerView.settings,
            }};
        }}"""
    )


def check_against_the_server(
    page, logits: torch.Tensor, expected: SamplingSettings, exact_kept: bool = True
) -> dict:
    """The bars, kept count and entropies shown equal inference.sampling on the same logits.
    Without `exact_kept` (a very low temperature), the page (float64) may keep more tokens
    than the server (float32 rounds the tiniest chances to 0), but only ones it says are
    below 1e-30."""
    view = shown(page)
    assert view["settings"] == {
        "temperature": expected.temperature,
        "topK": expected.top_k,
        "topP": expected.top_p,
    }
    raw = torch.softmax(logits.double(), dim=-1)
    order = torch.sort(raw, descending=True, stable=True).indices[:30].tolist()
    assert [row[0] for row in view["rows"]] == order
    np.testing.assert_allclose([row[1] for row in view["rows"]], raw[order].numpy(), atol=1e-6)
    assert view["rest"][0] == pytest.approx(1 - float(raw[order].sum()), abs=1e-6)
    assert view["rawEntropy"] == pytest.approx(entropy_bits(raw.float()), abs=1e-4)
    assert f"{view['rawEntropy']:.2f} bits" in view["text"]

    final = final_distribution(logits, expected).double()
    np.testing.assert_allclose([row[2] for row in view["rows"]], final[order].numpy(), atol=1e-6)
    server_kept = int((final > 0).sum())
    if exact_kept and not on_the_boundary(logits, expected):
        assert view["kept"] == server_kept
        assert view["tiny"] == 0
    elif not exact_kept:
        assert view["kept"] - view["tiny"] <= server_kept <= view["kept"]
    assert view["finalEntropy"] == pytest.approx(entropy_bits(final.float()), abs=1e-3)
    assert f"kept: {view['kept']:,} token" in view["text"]
    assert f"{view['finalEntropy']:.2f} bits" in view["text"]
    # a dropped token is drawn as dropped: every row after the kept ones has final 0
    kept_rows = sum(1 for row in view["rows"] if row[2] > 0)
    assert all(row[2] > 0 for row in view["rows"][:kept_rows])
    assert all(row[2] == 0 for row in view["rows"][kept_rows:])
    return view


def press(page, selector: str, *keys: str) -> None:
    page.locator(f"{ROOT} {selector}").focus()
    for key in keys:
        page.keyboard.press(key)


def sent(page) -> int:
    return page.evaluate("window.glassboxLesson.sent")


def test_the_sliders_reshape_the_real_logits_in_the_page(stack, browser):
    page, errors = open_sampler(stack, browser)
    prompt = page.locator(f'{ROOT} [data-role="prompt"]')
    assert prompt.input_value() == "ROMEO.\n"
    logits = reply_logits(page)
    assert logits.numel() == page.evaluate("window.glassboxLesson.facts.vocab_size")
    view = check_against_the_server(page, logits, SamplingSettings(1.0, 20, 0.9))
    assert ["k", 20] in view["cuts"]
    requests = sent(page)

    # every slider from the keyboard; after each move the page agrees with the server's
    # sampler, and no request goes out
    press(page, ".sp-slider-temperature input", *["ArrowLeft"] * 10)
    view = check_against_the_server(page, logits, SamplingSettings(0.5, 20, 0.9))
    assert view["values"][0] == "0.50"
    press(page, ".sp-slider-top-k input", "Home")
    view = check_against_the_server(page, logits, SamplingSettings(0.5, 0, 0.9))
    assert view["values"][1] == "0 (off)"
    assert not any(kind == "k" for kind, _ in view["cuts"])
    assert ["p", view["kept"]] in view["cuts"]
    press(page, ".sp-slider-top-k input", *["ArrowRight"] * 5)
    check_against_the_server(page, logits, SamplingSettings(0.5, 5, 0.9))
    press(page, ".sp-slider-top-p input", "End")
    view = check_against_the_server(page, logits, SamplingSettings(0.5, 5, 1.0))
    assert view["kept"] == 5 and view["values"][2] == "1 (off)"
    press(page, ".sp-slider-top-k input", "Home")
    view = check_against_the_server(page, logits, SamplingSettings(0.5, 0, 1.0))
    assert view["kept"] == logits.numel() and view["cuts"] == []
    press(page, ".sp-slider-temperature input", "End")
    hot = check_against_the_server(page, logits, SamplingSettings(3.0, 0, 1.0))
    # hotter is flatter: the entropy climbs toward log2(V)
    most = math.log2(logits.numel())
    assert view["finalEntropy"] < hot["rawEntropy"] < hot["finalEntropy"] <= most
    press(page, ".sp-slider-top-p input", *["ArrowLeft"] * 50)
    check_against_the_server(page, logits, SamplingSettings(3.0, 0, 0.5))
    press(page, ".sp-slider-temperature input", "Home")
    greedy = check_against_the_server(page, logits, SamplingSettings(0.0, 0, 0.5))
    assert greedy["kept"] == 1 and greedy["finalEntropy"] == 0
    assert greedy["values"][0] == "0 (greedy)" and ["greedy", 1] in greedy["cuts"]
    # just above 0: nearly greedy; the page says which kept tokens are too unlikely to count
    press(page, ".sp-slider-top-p input", "End")
    press(page, ".sp-slider-temperature input", "ArrowRight")
    cold = check_against_the_server(page, logits, SamplingSettings(0.05, 0, 1.0), False)
    assert cold["tiny"] > 0 and "below 10⁻³⁰" in cold["text"]
    assert cold["finalEntropy"] < 0.5
    assert sent(page) == requests, "a slider sent a request"
    assert (
        f"Requests sent by this page so far: {requests}"
        in page.locator(f"{ROOT} .sp-requests").inner_text()
    )

    # a sweep of the temperature slider is twenty redraws in the page and no request
    page.evaluate(
        f"""() => {{
            const input = document.querySelector('{ROOT} .sp-slider-temperature input');
            for (let i = 0; i < 20; i += 1) {{
                input.value = String(i * 0.05);
                input.dispatchEvent(new Event('input', {{bubbles: true}}));
            }}
            input.value = '0.05';
            input.dispatchEvent(new Event('input', {{bubbles: true}}));
        }}"""
    )
    assert sent(page) == requests

    # a new text is one new trace, and the bars follow its logits
    page.evaluate(
        f"""() => {{
            const box = document.querySelector('{ROOT} [data-role="prompt"]');
            box.value = 'To be, or not to be';
            box.dispatchEvent(new Event('input', {{bubbles: true}}));
        }}"""
    )
    wait_until(page, "draws >= 2")
    assert sent(page) == requests + 1
    logits = reply_logits(page)
    check_against_the_server(page, logits, SamplingSettings(0.05, 0, 1.0), False)
    press(page, ".sp-slider-temperature input", *["ArrowRight"] * 19)
    press(page, ".sp-slider-top-k input", *["ArrowRight"] * 20)
    press(page, ".sp-slider-top-p input", *["ArrowLeft"] * 10)
    check_against_the_server(page, logits, SamplingSettings(1.0, 20, 0.9))
    assert sent(page) == requests + 1

    OUTPUT.mkdir(exist_ok=True)
    page.locator(ROOT).screenshot(path=str(OUTPUT / "lesson-sampler.png"))
    assert not errors, errors
    page.close()


def continuation(lm, prompt: str, n: int, **settings) -> str:
    """The bundled model's own continuation, generated here with the server's code path."""
    events = lm.generate(lm.tokenizer.encode(prompt), max_new_tokens=n, **settings)
    return "".join(e.token.text for e in events if e.type == "step")


def run_both(page) -> dict:
    """Press the generate button from the keyboard and wait for both columns to finish."""
    before = page.evaluate(f"document.querySelector('{ROOT}').samplerRuns.sampled?.done.request_id")
    press(page, ".sp-run-button", "Enter")
    page.wait_for_function(
        f"""(before) => {{
            const root = document.querySelector('{ROOT}');
            const runs = root.samplerRuns;
            return runs.sampled && runs.sampled.done.request_id !== before
                && root.querySelector('.sp-run-sampled').dataset.state === 'done';
        }}""",
        arg=before,
        timeout=60_000,
    )
    return page.evaluate(f"document.querySelector('{ROOT}').samplerRuns")


def test_greedy_and_sampled_runs_side_by_side_with_seeds(stack, browser, bundled_lm):
    page, errors = open_sampler(stack, browser)
    prompt = page.locator(f'{ROOT} [data-role="prompt"]').input_value()
    seed = page.locator(f"{ROOT} .sp-seed")
    assert seed.input_value() == "42"

    first = run_both(page)
    greedy = continuation(bundled_lm, prompt, RUN_TOKENS, temperature=0)
    assert first["greedy"]["text"] == greedy
    shown_greedy = page.locator(f"{ROOT} .sp-run-greedy .sp-run-text").inner_text()
    assert shown_greedy.replace("\n", "") == (prompt + greedy).replace("\n", "")
    assert all(step["rank"] == 0 for step in first["greedy"]["steps"])
    # the sampled run used the sliders (T 1, top-k 20, top-p 0.9) and seed 42: the same
    # tokens the bundled model writes here with those settings and that seed
    assert first["sampled"]["seed"] == 42
    assert "seed used: 42" in page.locator(f"{ROOT} .sp-run-sampled .sp-run-done").inner_text()
    settings = {"temperature": 1.0, "top_k": 20, "top_p": 0.9}
    sampled = continuation(bundled_lm, prompt, RUN_TOKENS, seed=42, **settings)
    assert first["sampled"]["text"] == sampled
    assert all(step["kept"] <= 20 for step in first["sampled"]["steps"])

    # the same seed again: the same text, token for token
    again = run_both(page)
    assert again["sampled"]["text"] == first["sampled"]["text"]
    assert again["greedy"]["text"] == greedy

    # no seed: the server picks one and says which; reusing it repeats that run
    seed.fill("")
    random_run = run_both(page)
    used = random_run["sampled"]["seed"]
    assert isinstance(used, int)
    assert f"seed used: {used}" in page.locator(f"{ROOT} .sp-run-sampled .sp-run-done").inner_text()
    press(page, ".sp-reuse", "Enter")
    assert seed.input_value() == str(used)
    replay = run_both(page)
    assert replay["sampled"]["text"] == random_run["sampled"]["text"]
    OUTPUT.mkdir(exist_ok=True)
    page.locator(f"{ROOT} .sp-part-runs").screenshot(path=str(OUTPUT / "lesson-sampler-runs.png"))

    # a seed that is not a number: a sentence, and nothing sent
    requests = sent(page)
    seed.fill("forty-two")
    press(page, ".sp-run-button", "Enter")
    assert "whole number" in page.locator(f"{ROOT} .sp-run-message").inner_text()
    assert sent(page) == requests
    assert not errors, errors
    page.close()


def step(page, expected_steps: int) -> dict:
    """Press "Next step" from the keyboard and wait for its token."""
    press(page, ".sp-next", "Enter")
    page.wait_for_function(
        f"""(n) => {{
            const loop = document.querySelector('{ROOT} .sp-loop');
            return loop.dataset.state !== 'running' && Number(loop.dataset.steps) === n;
        }}""",
        arg=expected_steps,
        timeout=60_000,
    )
    return page.evaluate(f"document.querySelector('{ROOT}').samplerLoop")


def test_the_loop_appends_one_token_per_press(stack, browser, bundled_lm):
    page, errors = open_sampler(stack, browser)
    prompt = page.locator(f'{ROOT} [data-role="prompt"]').input_value()
    press(page, ".sp-slider-temperature input", "Home")  # greedy
    loop = page.locator(f"{ROOT} .sp-loop")
    assert loop.locator(".sp-passes").get_attribute("data-passes") == "0"

    # greedy, three presses: each sends one request, adds one forward pass and one token,
    # the token the bundled model picks for the whole text so far (re-read each time)
    text = prompt
    for n in range(1, 4):
        requests = sent(page)
        state = step(page, n)
        assert sent(page) == requests + 1
        expected = continuation(bundled_lm, text, 1, temperature=0)
        assert state["steps"][-1]["token"]["text"] == expected
        text += expected
        assert state["text"] == text and state["passes"] == n
        assert loop.locator(".sp-passes").get_attribute("data-passes") == str(n)
        shown_text = loop.locator(".sp-loop-text").inner_text()
        assert shown_text.replace("\n", "") == text.replace("\n", "")
        # the distribution it was drawn from: the step's candidates, the drawn one marked
        rows = loop.locator(".sp-dist .sp-row:not(.sp-rest)")
        assert rows.count() == 20
        chosen = loop.locator(".sp-dist .sp-row.is-chosen")
        assert chosen.get_attribute("data-token-id") == str(state["steps"][-1]["token"]["id"])
        assert chosen.get_attribute("data-final") == "1"
        assert loop.locator('.sp-dist .sp-cut[data-cut="kept"]').get_attribute("data-at") == "1"

    # sampled with a seed: the seed plus the step number, so starting again replays it
    press(page, ".sp-slider-temperature input", *["ArrowRight"] * 20)  # T = 1
    press(page, ".sp-reset", "Enter")
    assert loop.get_attribute("data-steps") == "0"
    tokens = [step(page, n)["steps"][-1]["token"]["id"] for n in (1, 2, 3)]
    state = page.evaluate(f"document.querySelector('{ROOT}').samplerLoop")
    assert [s["seed"] for s in state["steps"]] == [42, 43, 44]
    check = prompt
    for s in state["steps"]:
        kwargs = {"temperature": 1.0, "top_k": 20, "top_p": 0.9, "seed": s["seed"]}
        assert continuation(bundled_lm, check, 1, **kwargs) == s["token"]["text"]
        check += s["token"]["text"]
    press(page, ".sp-reset", "Enter")
    assert [step(page, n)["steps"][-1]["token"]["id"] for n in (1, 2, 3)] == tokens
    OUTPUT.mkdir(exist_ok=True)
    page.locator(f"{ROOT} .sp-part-loop").screenshot(path=str(OUTPUT / "lesson-sampler-loop.png"))
    assert not errors, errors
    page.close()


def test_the_sampler_fits_a_phone_and_reports_a_bad_prompt(stack, browser):
    page, errors = open_sampler(stack, browser, width=390)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    OUTPUT.mkdir(exist_ok=True)
    page.locator(ROOT).screenshot(path=str(OUTPUT / "lesson-sampler-phone.png"))
    page.locator(f'{ROOT} [data-role="prompt"]').fill("   ")
    page.wait_for_function(
        f"document.querySelector('{ROOT} > .widget-status').dataset.state === 'error'",
        timeout=15_000,
    )
    assert page.locator(f"{ROOT} > .widget-status").inner_text().startswith("The prompt is empty")
    assert not errors, errors
    page.close()
