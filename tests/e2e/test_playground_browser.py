"""The playground in a real browser (Debian's Chromium driven by Playwright) on the live stack."""

from __future__ import annotations

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"


def heatmap_has_ink(page, selector: str) -> bool:
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const context = canvas.getContext('2d');
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            const first = [data[0], data[1], data[2]];
            for (let i = 0; i < data.length; i += 4) {
                const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
                if (r !== first[0] || g !== first[1] || b !== first[2]) return true;
            }
            return false;
        }""",
        selector,
    )


def test_generate_shows_tokens_candidates_and_attention(stack, browser):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(stack.http_url + "/playground/")
    page.fill("#prompt", "ROMEO.\nBut soft, what light")
    page.click("#generate")

    page.wait_for_selector("#tokens .token.generated", timeout=30_000)
    page.wait_for_function(
        "document.querySelector('#status').textContent.toLowerCase().includes('done')",
        timeout=60_000,
    )
    assert page.locator("#tokens .token.generated").count() >= 5
    assert page.locator("#candidates .candidate").count() >= 3
    assert heatmap_has_ink(page, "#heatmap")
    assert page.locator("#heads-grid canvas").count() >= 1

    # the keyboard reaches a generated token, and Enter selects it
    page.locator("#tokens .token.generated").first.focus()
    page.keyboard.press("Enter")
    assert page.locator("#candidates .candidate").count() >= 3

    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "playground.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_a_server_error_is_shown_to_the_student(stack, browser):
    page = browser.new_page()
    page.goto(stack.http_url + "/playground/")
    page.fill("#prompt", "   ")
    page.click("#generate")
    page.wait_for_function(
        "document.querySelector('#status').textContent.toLowerCase().includes('empty')",
        timeout=10_000,
    )
    page.close()
