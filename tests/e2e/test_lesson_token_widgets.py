"""Lessons 1 and 2's widgets in a real browser on the live stack: the next-token machine
(the model's and the bigram's predictions, +1 token, auto ×20, the forward-pass counter)
and the token chips with their merge replay, tiny BPE trainer and real tokenizers side by
side. What they draw is checked against the replies the server sent."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.environment import TOKENIZERS_DIR

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"


def open_lesson(stack, browser, slug: str, width: int = 1366, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.http_url}/lessons/{slug}/")
    return page, errors


def wait_for_draws(page, widget: str, at_least: int) -> None:
    page.wait_for_function(
        """([widget, n]) => {
            const f = document.querySelector(`figure[data-widget="${widget}"]`);
            return f && Number(f.dataset.draws || 0) >= n;
        }""",
        arg=[widget, at_least],
        timeout=60_000,
    )


def draws(page, widget: str) -> int:
    return int(page.locator(f'figure[data-widget="{widget}"]').get_attribute("data-draws") or 0)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# -- lesson 1: the next-token machine ------------------------------------------------------

NT = 'figure[data-widget="next-token"]'

# the widget's bars against the reply it drew: the same ids, in the order of the softmax of
# the full last-position logits the reply carried, with those probabilities (float16 apart)
MODEL_BARS_AGAINST_LOGITS = """() => {
    const root = document.querySelector('figure[data-widget="next-token"]');
    const last = root.glassboxLast;
    const logits = last.logits.last.data;
    let max = -Infinity;
    for (const z of logits) max = Math.max(max, z);
    let sum = 0;
    for (const z of logits) sum += Math.exp(z - max);
    const softmax = Array.from(logits, (z) => Math.exp(z - max) / sum);
    const order = softmax.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, 10);
    const bars = [...root.querySelectorAll('.nt-chart-model .nt-bar')].map(
        (b) => [Number(b.dataset.tokenId), Number(b.dataset.prob)]);
    return {bars, expected: order.map(([p, i]) => [i, p]), vocab: logits.length,
            dims: last.dims.vocab_size, tokens: last.tokens.map((t) => t.id)};
}"""


def bar_ids(page, chart: str) -> list[int]:
    return [
        int(i)
        for i in page.locator(f"{NT} .nt-chart-{chart} .nt-bar").evaluate_all(
            "bars => bars.map(b => b.dataset.tokenId)"
        )
    ]


def nt_last(page, path: str = ""):
    """Something of the last trace the next-token widget drew (with its .top, .bigram)."""
    return page.evaluate(f"() => document.querySelector('{NT}').glassboxLast{path}")


def passes(page) -> int:
    return int(page.locator(f"{NT} .nt-passes").get_attribute("data-passes"))


def test_next_token_machine_predicts_appends_and_counts_forward_passes(stack, browser):
    page, errors = open_lesson(stack, browser, "next-token")
    wait_for_draws(page, "next-token", 1)
    prompt = page.locator(f'{NT} [data-role="prompt"]')
    assert prompt.input_value() == "My lord"
    assert "Shakespeare's plays" in page.locator(f"{NT} .nt-model").inner_text()

    # the bars are the model's own: the top 10 of the softmax of the logits it sent
    check = page.evaluate(MODEL_BARS_AGAINST_LOGITS)
    assert check["vocab"] == check["dims"]
    assert len(check["bars"]) == 10
    assert [i for i, _ in check["bars"]] == [i for i, _ in check["expected"]]
    for (_, shown), (_, expected) in zip(check["bars"], check["expected"], strict=True):
        assert 0 < shown <= 1
        assert abs(shown - expected) < 1e-3
    probs = [p for _, p in check["bars"]]
    assert probs == sorted(probs, reverse=True)
    chips = page.locator(f"{NT} .nt-chip")
    assert chips.count() == len(check["tokens"])
    assert chips.evaluate_all("cs => cs.map(c => Number(c.dataset.tokenId))") == check["tokens"]
    assert passes(page) == 1

    # the bigram chart: 10 bars after the last token, sorted, a distribution's top part
    bigram = nt_last(page, ".bigram")
    assert bigram is not None, "the server sent no bigram part"
    assert bigram["token"] == check["tokens"][-1]
    bigram_probs = [item["prob"] for item in bigram["items"]]
    assert len(bigram_probs) == 10 == page.locator(f"{NT} .nt-chart-bigram .nt-bar").count()
    assert bigram_probs == sorted(bigram_probs, reverse=True)
    assert all(0 < p <= 1 for p in bigram_probs) and sum(bigram_probs) <= 1 + 1e-3
    my_lord_bigram = bar_ids(page, "bigram")
    my_lord_model = bar_ids(page, "model")

    # "+1 token" from the keyboard appends the top candidate and runs one more pass
    top_text = nt_last(page, ".top[0].text")
    page.locator(f"{NT} button", has_text="+1 token").focus()
    page.keyboard.press("Enter")
    wait_for_draws(page, "next-token", 2)
    assert prompt.input_value() == "My lord" + top_text
    assert passes(page) == 2

    # a bar picked with the arrow keys and Enter appends that candidate instead
    second = nt_last(page, ".top[1].text")
    before = prompt.input_value()
    page.locator(f"{NT} .nt-chart-model button.nt-bar").first.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.tokenId") == str(bar_ids(page, "model")[1])
    page.keyboard.press("Enter")
    wait_for_draws(page, "next-token", 3)
    assert prompt.input_value() == before + second
    assert passes(page) == 3
    # the focus stays in the (redrawn) chart, so the next pick is one key away
    assert page.evaluate("document.activeElement.classList.contains('nt-bar')")

    # typing redraws: "Good lord" ends in the same token, so the bigram chart is the same
    # one as for "My lord", while the model, which reads everything, changes its mind
    prompt.fill("Good lord")
    wait_for_draws(page, "next-token", 4)
    assert bar_ids(page, "bigram") == my_lord_bigram
    assert bar_ids(page, "model") != my_lord_model
    assert passes(page) == 4

    # auto ×20: twenty more passes, each appending a token
    tokens_before = page.locator(f"{NT} .nt-chip").count()
    page.locator(f"{NT} button", has_text="auto ×20").click()
    page.wait_for_function(
        f"document.querySelector('{NT} .nt-progress-text').textContent === '20 tokens added'",
        timeout=60_000,
    )
    assert passes(page) == 24
    assert page.locator(f"{NT} .nt-chip").count() > tokens_before

    # and it stops when asked
    page.locator(f"{NT} button", has_text="auto ×20").click()
    page.wait_for_function(
        f"Number(document.querySelector('{NT} .nt-passes').dataset.passes) >= 25"
    )
    page.locator(f"{NT} button", has_text="stop").click()
    page.wait_for_function(
        f"document.querySelector('{NT} .nt-progress-text').textContent.startsWith('stopped')",
        timeout=30_000,
    )
    assert passes(page) < 24 + 20

    OUTPUT.mkdir(exist_ok=True)
    page.locator(NT).screenshot(path=str(OUTPUT / "lesson-next-token.png"))
    assert not errors, errors
    page.close()


def test_next_token_machine_fits_a_phone(stack, browser):
    page, errors = open_lesson(stack, browser, "next-token", width=390, height=844)
    wait_for_draws(page, "next-token", 1)
    assert page.locator(f"{NT} .nt-bar").count() >= 10
    assert fits_the_screen(page)
    OUTPUT.mkdir(exist_ok=True)
    page.locator(NT).screenshot(path=str(OUTPUT / "lesson-next-token-phone.png"))

    # a bad prompt: the server's sentence in the status line, and no forward pass counted
    page.locator(f'{NT} [data-role="prompt"]').fill("   ")
    page.wait_for_function(
        f"document.querySelector('{NT} .widget-status').dataset.state === 'error'", timeout=15_000
    )
    assert page.locator(f"{NT} .widget-status").inner_text().startswith("The prompt is empty")
    assert passes(page) == 1
    assert not errors, errors
    page.close()


# -- lesson 2: token chips, merge replay, tiny BPE, real tokenizers -----------------------

TK = 'figure[data-widget="tokens"]'

# the chips' bytes, joined, against the UTF-8 of the text: a tokenizer loses nothing
CHIP_BYTES_ARE_THE_TEXT = """() => {
    const root = document.querySelector('figure[data-widget="tokens"]');
    const text = root.querySelector('[data-role="prompt"]').value;
    const utf8 = [...new TextEncoder().encode(text)].map(
        (b) => b.toString(16).toUpperCase().padStart(2, '0'));
    const chips = [...root.querySelectorAll('.tk-main-chips .tk-chip')];
    const hex = chips.flatMap((c) => c.querySelector('.tk-chip-hex').textContent.split(' '));
    return {same: hex.join(' ') === utf8.join(' '), bytes: utf8.length,
            partial: chips.filter((c) => c.classList.contains('tk-partial')).length,
            chips: chips.length};
}"""


def chip_ids(page, selector: str) -> list[int]:
    value = page.locator(selector).get_attribute("data-ids")
    return [int(i) for i in value.split(",")] if value else []


def wait_for_tokens(page, at_least: int) -> None:
    wait_for_draws(page, "tokens", at_least)
    page.wait_for_selector(f'{TK} .tk-replay[data-state="drawn"]')
    page.wait_for_selector(f'{TK} .tk-train[data-state="drawn"]')


def test_token_chips_replay_training_and_real_tokenizers(stack, browser):
    from inference.checkpoint import load_tokenizer
    from inference.reference_tokenizers import load_encoding
    from inference.toy_bpe import train_toy_bpe

    ours = load_tokenizer(REPO / "models" / "shakespeare")
    page, errors = open_lesson(stack, browser, "tokens")
    wait_for_tokens(page, 1)
    prompt = page.locator(f'{TK} [data-role="prompt"]')
    text = prompt.input_value()

    # the chips are the model's tokenizer's, and their bytes are exactly the text's
    assert chip_ids(page, f"{TK} .tk-main-chips") == ours.encode(text)
    check = page.evaluate(CHIP_BYTES_ARE_THE_TEXT)
    assert check["same"], check
    assert check["partial"] > 0  # the default text has an emoji: its bytes split
    summary = page.locator(f"{TK} .tk-summary").inner_text()
    assert summary.startswith(f"{check['chips']} tokens · {len(text)} characters")

    # the chips from the keyboard: arrow keys walk them and the readout follows
    page.locator(f"{TK} .tk-main-chips .tk-chip").first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.position") == "1"
    assert page.locator(f"{TK} .tk-readout").inner_text().startswith("token 1:")

    # the replay starts from the bytes and ends in the chips, ✓
    replay = page.locator(f"{TK} .tk-replay")
    assert replay.get_attribute("data-step") == "0"
    assert len(chip_ids(page, f"{TK} .tk-replay-row")) == check["bytes"]
    page.locator(f"{TK} .tk-replay button[aria-label='Next merge']").focus()
    page.keyboard.press("Enter")
    assert replay.get_attribute("data-step") == "1"
    assert page.locator(f"{TK} .tk-replay-row .tk-merged").count() == 1
    page.locator(f"{TK} .tk-replay input[type=range]").focus()
    page.keyboard.press("End")
    assert replay.get_attribute("data-step") == replay.get_attribute("data-steps")
    assert chip_ids(page, f"{TK} .tk-replay-row") == chip_ids(page, f"{TK} .tk-main-chips")
    verdict = page.locator(f"{TK} .tk-replay-verdict")
    assert "= the tokenizer's split ✓" in verdict.inner_text()

    # typing redraws everything; the replay stays at its end and still matches
    before = draws(page, "tokens")
    prompt.fill("Hello world!")
    wait_for_draws(page, "tokens", before + 1)
    page.wait_for_function(
        f"document.querySelector('{TK} .tk-main-chips').dataset.ids !== undefined"
        f" && document.querySelector('{TK} [data-role=prompt]').value === 'Hello world!'"
    )
    assert chip_ids(page, f"{TK} .tk-main-chips") == ours.encode("Hello world!")
    assert replay.get_attribute("data-step") == replay.get_attribute("data-steps")
    assert replay.get_attribute("data-matches") == "true"
    assert "= the tokenizer's split ✓" in verdict.inner_text()

    # the real tokenizers side by side: GPT-2 writes "Hello world!" as [15496, 995, 0]
    rows = page.locator(f"{TK} .tk-compare-row")
    assert rows.count() == 4
    assert chip_ids(page, f'{TK} .tk-compare-row[data-name="{ours_slug(page)}"]') == (
        ours.encode("Hello world!")
    )
    for name in ("r50k_base", "cl100k_base", "o200k_base"):
        row = page.locator(f'{TK} .tk-compare-row[data-name="{name}"]')
        if (TOKENIZERS_DIR / f"{name}.tiktoken").exists():
            assert row.get_attribute("data-state") == "drawn"
            ids = chip_ids(page, f'{TK} .tk-compare-row[data-name="{name}"]')
            assert ids == load_encoding(name, TOKENIZERS_DIR).encode("Hello world!")
            if name == "r50k_base":
                assert ids == [15496, 995, 0]
                assert "[15496, 995, 0]" in row.inner_text()
        else:  # not installed: the API's sentence, not an error
            assert row.get_attribute("data-state") == "missing"
            assert row.locator(".tk-compare-missing").inner_text()

    # the tiny BPE: the merges the trainer makes, stepped through from the keyboard
    expected = train_toy_bpe("low lower lowest newer wider new low", 6)
    train = page.locator(f"{TK} .tk-train")
    assert page.locator(f"{TK} .tk-vocab button").count() == len(expected.steps)
    page.locator(f"{TK} .tk-train button[aria-label='Next merge']").focus()
    page.keyboard.press("Enter")
    assert train.get_attribute("data-step") == "1"
    first = expected.steps[0]
    chosen = page.locator(f"{TK} .tk-pair-chosen").inner_text()
    assert chosen.startswith(f"{first.pair[0]} + {first.pair[1]}")
    assert str(first.count) in chosen
    symbols = page.locator(f"{TK} .tk-symbols .tk-symbol").all_inner_texts()
    assert [s.replace("·", " ") for s in symbols] == list(first.symbols)
    page.locator(f"{TK} .tk-train input[type=number]").fill("3")
    page.wait_for_function(f"document.querySelectorAll('{TK} .tk-vocab button').length === 3")

    OUTPUT.mkdir(exist_ok=True)
    page.locator(TK).screenshot(path=str(OUTPUT / "lesson-tokens.png"))
    assert not errors, errors
    page.close()


def ours_slug(page) -> str:
    return page.evaluate("window.glassboxLesson.model.slug")


def test_token_widget_fits_a_phone(stack, browser):
    page, errors = open_lesson(stack, browser, "tokens", width=390, height=844)
    wait_for_tokens(page, 1)
    assert fits_the_screen(page)
    OUTPUT.mkdir(exist_ok=True)
    page.locator(TK).screenshot(path=str(OUTPUT / "lesson-tokens-phone.png"))

    # a text too long for the replay: chips as ever, the API's sentence in the replay
    before = draws(page, "tokens")
    page.locator(f'{TK} [data-role="prompt"]').fill("To be, or not to be. " * 30)
    wait_for_draws(page, "tokens", before + 1)
    assert page.locator(f'{TK} .tk-replay[data-state="error"]').count() == 1
    caption = page.locator(f"{TK} .tk-replay .tk-replay-caption").inner_text()
    assert "characters; at most" in caption, caption
    assert page.locator(f"{TK} .tk-main-chips .tk-chip").count() > 30
    assert fits_the_screen(page)
    assert not errors, errors
    page.close()
