"""Lessons 9 and 10's widgets in a real browser on the live stack: the residual river (the
stream's norm per token and point, each block's write, one layer norm taken apart) and the
logit-lens ladder (every layer's prediction, the last rung against the model's output, a
followed token's rank, all the logits and their softmax). What they show is checked
against numbers recomputed here, with numpy, from the reply they drew or from the bundled
model itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import REPO
from webapp.playground.trace_protocol import decode_tensor

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"
RR = 'figure[data-widget="residual-river"]'
LL = 'figure[data-widget="logit-lens"]'
# every row of the norm table as the numbers its cells drew
NORM_CELLS = "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => +td.dataset.norm))"


def open_lesson(stack, browser, slug: str, width: int = 1366, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.http_url}/lessons/{slug}/")
    return page, errors


def draws(page, figure: str) -> int:
    return int(page.locator(figure).get_attribute("data-draws") or 0)


def wait_for_draws(page, figure: str, at_least: int) -> None:
    page.wait_for_function(
        """([sel, n]) => {
            const f = document.querySelector(sel);
            return f && Number(f.dataset.draws || 0) >= n;
        }""",
        arg=[figure, at_least],
        timeout=60_000,
    )


def wait_for_redraw(page, figure: str, before: int) -> None:
    wait_for_draws(page, figure, before + 1)


def type_and_wait(page, figure: str, text: str) -> None:
    """Type `text` into the widget's prompt (one input event) and wait for the redraw.
    How fast that is, is measured by webapp/lesson_bench.py, not asserted here."""
    before = draws(page, figure)
    page.evaluate(
        """([sel, text]) => {
            const box = document.querySelector(sel).querySelector('[data-role="prompt"]');
            box.value = text;
            box.dispatchEvent(new Event("input", {bubbles: true}));
        }""",
        [figure, text],
    )
    wait_for_redraw(page, figure, before)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def widget_value(page, figure: str, path: str):
    return page.evaluate(f"() => document.querySelector('{figure}').{path}")


def reply_tensor(page, figure: str, *path: str) -> np.ndarray:
    """A tensor of the raw reply the widget drew, decoded here (float16 → float32)."""
    keys = "".join(f"[{key!r}]" for key in path)
    return decode_tensor(widget_value(page, figure, f"lastTrace.raw.tensors{keys}"))


# -- lesson 9: the residual river ------------------------------------------------------------


def test_residual_river_draws_norms_writes_and_a_layer_norm_from_the_reply(
    stack, browser, bundled_lm
):
    page, errors = open_lesson(stack, browser, "residual-stream")
    wait_for_draws(page, RR, 1)
    assert page.locator(f'{RR} [data-role="prompt"]').input_value() == "To be, or not to be"
    residuals = reply_tensor(page, RR, "residuals").astype(np.float64)  # (L+1, T, C)
    attn_out = reply_tensor(page, RR, "attn_out").astype(np.float64)
    mlp_out = reply_tensor(page, RR, "mlp_out").astype(np.float64)
    n_layer = bundled_lm.config.n_layer
    points, T, C = residuals.shape
    assert points == n_layer + 1
    assert bundled_lm.config.n_embd == C

    # (1) the table: one row per token, one cell per point, each the numpy norm
    cells = page.locator(f"{RR} .rr-norms tbody tr")
    assert cells.count() == T
    drawn = np.array(page.locator(f"{RR} .rr-norms tbody tr").evaluate_all(NORM_CELLS))
    expected = np.linalg.norm(residuals, axis=-1).T  # (T, L+1)
    np.testing.assert_allclose(drawn, expected, rtol=1e-5)
    # the stream grows from the embeddings to the last layer (the lesson says "watch it grow")
    assert expected[-1, -1] > expected[-1, 0]

    # (2) the writes into the last token, whose row is picked on mount
    t = T - 1
    assert page.locator(f"{RR} .rr-norms tr.rr-picked").get_attribute("data-position") == str(t)
    writes = page.locator(f"{RR} .rr-write").evaluate_all(
        "ws => ws.map(w => [Number(w.dataset.norm), Number(w.dataset.share)])"
    )
    assert len(writes) == 1 + 2 * n_layer
    want = [np.linalg.norm(residuals[0, t])]
    for layer in range(n_layer):
        want += [np.linalg.norm(attn_out[layer, t]), np.linalg.norm(mlp_out[layer, t])]
    np.testing.assert_allclose([w[0] for w in writes], want, rtol=1e-5)
    final = residuals[-1, t]
    shares = [residuals[0, t] @ final / (final @ final)]
    for layer in range(n_layer):
        shares += [v[layer, t] @ final / (final @ final) for v in (attn_out, mlp_out)]
    np.testing.assert_allclose([w[1] for w in writes], shares, atol=1e-6)
    # the final vector is the embeddings plus every write: the shares add up to 1
    assert abs(sum(shares) - 1) < 0.02
    assert "add up to" in page.locator(f"{RR} .rr-writes + .rr-note").inner_text()

    # (3) the layer norm of layer 0's ln_1 on that token, recomputed over its features
    check_layer_norm(page, bundled_lm, residuals, attn_out, "ln_1", 0, t)
    text = page.locator(f"{RR} .rr-per-row").inner_text()
    assert "not per column" in text and f"{C} features" in text
    eps_shown = page.locator(f'{RR} [data-stat="eps"]').inner_text()
    assert eps_shown.startswith("10⁻") or "×10⁻" in eps_shown

    # from the keyboard: the layer select and the norm select, then another token
    before = draws(page, RR)
    page.locator(f"{RR} .rr-layer select").focus()
    page.keyboard.press("End")  # the last layer
    wait_for_redraw(page, RR, before)
    before = draws(page, RR)
    page.locator(f"{RR} .rr-which select").focus()
    page.keyboard.press("ArrowDown")  # ln_2, before the MLP
    wait_for_redraw(page, RR, before)
    check_layer_norm(page, bundled_lm, residuals, attn_out, "ln_2", n_layer - 1, t)
    before = draws(page, RR)
    page.locator(f'{RR} .rr-chip[aria-checked="true"]').focus()
    page.keyboard.press("Home")
    wait_for_redraw(page, RR, before)
    assert widget_value(page, RR, "riverWrites.position") == 0
    assert page.locator(f"{RR} .rr-norms tr.rr-picked").get_attribute("data-position") == "0"
    check_layer_norm(page, bundled_lm, residuals, attn_out, "ln_2", n_layer - 1, 0)
    page.locator(RR).screenshot(path=str(OUTPUT / "lesson-residual-river.png"))

    # typing a new text asks the model again and redraws everything from the new reply
    text = "O Romeo, Romeo! wherefore art thou Romeo?"
    type_and_wait(page, RR, text)
    ids = bundled_lm.tokenizer.encode(text)
    assert len(ids) != T
    page.wait_for_function(
        f"() => document.querySelector('{RR}').lastTrace.tokens.length === {len(ids)}",
        timeout=30_000,
    )
    new = reply_tensor(page, RR, "residuals").astype(np.float64)
    drawn = page.locator(f"{RR} .rr-norms tbody tr").evaluate_all(NORM_CELLS)
    np.testing.assert_allclose(drawn, np.linalg.norm(new, axis=-1).T, rtol=1e-5)
    # the token followed before (the first) is still followed; the writes are the new ones
    assert widget_value(page, RR, "riverWrites.position") == 0
    assert errors == []


def check_layer_norm(page, lm, residuals, attn_out, which: str, layer: int, t: int) -> None:
    """The panel's numbers against numpy: the statistics of the token's own features,
    the model's ε, the normalised vector and normalised · γ + β against the reply's out."""
    shown = widget_value(page, RR, "riverNorm")
    assert (shown["which"], shown["layer"], shown["position"]) == (which, layer, t)
    x = residuals[layer, t] + (attn_out[layer, t] if which == "ln_2" else 0)
    eps = lm.config.layer_norm_epsilon
    assert shown["eps"] == pytest.approx(eps)
    mean, var = x.mean(), x.var()  # over the C features of one token: one row
    std = np.sqrt(var + eps)
    assert shown["mean"] == pytest.approx(mean, abs=1e-9)
    assert shown["std"] == pytest.approx(std, rel=1e-9)
    # the server's own statistics, from the float32 pass, agree to float16
    assert shown["servedStd"] == pytest.approx(std, rel=5e-3)
    assert abs(shown["servedMean"] - mean) < 5e-3 * std + 1e-4
    assert shown["normalisedMean"] == pytest.approx(0, abs=1e-9)
    assert shown["normalisedStd"] == pytest.approx(np.sqrt(var / (var + eps)), rel=1e-9)
    assert shown["normalisedStd"] < 1
    norm = getattr(lm.model.transformer.h[layer], which)
    gamma = norm.weight.detach().float().numpy()
    beta = norm.bias.detach().float().numpy()
    np.testing.assert_allclose(
        reply_tensor(page, RR, which, "weight")[layer], gamma, rtol=1e-3, atol=1e-4
    )
    rebuilt = (x - mean) / std * gamma + beta
    np.testing.assert_allclose(shown["out"], rebuilt, atol=5e-3 * np.abs(rebuilt).max())
    served = reply_tensor(page, RR, which, "out")[layer, t]
    tolerance = 2e-2 * max(1.0, np.abs(served).max())  # float16 inputs and outputs
    np.testing.assert_allclose(rebuilt, served, atol=tolerance)
    assert shown["maxDiff"] < tolerance
    # and with the model's own layer norm on the float32 input
    with torch.no_grad():
        own = norm(torch.tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(own, served, atol=tolerance)


def test_residual_river_fits_a_phone(stack, browser):
    page, errors = open_lesson(stack, browser, "residual-stream", width=390, height=844)
    wait_for_draws(page, RR, 1)
    assert fits_the_screen(page)
    page.locator(RR).screenshot(path=str(OUTPUT / "lesson-residual-river-phone.png"))
    assert errors == []


# -- lesson 10: the logit-lens ladder -------------------------------------------------------


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def lens_ranks(lm, ids: list[int], position: int, token: int) -> list[int]:
    """The followed token's rank at every rung, recomputed from the bundled model: the final
    layer norm applied to each layer's stream with that stream's own statistics."""
    trace = lm.trace(ids, ["residuals"])
    with torch.no_grad():
        stream = trace.residuals[:, position].to(lm.dtype)  # (L+1, C)
        logits = lm.model.lm_head(lm.model.transformer.ln_f(stream)).float()
    return [int((row > row[token]).sum()) for row in logits]


def test_logit_lens_ladder_ends_at_the_model_s_output_and_follows_a_token(
    stack, browser, bundled_lm
):
    page, errors = open_lesson(stack, browser, "logit-lens")
    wait_for_draws(page, LL, 1)
    assert page.locator(f'{LL} [data-role="prompt"]').input_value() == "To be, or not to"
    raw = widget_value(page, LL, "lastTrace.raw")
    ids = [token["id"] for token in raw["tokens"]]
    T, L = len(ids), bundled_lm.config.n_layer
    assert ids == bundled_lm.tokenizer.encode("To be, or not to")

    # the tied-embedding note, only because it is true of the loaded model
    model = bundled_lm.model
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    assert raw["dims"]["tied_embedding"] is True
    assert "tied to the token embedding" in page.locator(f"{LL} .ll-tied").inner_text()

    # the grid: one row per rung, one cell per position, each the rung's top token
    rows = page.locator(f"{LL} .ll-grid tbody tr")
    assert rows.count() == L + 1
    cells = rows.evaluate_all(
        "rs => rs.map(r => [...r.querySelectorAll('td')].map(td => Number(td.dataset.tokenId)))"
    )
    lens_top = np.array(raw["logit_lens"]["top_ids"])  # (L+1, T, k)
    assert np.array_equal(np.array(cells), lens_top[:, :, 0])

    # the ladder of the last position: its last rung is the reply's own logits' top tokens
    view = widget_value(page, LL, "lensView")
    t = T - 1
    assert view["position"] == t and view["same"] is True
    assert [i for i, _ in view["rows"][-1]["top"]] == raw["logits"]["top_ids"][t][:5]
    assert view["output"] == raw["logits"]["top_ids"][t][:5]
    assert "✓" in page.locator(f"{LL} .ll-check").inner_text()
    assert page.locator(f"{LL} .ll-output").get_attribute("data-point") == str(L)

    # the logits panel: all V float32 logits, their softmax summing to 1, the same top
    last = decode_tensor(raw["logits"]["last"]).astype(np.float64)
    assert last.shape == (bundled_lm.config.vocab_size,)
    shown = widget_value(page, LL, "lensLogits")
    assert shown["sum"] == pytest.approx(1, abs=1e-9)
    assert shown["order"] == list(np.argsort(-last, kind="stable")[:10])
    probs = softmax(last)
    bars = page.locator(f"{LL} .ll-logit").evaluate_all(
        "ls => ls.map(l => [Number(l.dataset.tokenId), Number(l.dataset.prob)])"
    )
    for token, p in bars:
        assert p == pytest.approx(probs[token], rel=1e-6)
    assert "sum to 1.000000" in page.locator(f"{LL} .ll-sum").inner_text()

    # follow a token from the keyboard: the second token of the first rung
    followed_before = view["followed"]
    first = page.locator(f"{LL} .ll-ladder button.ll-top").first
    first.focus()
    page.keyboard.press("ArrowRight")
    focused = page.evaluate("() => Number(document.activeElement.dataset.tokenId)")
    assert focused == view["rows"][0]["top"][1][0]
    before = draws(page, LL)
    page.keyboard.press("Enter")
    wait_for_redraw(page, LL, before)
    view = widget_value(page, LL, "lensView")
    assert view["requestedFollow"] == focused == view["followed"] != followed_before
    raw = widget_value(page, LL, "lastTrace.raw")
    assert raw["logit_lens"]["target_ids"] == [focused] * T
    ranks = [row["rank"] for row in view["rows"]]
    assert ranks == [r[t] for r in raw["logit_lens"]["target_ranks"]]
    assert ranks == lens_ranks(bundled_lm, ids, t, focused)
    assert ranks[0] == 1  # the rung it was picked from ranked it second
    followed_probs = decode_tensor(raw["logit_lens"]["target_probs"])[:, t]
    np.testing.assert_allclose(followed_probs[-1], probs[focused], rtol=2e-3, atol=1e-6)

    # another position, from the keyboard: the ladder redraws from the same reply
    before = draws(page, LL)
    page.locator(f'{LL} .ll-chip[aria-checked="true"]').focus()
    page.keyboard.press("Home")
    wait_for_redraw(page, LL, before)
    view = widget_value(page, LL, "lensView")
    assert view["position"] == 0
    assert [i for i, _ in view["rows"][-1]["top"]] == raw["logits"]["top_ids"][0][:5]
    assert view["same"] is True
    # the text's real next token is offered to follow
    options = page.locator(f"{LL} .ll-follow option").all_inner_texts()
    assert any("real next token" in o for o in options)
    page.locator(LL).screenshot(path=str(OUTPUT / "lesson-logit-lens.png"))

    # back to each position's final top token through the select, from the keyboard
    before = draws(page, LL)
    page.locator(f"{LL} .ll-follow select").focus()
    page.keyboard.press("Home")
    wait_for_redraw(page, LL, before)
    view = widget_value(page, LL, "lensView")
    assert view["requestedFollow"] is None
    assert view["rows"][-1]["rank"] == 0  # the final top token is ranked first by the output

    # typing: a new reply; the chosen position (0) stays chosen, its last rung is the output
    text = "Now is the winter of our discontent"
    type_and_wait(page, LL, text)
    raw = widget_value(page, LL, "lastTrace.raw")
    assert [token["id"] for token in raw["tokens"]] == bundled_lm.tokenizer.encode(text)
    view = widget_value(page, LL, "lensView")
    assert view["position"] == 0
    assert view["output"] == raw["logits"]["top_ids"][0][:5] and view["same"] is True
    assert errors == []


def test_logit_lens_fits_a_phone(stack, browser):
    page, errors = open_lesson(stack, browser, "logit-lens", width=390, height=844)
    wait_for_draws(page, LL, 1)
    assert fits_the_screen(page)
    page.locator(LL).screenshot(path=str(OUTPUT / "lesson-logit-lens-phone.png"))
    assert errors == []
