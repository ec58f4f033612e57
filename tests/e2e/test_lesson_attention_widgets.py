"""The widgets of lessons 6 and 7 (attention-head, head-grid) in a real browser on the live
stack. Each test opens its lesson, waits for the first drawing, and checks what was drawn
against numbers worked out here, in numpy, from the very tensors the reply carried (its
float16 payloads, decoded here independently of the page's decoder); then it types a new
prompt and drives the main interaction from the keyboard."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"


def open_widget(stack, browser, slug: str, widget: str, width: int = 1366):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.http_url}/lessons/{slug}/")
    root = f'figure.widget[data-widget="{widget}"]'
    wait_until(page, root, "draws >= 1")
    return page, errors, root


def wait_until(page, root: str, condition: str) -> None:
    """Until `condition` holds, with `f` the figure, `draws` its count and `trace` its reply;
    a server error shown in the widget fails at once with its sentence."""
    page.wait_for_function(
        f"""(root) => {{
            const f = document.querySelector(root);
            if (!f) return false;
            const failed = f.querySelector('.widget-status[data-state="error"]');
            if (failed) throw new Error(failed.textContent);
            const draws = Number(f.dataset.draws || 0);
            const trace = f.lastTrace;
            return Boolean(trace) && ({condition});
        }}""",
        arg=root,
        timeout=60_000,
    )


def draws(page, root: str) -> int:
    return int(page.locator(root).get_attribute("data-draws") or 0)


def reply(page, root: str) -> dict:
    """The widget's last reply as it came over the wire."""
    return page.evaluate(f"document.querySelector('{root}').lastTrace.raw")


def tensor(payload) -> np.ndarray:
    dtype = "<f2" if payload["dtype"] == "float16" else "<f4"
    data = np.frombuffer(base64.b64decode(payload["data"]), dtype=dtype)
    return data.reshape(payload["shape"]).astype(np.float64)


def number(text: str) -> float:
    """A number as the widgets print it (a true minus sign)."""
    match = re.search(r"[−-]?\d+(\.\d+)?", text)
    assert match, text
    return float(match.group(0).replace("−", "-"))


def check_attention_maps(attention: np.ndarray) -> None:
    """(L, H, T, T) maps from the reply: lower-triangular, every row summing to 1."""
    t = attention.shape[-1]
    future = np.triu(np.ones((t, t), dtype=bool), k=1)
    assert np.all(attention[..., future] == 0)
    assert np.all(attention >= 0)
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-3)


def figure_int(page, root: str, name: str) -> int:
    """One of the numbers the widget keeps on its figure: data-layer, data-head, data-query."""
    return int(page.locator(root).get_attribute(f"data-{name}"))


def picture(page, root: str, panel: str, name: str) -> str:
    """A data attribute of the (first) canvas in a panel."""
    return page.locator(f"{root} {panel} .ah-matrix-canvas").first.get_attribute(f"data-{name}")


def no_page_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


# -- lesson 6: one head, step by step ------------------------------------------------------------


def check_head_panels(page, root: str) -> dict:
    """Every panel of the chosen head against numpy on the reply's q, k, v, scores, attention."""
    message = reply(page, root)
    layer, head, query = (figure_int(page, root, k) for k in ("layer", "head", "query"))
    assert message["layers"] == [layer]
    h = message["heads"].index(head)
    hs = message["dims"]["head_size"]
    t = message["tensors"]
    q, k, v = (tensor(t[name])[0, h] for name in ("q", "k", "v"))
    scores = tensor(t["scores"])[0, h]
    attention = tensor(t["attention"])
    check_attention_maps(attention)
    weights = attention[0, h]
    n = len(message["tokens"])
    assert page.locator(f"{root} .ah-matrix-canvas").nth(5).get_attribute("data-rows") == str(n)

    # (b) q·kᵀ from q and k is the reply's scaled scores × √d_k, to float16 rounding
    raw = q @ k.T
    assert np.abs(raw - scores * np.sqrt(hs)).max() < 0.02 * max(1.0, np.abs(raw).max())
    # (c) the printed check: (b) ÷ √d_k against the reply's scores, in score units
    caption_c = page.locator(f"{root} .ah-panel").nth(2).locator(".ah-caption")
    assert f"√{hs} = {np.sqrt(hs):.3f}" in caption_c.inner_text()
    difference = np.abs(raw / np.sqrt(hs) - scores).max()
    assert difference < 0.02
    assert float(caption_c.get_attribute("data-difference")) == pytest.approx(difference, abs=1e-4)
    printed = number(caption_c.inner_text().split("largest difference")[1])
    assert printed == pytest.approx(difference, abs=1e-4)

    # (e) the printed row sums, and (f) z_i = Σ_j w_ij v_j for the picked query
    sums = json.loads(picture(page, root, ".ah-panel-softmax", "row-sums"))
    np.testing.assert_allclose(sums, weights.sum(axis=-1), atol=1e-3)
    z = json.loads(picture(page, root, ".ah-panel-sum", "z"))
    np.testing.assert_allclose(z, weights[query] @ v, atol=1e-3)
    assert picture(page, root, ".ah-panel-sum", "rows") == str(query + 2)  # the j ≤ i rows and z
    return {"message": message, "weights": weights, "query": query}


def test_one_head_step_by_step_draws_the_real_head_and_works_from_the_keyboard(stack, browser):
    page, errors, root = open_widget(stack, browser, "attention-head", "attention-head")
    first = check_head_panels(page, root)
    message = first["message"]
    assert "".join(t["text"] for t in message["tokens"]) == "The cat sat on the mat"
    assert message["heads"] == list(range(message["dims"]["n_head"]))
    assert first["query"] == len(message["tokens"]) - 1  # the last token asks first
    ops = page.evaluate("window.glassboxLesson.sent")

    # the query chips from the keyboard: the arrow key picks the token before, no new request
    before = draws(page, root)
    page.locator(f'{root} .ah-query [aria-checked="true"]').focus()
    page.keyboard.press("ArrowLeft")
    wait_until(page, root, f"draws > {before}")
    assert int(page.locator(root).get_attribute("data-query")) == first["query"] - 1
    assert page.evaluate("document.activeElement.getAttribute('aria-checked')") == "true"
    check_head_panels(page, root)

    # a map from the keyboard: the cursor reads a number out; Enter makes its row the query
    page.locator(f"{root} .ah-panel-softmax .ah-matrix-canvas").focus()
    page.keyboard.press("ArrowUp")
    readout = page.locator(f"{root} .ah-panel-softmax .ah-readout").inner_text()
    assert "weight" in readout and "%" in readout
    lines = page.locator(f"{root} .ah-lines")
    assert lines.get_attribute("data-focus") == str(first["query"] - 2)  # the row under the cursor
    page.keyboard.press("Enter")
    assert int(page.locator(root).get_attribute("data-query")) == first["query"] - 2

    # another head of the same layer: redrawn from the same reply
    page.locator(f"{root} .ah-head").select_option("3")
    wait_until(page, root, "f.dataset.head === '3'")
    check_head_panels(page, root)
    assert page.evaluate("window.glassboxLesson.sent") == ops

    # another layer: asked for again
    page.locator(f"{root} .ah-layer").select_option("2")
    wait_until(page, root, "f.dataset.layer === '2' && trace.layers[0] === 2")
    assert page.evaluate("window.glassboxLesson.sent") == ops + 1
    check_head_panels(page, root)

    # a new text, "The cat sat": 4 tokens, each map 4 × 4, the first row [1, 0, 0, 0]
    page.locator(f'{root} [data-role="prompt"]').fill("The cat sat")
    wait_until(page, root, f"trace.tokens.length !== {len(message['tokens'])}")
    cat = check_head_panels(page, root)
    tokens = [t["text"] for t in cat["message"]["tokens"]]
    assert len(tokens) == 4 and "".join(tokens) == "The cat sat"
    attention = tensor(cat["message"]["tensors"]["attention"])
    assert attention.shape[-2:] == (4, 4)
    check_attention_maps(attention)
    assert np.all(attention[..., 0, :] == [1.0, 0, 0, 0])  # the first token sees only itself
    assert page.locator(f"{root} .ah-query .ah-chip").count() == 4

    page.locator(f'{root} [data-role="prompt"]').fill("The cat sat on the mat")
    wait_until(page, root, "trace.tokens.length > 4")
    OUTPUT.mkdir(exist_ok=True)
    page.locator(root).screenshot(path=str(OUTPUT / "lesson-attention-head.png"))
    assert not errors, errors
    page.close()

    # a phone: the panels stack, nothing wider than the screen
    phone, phone_errors, root = open_widget(stack, browser, "attention-head", "attention-head", 390)
    assert no_page_overflow(phone)
    assert not phone_errors, phone_errors
    phone.close()


# -- lesson 7: the head grid ---------------------------------------------------------------------


def pattern_scores(weights: np.ndarray) -> dict:
    """What the grid prints for one (n, n) map: previous-token, first-token and self scores."""
    n = weights.shape[0]
    i = np.arange(1, n)
    return {
        "previous": weights[i, i - 1].mean(),
        "first": weights[i, 0].mean(),
        "self": np.diag(weights).mean(),
    }


def check_grid(page, root: str) -> dict:
    message = reply(page, root)
    dims = message["dims"]
    assert message["bytes"] < 8_000_000
    assert message["layers"] == list(range(dims["n_layer"]))
    assert message["heads"] == list(range(dims["n_head"]))
    t = message["tensors"]
    attention = tensor(t["attention"])
    check_attention_maps(attention)
    n = int(page.locator(root).get_attribute("data-tokens"))  # the widget draws at most its limit
    assert n == min(attention.shape[-1], n) and n >= 1
    thumbs = page.locator(f"{root} .hg-thumb")
    assert thumbs.count() == dims["n_layer"] * dims["n_head"]
    printed = page.evaluate(
        f"""[...document.querySelectorAll('{root} .hg-thumb')].map((b) => ({{
            layer: +b.dataset.layer, head: +b.dataset.head, best: b.classList.contains('is-best'),
            scores: Object.fromEntries([...b.querySelectorAll('.hg-score')]
                .map((s) => [s.dataset.pattern, +s.dataset.value])),
        }}))"""
    )
    expected = {}
    for item in printed:
        want = pattern_scores(attention[item["layer"], item["head"], :n, :n])
        expected[(item["layer"], item["head"])] = want
        for key, value in want.items():
            assert item["scores"][key] == pytest.approx(value, abs=1e-4), (item, key)
    pattern = page.locator(f"{root} .hg-sort").input_value()
    best = max(expected, key=lambda lh: expected[lh][pattern])
    starred = [(i["layer"], i["head"]) for i in printed if i["best"]]
    assert len(starred) == 1
    assert expected[starred[0]][pattern] == pytest.approx(expected[best][pattern])  # ties aside

    # heads add up: Σ_h head_outputs + b = attn_out at the chosen layer and token
    layer, token = figure_int(page, root, "layer"), figure_int(page, root, "token")
    outputs = tensor(t["head_outputs"])[layer, :, token]
    attn_out = tensor(t["attn_out"])[layer, token]
    bias = tensor(t["attn_out_bias"])[layer]
    difference = np.abs(outputs.sum(axis=0) + bias - attn_out).max()
    assert difference < 0.02  # float16 on the wire
    check = page.locator(f"{root} .hg-check")
    assert float(check.get_attribute("data-difference")) == pytest.approx(difference, abs=1e-4)
    assert check.inner_text().startswith("max |Σ heads + b − attn_out| = ")
    bars = page.locator(f"{root} .hg-bar").evaluate_all(
        "(bars) => bars.map((b) => +b.dataset.value)"
    )
    want = [*np.linalg.norm(outputs, axis=-1), np.linalg.norm(bias), np.linalg.norm(attn_out)]
    np.testing.assert_allclose(bars, want, atol=1e-3)
    return {"message": message, "expected": expected, "n": n}


def test_head_grid_scores_every_head_from_the_reply_and_works_from_the_keyboard(stack, browser):
    page, errors, root = open_widget(stack, browser, "multi-head", "head-grid")
    first = check_grid(page, root)
    assert first["n"] == len(first["message"]["tokens"])  # the default text is under the limit
    assert "the grid draws at most 48 tokens" in page.locator(f"{root} .hg-note").inner_text()

    # the keyboard: from the first thumbnail, right, down, Enter opens layer 1, head 1
    before = draws(page, root)
    page.locator(f'{root} .hg-thumb[data-layer="0"][data-head="0"]').focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    wait_until(page, root, f"draws > {before} && f.dataset.layer === '1' && f.dataset.head === '1'")
    chosen = page.locator(f'{root} .hg-thumb[data-layer="1"][data-head="1"]')
    assert chosen.get_attribute("aria-pressed") == "true"
    assert page.locator(f"{root} .hg-detail-title").inner_text() == "Layer 1, head 1"
    scores = first["expected"][(1, 1)]
    detail = page.locator(f"{root} .hg-detail-scores").inner_text()
    assert f"previous-token {scores['previous']:.3f}" in detail.replace("−", "-")
    check_grid(page, root)

    # sort by first-token: the strongest first-token head opens
    page.locator(f"{root} .hg-sort").select_option("first")
    best = max(first["expected"], key=lambda lh: first["expected"][lh]["first"])
    wait_until(page, root, f"f.dataset.layer === '{best[0]}' && f.dataset.head === '{best[1]}'")
    assert page.locator(f"{root} .hg-rank").first.get_attribute("data-layer") == str(best[0])

    # the large map's rows drive the line view
    page.locator(f"{root} .hg-detail .ah-matrix-canvas").focus()
    page.keyboard.press("ArrowUp")
    token = figure_int(page, root, "token")
    assert page.locator(f"{root} .hg-detail .ah-lines").get_attribute("data-focus") == str(
        token - 1
    )

    # the token for "heads add up" from the keyboard, then a new text
    page.locator(f'{root} .hg-token [aria-checked="true"]').focus()
    page.keyboard.press("Home")
    wait_until(page, root, "f.dataset.token === '0'")
    check_grid(page, root)
    old = len(first["message"]["tokens"])
    page.locator(f'{root} [data-role="prompt"]').fill("My lord, my lord, the king is come.")
    wait_until(page, root, f"trace.tokens.length !== {old}")
    check_grid(page, root)
    assert no_page_overflow(page)

    OUTPUT.mkdir(exist_ok=True)
    page.locator(root).screenshot(path=str(OUTPUT / "lesson-multi-head.png"))
    assert not errors, errors
    page.close()
