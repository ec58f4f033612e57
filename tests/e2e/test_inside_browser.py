"""The "inside the model" page in a real browser (Chromium, Playwright) on the live stack."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

from .test_playground_browser import heatmap_has_ink

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"
N_LAYER = 6  # the bundled model


def open_inside(stack, browser, width: int = 1366):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(stack.http_url + "/playground/inside/")
    page.wait_for_function(
        "document.querySelector('#status').dataset.state === 'idle'", timeout=15_000
    )
    return page, errors


def wait_for_trace(page, predicate: str = "true"):
    """Until a trace reply is drawn and the page takes requests again."""
    page.wait_for_function(
        f"""() => {{
            const g = window.glassboxInside;
            return g.lastTrace !== null && !document.querySelector('#trace').disabled
                && document.querySelector('#status').dataset.state === 'done' && ({predicate});
        }}""",
        timeout=60_000,
    )


ROW_SUMS = """() => {
    const g = window.glassboxInside;
    const trace = g.lastTrace;
    const attention = trace.tensors.attention;
    const [, heads, rows, cols] = attention.shape;
    const l = trace.layers.indexOf(g.view.layer);
    const h = trace.heads.indexOf(g.view.head);
    const sums = [];
    for (let r = 0; r < rows; r += 1) {
        let sum = 0;
        const start = ((l * heads + h) * rows + r) * cols;
        for (let c = 0; c < cols; c += 1) sum += attention.data[start + c];
        sums.push(sum);
    }
    return sums;
}"""


def test_a_trace_is_drawn_and_a_head_change_redraws_without_asking(stack, browser):
    page, errors = open_inside(stack, browser)
    page.click("#trace")
    wait_for_trace(page)

    tokens = page.evaluate("window.glassboxInside.lastTrace.tokens.length")
    assert page.locator("#trace-tokens .token").count() == tokens
    assert page.locator("#lens-table tbody tr").count() == N_LAYER + 1
    assert page.locator("#residual-norms .value-bar").count() == N_LAYER + 1
    assert page.locator("#mlp-top .value-bar").count() == 10
    assert page.locator("#strip-sum").get_attribute("data-cells") == "192"

    attention_map = page.locator("#attention-map")
    assert attention_map.get_attribute("data-rows") == str(tokens)
    assert heatmap_has_ink(page, "#attention-map")
    assert heatmap_has_ink(page, "#scores-map")
    sums = page.evaluate(ROW_SUMS)
    assert len(sums) == tokens
    assert all(abs(s - 1) < 1e-2 for s in sums), sums

    # the last residual point of the lens is the model's own output
    final_top = page.locator("#final-top .value-bar").first.get_attribute("data-token-id")
    lens_top = (
        page.locator("#lens-table tbody tr")
        .last.locator(".lens-cell")
        .first.get_attribute("data-token-id")
    )
    assert final_top == lens_top

    # another head is in the reply already: redrawn, no request
    sent = page.evaluate("window.glassboxInside.requestsSent")
    page.select_option("#head", "3")
    page.wait_for_function("document.querySelector('#attention-map').dataset.head === '3'")
    assert page.evaluate("window.glassboxInside.requestsSent") == sent
    assert all(abs(s - 1) < 1e-2 for s in page.evaluate(ROW_SUMS))

    # a token chip chooses the position, still without a request
    page.locator("#trace-tokens .token").nth(2).click()
    page.wait_for_function("document.querySelector('#attention-map').dataset.position === '2'")
    assert page.locator("#position").input_value() == "2"
    assert page.evaluate("window.glassboxInside.requestsSent") == sent

    # another layer is not: asked for again
    page.select_option("#layer", "4")
    wait_for_trace(page, "g.lastTrace.layers[0] === 4")
    assert page.evaluate("window.glassboxInside.requestsSent") == sent + 1
    assert page.locator("#attention-map").get_attribute("data-position") == "2"

    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "inside.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_ablating_a_layer_compares_before_and_after_and_errors_are_shown(stack, browser):
    page, errors = open_inside(stack, browser, width=400)  # a phone: one column
    page.select_option("#layer", "2")
    boxes = page.locator("#ablate-heads input[type=checkbox]")
    assert boxes.count() == 6
    for i in range(boxes.count()):
        boxes.nth(i).check()
    page.click("#ablate-run")
    page.wait_for_selector("#ablate-result .exp-facts", timeout=60_000)
    assert page.locator("#ablate-result .exp-side.before .value-bar").count() == 10
    assert page.locator("#ablate-result .exp-side.after .value-bar").count() == 10
    kl = page.locator("#ablate-result .kl")
    assert re.fullmatch(r"[0-9.e+−-]+ bits", kl.inner_text()), kl.inner_text()
    assert float(kl.get_attribute("data-kl")) > 0
    assert page.evaluate("window.glassboxInside.lastExperiment.kl_bits") > 0
    assert not page.locator("#ablate-run").is_disabled()
    # nothing sticks out sideways on the narrow screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "inside-narrow.png"), full_page=True)

    # a bad request: the server's words, in the status line
    page.fill("#prompt", "")
    page.click("#trace")
    page.wait_for_function(
        "document.querySelector('#status').dataset.state === 'error'", timeout=15_000
    )
    status = page.locator("#status").inner_text()
    assert status.startswith("The prompt is empty"), status
    assert not page.locator("#trace").is_disabled()
    assert not errors, errors
    page.close()
