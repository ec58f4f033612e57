"""Lesson 12's KV-cache widget in a real browser on the live stack: the measurement runs on
the worker (the `kv_cache` trace part) and reports identical ids with and without the
cache; the texts are the bundled model's own greedy continuation, worked out here from the
bundled_lm fixture; the bytes shown are the formula with the model's config; the
quantization panel shows the replies' KL and memory; the controls work from the keyboard;
and the page fits a phone."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import REPO

from .widget_pages import open_lesson_page, wait_for_widget

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"
ROOT = 'figure.widget[data-widget="kv-cache"]'
DEFAULT_PROMPT = "ROMEO.\nBut soft, what light"
DEFAULT_TOKENS = 32


def open_widget(stack, browser, width: int = 1366):
    page, errors = open_lesson_page(stack, browser, "making-it-fast", width)
    wait_until(page, "draws >= 1 && quant")
    return page, errors


def wait_until(page, condition: str) -> None:
    """Until `condition` holds (`draws`, `kv` = the last kv_cache reply, `quant` = the
    quantization panel complete); an error shown in the widget fails with its sentence."""
    wait_for_widget(
        page,
        ROOT,
        f"kv && ({condition})",
        names="""const kv = f.lastTrace ? f.lastTrace.raw.kv_cache : null;
            const quant = f.querySelector('.kv-precisions[data-state="drawn"]') !== null;""",
        timeout=90_000,
    )


def kv_reply(page) -> dict:
    return page.evaluate(f"document.querySelector('{ROOT}').lastTrace.raw.kv_cache")


def greedy(lm, text: str, n: int) -> list[int]:
    """The bundled model's own greedy continuation, computed here in the test process."""
    events = lm.generate(lm.tokenizer.encode(text), max_new_tokens=n, temperature=0.0, seed=0)
    return [e.token_id for e in events if e.type == "step"]


def formula(lm, tokens: int) -> int:
    config = lm.config
    bytes_per_number = torch.empty((), dtype=lm.dtype).element_size()
    head_size = config.n_embd // config.n_head
    return 2 * config.n_layer * config.n_head * head_size * tokens * bytes_per_number


def test_the_measurement_runs_on_the_worker_with_identical_ids(stack, browser, bundled_lm):
    page, errors = open_widget(stack, browser)
    assert page.locator(f'{ROOT} [data-role="prompt"]').input_value() == DEFAULT_PROMPT
    kv = kv_reply(page)
    ids = bundled_lm.tokenizer.encode(DEFAULT_PROMPT)
    assert kv["prompt_tokens"] == len(ids) and kv["requested_tokens"] == DEFAULT_TOKENS

    # identical ids, and they are the bundled model's greedy continuation
    expected = greedy(bundled_lm, DEFAULT_PROMPT, DEFAULT_TOKENS)
    assert kv["identical"] is True
    assert kv["cached"]["ids"] == kv["uncached"]["ids"] == expected
    assert page.locator(f"{ROOT} .kv-identical").inner_text() == "Identical ids: yes"
    expected_text = bundled_lm.tokenizer.decode(expected)
    for run in ("cached", "uncached"):
        box = page.locator(f"{ROOT} .kv-text-{run}")
        assert box.get_attribute("data-ids") == ",".join(map(str, expected))
        assert box.locator(".kv-text-new").text_content() == expected_text
        assert box.locator(".kv-text-prompt").text_content() == DEFAULT_PROMPT

    # timed on the worker, every step; the chart has one point per step for each run
    for run in (kv["cached"], kv["uncached"]):
        assert len(run["step_ms"]) == len(expected) and all(ms > 0 for ms in run["step_ms"])
    lines = page.locator(f"{ROOT} .kv-chart polyline")
    assert lines.count() == 2
    for line in lines.all():
        assert len(line.get_attribute("points").split()) == len(expected)
    speed_up = kv["uncached"]["total_ms"] / kv["cached"]["total_ms"]
    assert page.locator(f"{ROOT} .kv-speedup").inner_text() == f"{speed_up:.1f}× faster"
    assert f"{kv['threads']} thread" in page.locator(f"{ROOT} .kv-totals").inner_text()
    print(
        f"\nkv-cache, default prompt ({len(ids)} + {len(expected)} tokens, "
        f"{kv['threads']} thread(s)): with cache {kv['cached']['total_ms']:.1f} ms, "
        f"without {kv['uncached']['total_ms']:.1f} ms, ×{speed_up:.2f}"
    )

    # the bytes shown are the formula with the model's own config
    tokens = len(ids) + len(expected)
    rows = page.locator(f"{ROOT} .kv-formula")
    assert int(rows.nth(0).get_attribute("data-bytes")) == formula(bundled_lm, tokens)
    assert int(rows.nth(1).get_attribute("data-bytes")) == formula(
        bundled_lm, bundled_lm.config.block_size
    )
    assert f"{formula(bundled_lm, tokens):,} bytes" in rows.nth(0).inner_text()
    assert kv["cache_tensor_bytes"] == formula(bundled_lm, tokens - 1)
    # GPT-2 small for scale: 12 layers, 12 heads of 64, 1,024 tokens, 2 bytes
    assert int(rows.nth(2).get_attribute("data-bytes")) == 2 * 12 * 12 * 64 * 1024 * 2
    assert "37,748,736 bytes (36.0 MiB)" in rows.nth(2).inner_text()

    # the score matrix: drawn for the whole text, T(T+1)/2 scores
    scores = page.locator(f"{ROOT} .kv-scores-text")
    assert scores.get_attribute("data-length") == str(tokens)
    assert f"{tokens * (tokens + 1) // 2:,} scores" in scores.inner_text()
    assert not errors, errors
    page.close()


def test_the_quantization_panel_shows_the_replies_kl_and_memory(stack, browser, bundled_lm):
    page, errors = open_widget(stack, browser)
    replies = page.evaluate(
        f"""() => {{
            const q = document.querySelector('{ROOT}').quantTraces;
            return Object.fromEntries(Object.entries(q).map(([b, t]) => [b, t.raw.experiment]));
        }}"""
    )
    assert sorted(replies) == ["16", "4", "8"]
    memory = replies["4"]["memory_bytes"]
    assert int(memory["32"]) == 4 * bundled_lm.model.num_parameters()
    for bits in ("32", "16", "8", "4"):
        column = page.locator(f'{ROOT} .kv-precision[data-bits="{bits}"]')
        assert int(column.locator(".kv-precision-memory").get_attribute("data-bytes")) == int(
            memory[bits]
        )
        shown = column.locator(".kv-top li")
        side = replies["16"]["before"] if bits == "32" else replies[bits]["after"]
        assert shown.evaluate_all("ls => ls.map(l => Number(l.dataset.tokenId))") == [
            item["id"] for item in side
        ]
        kl = float(column.locator(".kv-kl").get_attribute("data-kl"))
        if bits == "32":
            assert kl == 0
        else:
            assert kl == replies[bits]["kl_bits"]
            # the reply rounds to 6 decimals: its 0 is shown as "below 0.000001"
            text = column.locator(".kv-kl").inner_text()
            assert text.startswith("KL = " if kl else "KL < 0.000001 bits"), text
    # every precision compares with the same plain model
    assert replies["16"]["before"] == replies["8"]["before"] == replies["4"]["before"]
    assert replies["16"]["kl_bits"] < replies["4"]["kl_bits"]
    assert not errors, errors
    page.close()


def test_the_controls_work_from_the_keyboard_and_fit_a_phone(stack, browser, bundled_lm):
    page, errors = open_widget(stack, browser)
    before = int(page.locator(ROOT).get_attribute("data-draws"))

    # a new text, then Ctrl+Enter measures it at once
    prompt = page.locator(f'{ROOT} [data-role="prompt"]')
    prompt.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("My lord")
    page.keyboard.press("Control+Enter")
    wait_until(page, "kv.prompt_tokens === 2 && quant")
    assert kv_reply(page)["cached"]["ids"] == greedy(bundled_lm, "My lord", DEFAULT_TOKENS)

    # the count of new tokens: type 8, press Enter
    count = page.locator(f'{ROOT} [data-role="new-tokens"]')
    count.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("8")
    page.keyboard.press("Enter")
    wait_until(page, "kv.new_tokens === 8")
    kv = kv_reply(page)
    assert kv["identical"] and kv["cached"]["ids"] == greedy(bundled_lm, "My lord", 8)
    assert int(page.locator(f"{ROOT} .kv-formula").first.get_attribute("data-bytes")) == formula(
        bundled_lm, 10
    )

    # the length slider: Home is one token, each arrow one more
    slider = page.locator(f'{ROOT} [data-role="length"]')
    slider.focus()
    page.keyboard.press("Home")
    scores = page.locator(f"{ROOT} .kv-scores-text")
    assert scores.get_attribute("data-length") == "1"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert scores.get_attribute("data-length") == "3"
    assert "6 scores" in scores.inner_text()

    # the measure button from the keyboard
    page.locator(f"{ROOT} .kv-measure").focus()
    draws = int(page.locator(ROOT).get_attribute("data-draws"))
    page.keyboard.press("Enter")
    wait_until(page, f"draws > {draws}")
    assert int(page.locator(ROOT).get_attribute("data-draws")) > before
    OUTPUT.mkdir(exist_ok=True)
    page.locator(ROOT).screenshot(path=str(OUTPUT / "lesson-kv-cache.png"))
    assert not errors, errors
    page.close()

    phone, phone_errors = open_widget(stack, browser, width=390)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.locator(ROOT).screenshot(path=str(OUTPUT / "lesson-kv-cache-phone.png"))
    assert not phone_errors, phone_errors
    phone.close()
