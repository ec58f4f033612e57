"""The widgets of lessons 3, 4 and 5 (dot-product, embeddings, positions) in a real browser
on the live stack. Each test opens its lesson, waits for the first drawing, and checks
what was drawn against numbers computed here, in numpy, from the very tensors the reply
carried (its float16 payloads, decoded independently of the page's decoder); then it
types a new prompt and drives the main interaction from the keyboard."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.conftest import REPO

from .widget_pages import tensor_of

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"


def open_widget(stack, browser, slug: str, widget: str, width: int = 1366):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.http_url}/lessons/{slug}/")
    root = f'figure.widget[data-widget="{widget}"]'
    wait_draws(page, root, 1)
    return page, errors, root


def draws(page, root: str) -> int:
    return int(page.locator(root).get_attribute("data-draws") or 0)


def wait_draws(page, root: str, at_least: int) -> None:
    page.wait_for_function(
        """([root, n]) => {
            const f = document.querySelector(root);
            const failed = f && f.querySelector('.widget-status[data-state="error"]');
            if (failed) throw new Error(failed.textContent);
            return f && Number(f.dataset.draws || 0) >= n;
        }""",
        arg=[root, at_least],
        timeout=60_000,
    )


def reply_tensor(page, root: str, name: str) -> np.ndarray:
    """A tensor of the widget's last reply, decoded here from its base64 float16."""
    payload = page.evaluate(
        "([root, name]) => document.querySelector(root).lastTrace.raw.tensors[name]",
        [root, name],
    )
    return tensor_of(payload)


def number(text: str) -> float:
    """A number as the widgets print it (a true minus sign, 3 decimals)."""
    match = re.search(r"[−-]?\d+(\.\d+)?", text)
    assert match, text
    return float(match.group(0).replace("−", "-"))


def cosine(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- lesson 3: the dot-product lab ---------------------------------------------------------------


def picked(page, root: str, which: int) -> int:
    chips = page.locator(f"{root} .vk-picker").nth(which)
    return int(chips.locator('[aria-checked="true"]').get_attribute("data-position"))


def check_dot_product_numbers(page, root: str) -> tuple[int, int]:
    """The printed lengths, dot product and cosine against numpy on the reply's vectors."""
    embeddings = reply_tensor(page, root, "token_embeddings")
    a, b = picked(page, root, 0), picked(page, root, 1)
    va, vb = embeddings[a], embeddings[b]
    normalised = page.locator(f"{root} .dp-normalise").get_attribute("aria-pressed") == "true"
    expected_dot = cosine(va, vb) if normalised else float(va @ vb)
    assert number(page.locator(f"{root} .dp-cosine").inner_text()) == pytest.approx(
        cosine(va, vb), abs=6e-4
    )
    assert number(page.locator(f"{root} .dp-dot").inner_text()) == pytest.approx(
        expected_dot, abs=6e-4
    )
    assert number(page.locator(f"{root} .dp-length-a").inner_text()) == pytest.approx(
        np.linalg.norm(va), abs=6e-4
    )
    assert number(page.locator(f"{root} .dp-length-b").inner_text()) == pytest.approx(
        np.linalg.norm(vb), abs=6e-4
    )
    return a, b


def test_dot_product_lab_computes_from_the_reply_and_works_from_the_keyboard(stack, browser):
    page, errors, root = open_widget(stack, browser, "vectors", "dot-product")
    dims = page.evaluate(f"document.querySelector('{root}').lastTrace.dims")
    tokens = page.evaluate(f"document.querySelector('{root}').lastTrace.tokens")
    assert [t["text"] for t in tokens] == ["the", " king", " and", " the", " queen"]
    assert page.locator(f"{root} .dp-figure").get_attribute("data-cells") == str(dims["n_embd"])
    a, b = check_dot_product_numbers(page, root)
    assert (a, b) == (1, 4)  # " king" and " queen" by default

    # the nearest tokens: top_k of them, sorted, the token itself left out
    for which, position in (("a", a), ("b", b)):
        items = page.locator(f'{root} .dp-neighbours[data-for="{which}"] li')
        assert items.count() == 10
        cosines = [float(items.nth(i).get_attribute("data-cosine")) for i in range(10)]
        assert cosines == sorted(cosines, reverse=True)
        assert all(-1 <= c <= 1 for c in cosines)
        ids = [int(items.nth(i).get_attribute("data-token-id")) for i in range(10)]
        assert tokens[position]["id"] not in ids

    # the strips: End puts the cursor on the last dimension, where the running sum is a · b
    page.locator(f"{root} .dp-figure").focus()
    page.keyboard.press("End")
    readout = page.locator(f"{root} .dp-readout").inner_text()
    assert f"Dimension {dims['n_embd'] - 1}" in readout
    assert readout.rstrip(".").endswith(page.locator(f"{root} .dp-dot").inner_text())

    # choose b with the keyboard: the arrow key moves along the chips, Enter picks
    before = draws(page, root)
    page.locator(f"{root} .vk-picker").nth(1).locator('[aria-checked="true"]').focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    wait_draws(page, root, before + 1)
    assert picked(page, root, 1) == 3
    check_dot_product_numbers(page, root)

    # normalize first: the dot product of the unit vectors is the cosine
    page.locator(f"{root} .dp-normalise").focus()
    page.keyboard.press("Space")
    assert page.locator(f"{root} .dp-normalise").get_attribute("aria-pressed") == "true"
    check_dot_product_numbers(page, root)
    assert (
        page.locator(f"{root} .dp-dot").inner_text()
        == page.locator(f"{root} .dp-cosine").inner_text()
    )
    assert number(page.locator(f"{root} .dp-unit-length").inner_text()) == 1.0
    page.locator(f"{root} .dp-normalise").click()

    # a new text: redrawn from a new reply
    before = draws(page, root)
    page.locator(f'{root} [data-role="prompt"]').fill("love and hate")
    wait_draws(page, root, before + 1)
    texts = page.locator(f"{root} .vk-picker").nth(0).locator("button").all_inner_texts()
    new_tokens = page.evaluate(f"document.querySelector('{root}').lastTrace.tokens")
    assert texts == [t["text"].replace(" ", "·") for t in new_tokens]
    assert texts[-2:] == ["·and", "·hate"]
    check_dot_product_numbers(page, root)

    # a blank text: the server's sentence in the status line, then back to drawing
    status = page.locator(f"{root} .widget-status")
    page.locator(f'{root} [data-role="prompt"]').fill("   ")
    page.wait_for_function(
        "(s) => document.querySelector(s).dataset.state === 'error'", arg=f"{root} .widget-status"
    )
    assert "empty" in status.inner_text()
    page.locator(f'{root} [data-role="prompt"]').fill("the king and the queen")
    page.wait_for_function(
        "(s) => document.querySelector(s).dataset.state !== 'error'", arg=f"{root} .widget-status"
    )
    wait_draws(page, root, before + 2)
    OUTPUT.mkdir(exist_ok=True)
    page.locator(root).screenshot(path=str(OUTPUT / "lesson-vectors.png"))
    assert not errors, errors
    page.close()


# -- lesson 4: the embedding explorer --------------------------------------------------------------


def test_embedding_explorer_draws_strips_map_and_an_honest_analogy(stack, browser):
    page, errors, root = open_widget(stack, browser, "embeddings", "embeddings")
    trace = page.evaluate(
        f"""(() => {{ const t = document.querySelector('{root}').lastTrace;
            return {{dims: t.dims, tokens: t.tokens, map: t.raw.embedding_map,
                     neighbours: t.raw.neighbours.ids, analogy: t.raw.analogy}}; }})()"""
    )
    tokens = trace["tokens"]
    assert [t["text"] for t in tokens] == ["king", " queen", " prince", " sword", " love"]
    strips = page.locator(f"{root} .vk-grid").first
    assert strips.get_attribute("data-rows") == str(len(tokens))
    assert strips.get_attribute("data-cols") == str(trace["dims"]["n_embd"])

    # the map: every token of the text and its 5 neighbours, each once
    assert all(len(ids) == 5 for ids in trace["neighbours"])
    expected = {t["id"] for t in tokens} | {i for ids in trace["neighbours"] for i in ids}
    shown = page.locator(f"{root} .em-map .em-point")
    assert shown.count() == len(expected)
    assert {int(shown.nth(i).get_attribute("data-id")) for i in range(shown.count())} == expected
    assert page.locator(f"{root} .em-map .em-prompt").count() == len(tokens)
    first, second = trace["map"]["explained"]
    assert 0 < second <= first < 1
    caption = page.locator(f"{root} .em-caption").inner_text()
    assert f"{first * 100:.1f}%" in caption and f"{second * 100:.1f}%" in caption
    assert "may be far apart" in caption

    # the map from the keyboard: the first point is a token of the text, and the cosines it
    # prints with the other tokens are the reply's vectors' cosines
    embeddings = reply_tensor(page, root, "token_embeddings")
    page.locator(f"{root} .em-map").focus()
    page.keyboard.press("Home")
    readout = page.locator(f"{root} .em-readout").nth(1).inner_text()
    assert readout.startswith("“king”: from your text (token 0)")
    for i in range(1, len(tokens)):
        text = tokens[i]["text"].replace(" ", "·")
        printed = re.search(
            re.escape(text) + r" ([−-]?\d\.\d{3})", readout.split("other tokens:")[1]
        )
        assert number(printed.group(1)) == pytest.approx(
            cosine(embeddings[0], embeddings[i]), abs=6e-4
        )
    page.keyboard.press("ArrowRight")
    assert not page.locator(f"{root} .em-readout").nth(1).inner_text().startswith("“king”")

    # the analogy: inputs left out by default; sorted cosines; the top hit with the inputs
    # allowed is what the summary says it is
    analogy = trace["analogy"]
    inputs = {analogy["a"], analogy["b"], analogy["c"]}
    results = page.locator(f"{root} .em-results li")
    assert results.count() == 5
    ids = [int(results.nth(i).get_attribute("data-token-id")) for i in range(5)]
    assert not inputs & set(ids)
    assert ids == [r["id"] for r in analogy["without_inputs"]]
    cosines = [float(results.nth(i).get_attribute("data-cosine")) for i in range(5)]
    assert cosines == sorted(cosines, reverse=True)
    summary = page.locator(f"{root} .em-analogy-summary").inner_text()
    top = analogy["with_inputs"][0]
    if top["id"] == analogy["a"]:
        assert "which is A itself" in summary
    page.locator(f"{root} .em-check input").nth(1).focus()  # "exclude the input words"
    page.keyboard.press("Space")
    assert page.locator(f"{root} .em-results").get_attribute("data-excluded") == "false"
    assert int(results.first.get_attribute("data-token-id")) == top["id"]
    assert results.first.locator(".em-cos").inner_text() == f"{top['cosine']:.3f}"
    page.keyboard.press("Space")

    # a word that is not one token: the server's sentence, and the rest still drawn
    before = draws(page, root)
    page.locator(f'{root} input[data-word="a"]').fill("Dog")
    wait_draws(page, root, before + 1)
    problem = page.locator(f"{root} .em-analogy-problem")
    assert problem.is_visible()
    assert "Analogy" in problem.inner_text() and "one token" in problem.inner_text()
    assert results.count() == 0
    before = draws(page, root)
    page.locator(f'{root} input[data-word="a"]').fill(" king")
    wait_draws(page, root, before + 1)
    assert not problem.is_visible()
    assert results.count() == 5

    # a new text: new rows, a new map
    before = draws(page, root)
    page.locator(f'{root} [data-role="prompt"]').fill(" love hate")
    wait_draws(page, root, before + 1)
    assert strips.get_attribute("data-rows") == "2"
    assert page.locator(f"{root} .em-map .em-prompt").count() == 2

    page.locator(f'{root} [data-role="prompt"]').fill("king queen prince sword love")
    wait_draws(page, root, before + 2)
    page.locator(root).screenshot(path=str(OUTPUT / "lesson-embeddings.png"))
    assert not errors, errors
    page.close()


# -- lesson 5: the position explorer ---------------------------------------------------------

GRID_DATA = """(selector) => {
    const grid = document.querySelector(selector).vkGrid;
    return {rows: grid.data.rows, cols: grid.data.cols, data: Array.from(grid.data.data)};
}"""


def grid_data(page, selector: str) -> np.ndarray:
    found = page.evaluate(GRID_DATA, selector)
    return np.array(found["data"], dtype=np.float64).reshape(found["rows"], found["cols"])


def unit_cosines(table: np.ndarray) -> np.ndarray:
    units = table / np.linalg.norm(table, axis=1, keepdims=True)
    return units @ units.T


def test_position_explorer_sums_shuffles_and_compares_the_tables(stack, browser):
    page, errors, root = open_widget(stack, browser, "positions", "positions")
    token = reply_tensor(page, root, "token_embeddings")
    position = reply_tensor(page, root, "position_embeddings")
    first = reply_tensor(page, root, "residuals")[0]
    table = reply_tensor(page, root, "position_table")
    tokens = page.evaluate(f"document.querySelector('{root}').lastTrace.tokens")
    n_tokens, width = token.shape
    for name in ("token", "position", "sum"):
        grid = page.locator(f"{root} .pe-grid-{name}")
        assert (grid.get_attribute("data-rows"), grid.get_attribute("data-cols")) == (
            str(n_tokens),
            str(width),
        )

    # the sum strip is token + position, within float16 rounding, and the page says so
    assert np.abs(token + position - first).max() < 4e-3
    check = page.locator(f"{root} .pe-check")
    assert check.get_attribute("data-within") == "true"
    assert float(check.get_attribute("data-largest")) == pytest.approx(
        np.abs(token + position - first).max(), abs=1e-6
    )
    assert np.allclose(grid_data(page, f"{root} .pe-grid-sum"), first)
    assert np.allclose(grid_data(page, f"{root} .pe-grid-token"), token)

    # the keyboard reads one cell out of all three heatmaps
    page.locator(f"{root} .pe-grid-sum").focus()
    for key in ["ArrowRight"] * 3 + ["ArrowDown"]:
        page.keyboard.press(key)
    readout = page.locator(f"{root} > .pe-readout").inner_text()
    values = [number(v) for v in re.findall(r"[−-]?\d+\.\d{3}", readout)]
    assert readout.startswith("Position 1 ") and "dimension 3:" in readout
    assert values[0] == pytest.approx(token[1, 3], abs=6e-4)
    assert values[1] == pytest.approx(position[1, 3], abs=6e-4)
    assert values[3] == pytest.approx(first[1, 3], abs=6e-4)

    # the learned position table's cosine map: computed in the page, diagonal 1, as numpy has it
    learned = grid_data(page, f"{root} .pe-cosine-learned")
    assert learned.shape == (table.shape[0], table.shape[0])
    assert np.allclose(np.diag(learned), 1, atol=1e-5)
    assert np.allclose(learned, unit_cosines(table), atol=1e-5)
    page.locator(f"{root} .pe-cosine-learned").focus()
    for key in ["ArrowDown", "ArrowRight"] * 2:
        page.keyboard.press(key)
    readout = page.locator(f"{root} .pe-cosine-learned ~ .pe-readout").inner_text()
    assert readout.startswith("cos(P[2], P[2]) = 1.000")
    page.keyboard.press("ArrowRight")
    readout = page.locator(f"{root} .pe-cosine-learned ~ .pe-readout").inner_text()
    assert readout.startswith("cos(P[2], P[3]) = ")
    assert number(readout.split("=")[1]) == pytest.approx(unit_cosines(table)[2, 3], abs=6e-4)

    # the sinusoidal table of 2017, for the same size, clearly marked as not this model's
    positions = np.arange(table.shape[0])[:, None]
    pairs = np.arange(width)[None, :] // 2
    angles = positions / 10000 ** (2 * pairs / width)
    sine = np.where(np.arange(width)[None, :] % 2 == 0, np.sin(angles), np.cos(angles))
    assert np.allclose(grid_data(page, f"{root} .pe-not-used .vk-grid"), sine, atol=1e-5)
    assert np.allclose(np.diag(grid_data(page, f"{root} .pe-cosine-sine")), 1, atol=1e-5)
    assert "not used by this model" in page.locator(f"{root} .pe-not-used").inner_text()

    # shuffle from the keyboard: the token rows move with their words, the position rows stay
    before = draws(page, root)
    old_rows = {t["id"]: token[i] for i, t in enumerate(tokens)}
    page.locator(f"{root} .pe-shuffle").focus()
    page.keyboard.press("Enter")
    wait_draws(page, root, before + 1)
    text = page.locator(f'{root} [data-role="prompt"]').input_value()
    assert text != "Dog chases cat" and sorted(text.split()) == ["Dog", "cat", "chases"]
    new_tokens = page.evaluate(f"document.querySelector('{root}').lastTrace.tokens")
    new_token = reply_tensor(page, root, "token_embeddings")
    for i, t in enumerate(new_tokens):
        if t["id"] in old_rows:
            assert np.array_equal(new_token[i], old_rows[t["id"]])
    shared = min(len(tokens), len(new_tokens))
    new_position = reply_tensor(page, root, "position_embeddings")
    assert np.array_equal(new_position[:shared], position[:shared])
    moved = page.locator(f"{root} .pe-moved").inner_text()
    assert "The position rows stayed put" in moved and "largest change 0.000" in moved
    # the table was sent once; the maps stay drawn from it
    sent = page.evaluate(f"Object.keys(document.querySelector('{root}').lastTrace.tensors)")
    assert "position_table" not in sent
    assert page.locator(f"{root} .pe-cosine-learned").get_attribute("data-rows") == str(
        table.shape[0]
    )
    page.wait_for_timeout(800)  # let the token rows finish sliding before the picture
    page.locator(root).screenshot(path=str(OUTPUT / "lesson-positions.png"))

    # a new text
    before = draws(page, root)
    page.locator(f'{root} [data-role="prompt"]').fill("To be, or not to be")
    wait_draws(page, root, before + 1)
    rows = page.locator(f"{root} .pe-grid-token").get_attribute("data-rows")
    assert rows == str(len(page.evaluate(f"document.querySelector('{root}').lastTrace.tokens")))
    assert page.locator(f"{root} .pe-moved").inner_text() == ""
    assert not errors, errors
    page.close()


# -- all three: a phone and a projector ------------------------------------------------------

WIDGETS = [("vectors", "dot-product"), ("embeddings", "embeddings"), ("positions", "positions")]
FITS = """(root) => {
    const figure = document.querySelector(root);
    return document.documentElement.scrollWidth <= window.innerWidth
        && figure.scrollWidth <= figure.clientWidth + 1;
}"""


def test_the_vector_widgets_fit_a_phone_and_grow_on_a_projector(stack, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for slug, widget in WIDGETS:
        root = f'figure.widget[data-widget="{widget}"]'
        page.goto(f"{stack.http_url}/lessons/{slug}/")
        wait_draws(page, root, 1)
        assert page.evaluate(FITS, root), f"{widget} is wider than a phone"
        page.locator(root).screenshot(path=str(OUTPUT / f"lesson-{slug}-phone.png"))

    # presentation mode: the canvases redraw with bigger type
    page.set_viewport_size({"width": 1280, "height": 720})
    root = 'figure.widget[data-widget="dot-product"]'
    page.goto(f"{stack.http_url}/lessons/vectors/")
    wait_draws(page, root, 1)
    figure = page.locator(f"{root} .dp-figure")
    small = figure.bounding_box()["height"]
    page.click("#presentation-toggle")
    page.wait_for_function(
        "([selector, h]) => document.querySelector(selector).getBoundingClientRect().height > h",
        arg=[f"{root} .dp-figure", small],
    )
    assert page.evaluate(FITS, root)
    page.locator(root).screenshot(path=str(OUTPUT / "lesson-vectors-projector.png"))
    page.click("#presentation-toggle")  # leave it off for the other tests
    assert not errors, errors
    page.close()
