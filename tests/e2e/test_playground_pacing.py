"""The playground's display pacing and queue position, in a real browser on the live stack.

Between the page and the real server sits a tap (Playwright's websocket routing): it
forwards every message both ways and records what the server sent, so the tests can
compare what the page shows with what it received; for the queue-position test it holds
the server's messages back and sends the page `queued` messages with a `position`, as a
batching worker will. The page's own read-only hook `window.glassboxPlayground` (see the
end of static/js/playground.js) says how many steps arrived and how many are shown.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"
PROMPT = "ROMEO:\nBut soft, what light"


class SocketTap:
    """Forwards the page's generation socket to the real server and records both sides."""

    def __init__(self, page):
        self.from_server: list[dict] = []  # every server message, in order, as parsed JSON
        self.from_page: list[dict] = []
        self.hold = False  # once True, server messages wait in `held` until release()
        self.held: list[str] = []
        self.page_side = None
        page.route_web_socket(re.compile(r"/ws/generate/$"), self._route)

    def _route(self, ws):
        server = ws.connect_to_server()
        self.page_side = ws
        ws.on_message(lambda text: self._from_page(text, server))
        server.on_message(self._from_server)

    def _from_page(self, text, server):
        self.from_page.append(json.loads(text))
        server.send(text)

    def _from_server(self, text):
        message = json.loads(text)
        self.from_server.append(message)
        if self.hold:
            self.held.append(text)
        else:
            self.page_side.send(text)

    def send_to_page(self, message: dict) -> None:
        """A message the page takes for the server's."""
        self.page_side.send(json.dumps(message))

    def release(self, through: str | None = None, page=None) -> None:
        """Forward what was held, in order, and stop holding; with `through` (a message
        type), first wait (letting `page` run) until the server has sent one, then forward
        only up to it and keep holding the rest."""
        if through is not None:
            for _ in range(600):  # Playwright delivers the server's messages while the page waits
                if any(json.loads(text)["type"] == through for text in self.held):
                    break
                page.wait_for_timeout(50)
            else:
                raise AssertionError(f"the server sent no {through} message")
        while self.held:
            text = self.held.pop(0)
            self.page_side.send(text)
            if through is not None and json.loads(text)["type"] == through:
                return
        self.hold = through is not None

    def steps(self) -> list[dict]:
        return [m for m in self.from_server if m["type"] == "step"]


def visible(text: str) -> str:
    """The page's visibleText for the characters this model writes: space, newline, tab."""
    return text.replace(" ", "·").replace("\n", "↵").replace("\t", "→") or "∅"


def set_range(page, selector: str, value: int) -> None:
    """Move a slider as a user would (Playwright cannot `fill` a range input)."""
    page.eval_on_selector(
        selector,
        """(el, v) => {
            el.value = String(v);
            el.dispatchEvent(new Event('input', {bubbles: true}));
        }""",
        value,
    )


def open_playground(stack, browser, max_new_tokens: int):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    tap = SocketTap(page)
    page.goto(stack.http_url + "/playground/")
    wait_state(page, "idle", timeout=20_000)
    page.fill("#prompt", PROMPT)
    set_range(page, "#max-new-tokens", max_new_tokens)
    set_range(page, "#temperature", 0)  # greedy: every token is the model's first choice
    return page, tap, errors


def progress(page) -> dict:
    """Received and shown counts, shown tokens and drawn attention rows, read in one go."""
    return page.evaluate(
        """() => {
            const g = window.glassboxPlayground;
            return {...g.progress, tokens: g.shownTokens, rows: g.attentionRows(0, 0),
                    chips: document.querySelectorAll('#tokens .token.generated').length,
                    prompt: document.querySelectorAll('#tokens .token.prompt').length};
        }"""
    )


def wait_state(page, state: str, timeout: float = 60_000) -> None:
    """Wait until the status line is in this state (idle, queued, running, done …)."""
    page.wait_for_function(
        "(s) => document.querySelector('#status').dataset.state === s", arg=state, timeout=timeout
    )


def wait_status_says(page, words: str, timeout: float = 5_000) -> None:
    page.wait_for_function(
        "(w) => document.querySelector('#status').textContent.includes(w)",
        arg=words,
        timeout=timeout,
    )


def wait_shown(page, condition: str, timeout: float = 20_000) -> None:
    """Wait until `shown <condition>` holds, e.g. "> 3" or "=== 10"."""
    page.wait_for_function(f"window.glassboxPlayground.progress.shown {condition}", timeout=timeout)


def wait_done(page) -> None:
    wait_state(page, "done")


def candidates_show(page, step: dict) -> None:
    """The candidate chart shows this step: its number, its pick and one row per candidate."""
    # the chart is redrawn on the next animation frame: wait for it, then read it all
    page.wait_for_function(
        "(t) => (document.querySelector('#candidates-summary .cand-title') || {}).textContent"
        "?.startsWith(t)",
        arg=f"Step {step['index'] + 1}:",
        timeout=5_000,
    )
    picked = visible(step["token"]["text"])
    assert page.locator("#candidates-summary .picked").inner_text() == picked
    in_list = any(c["id"] == step["token"]["id"] for c in step["candidates"])
    expected_rows = len(step["candidates"]) + (0 if in_list else 1)
    assert page.locator("#candidates .candidate").count() == expected_rows
    assert page.locator("#candidates .candidate.chosen .cand-text").inner_text() == picked


def test_slow_motion_plays_the_received_tokens_one_by_one(stack, browser):
    page, tap, errors = open_playground(stack, browser, max_new_tokens=10)
    page.check("input[name='pace'][value='rate']")
    set_range(page, "#pace-rate", 2)
    assert page.locator("#pace-rate-value").inner_text() == "2 tokens/s"
    page.click("#generate")
    wait_done(page)

    # the worker finished long before the display: most tokens still wait
    first = progress(page)
    steps = tap.steps()
    assert len(steps) == 10 and first["received"] == 10
    assert first["shown"] < first["received"]
    assert first["chips"] == first["shown"]
    readout = page.locator("#pace-readout")
    assert readout.get_attribute("data-received") == "10"
    assert "waiting" in readout.inner_text()

    # ... and they keep coming, one at a time, with their candidates and attention rows
    wait_shown(page, f"> {first['shown']}")
    later = progress(page)
    assert first["shown"] < later["shown"] <= later["received"]
    assert later["chips"] == later["shown"]
    # one attention row per token the model has read: the prompt's and each shown step's query
    assert later["rows"] == later["prompt"] - 1 + max(1, later["shown"])
    page.click("#presentation-toggle")  # as on a projector
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "playground-slow-motion-presentation.png"))

    page.wait_for_function("window.glassboxPlayground.progress.pending === 0", timeout=30_000)
    final = progress(page)
    assert final["tokens"] == [s["token"]["text"] for s in steps]
    assert final["chips"] == 10
    candidates_show(page, steps[-1])
    assert page.locator("#pace-next").is_disabled() and page.locator("#pace-all").is_disabled()
    assert not errors, errors
    page.close()


def test_step_mode_shows_one_token_per_click_or_key(stack, browser):
    page, tap, errors = open_playground(stack, browser, max_new_tokens=8)
    page.check("input[name='pace'][value='step']")
    page.click("#generate")
    wait_done(page)
    steps = tap.steps()
    assert len(steps) == 8
    start = progress(page)
    assert start["shown"] == 0 and start["pending"] == 8 and start["chips"] == 0
    assert start["rows"] == start["prompt"]  # only the prompt's rows so far

    page.click("#pace-next")
    after_click = progress(page)
    assert after_click["shown"] == 1 and after_click["chips"] == 1
    assert after_click["rows"] == after_click["prompt"]  # step 0 repeats the prompt's last row
    candidates_show(page, steps[0])

    page.keyboard.press("n")  # focus is on the button: N is the shortcut, not typing
    after_key = progress(page)
    assert after_key["shown"] == 2 and after_key["chips"] == 2
    assert after_key["rows"] == after_key["prompt"] + 1
    candidates_show(page, steps[1])

    # looking back at an earlier step, then asking for the next token, shows the new decision
    page.locator("#tokens .token.generated").first.click()
    candidates_show(page, steps[0])
    page.click("#pace-next")
    assert progress(page)["shown"] == 3
    candidates_show(page, steps[2])

    # typing an "n" in the prompt writes it there and shows nothing more
    page.focus("#prompt")
    page.keyboard.press("n")
    assert progress(page)["shown"] == 3
    assert page.input_value("#prompt").endswith("n")

    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "playground-step-mode.png"), full_page=True)
    # on a phone the controls wrap inside the page: nothing sticks out sideways
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#pace").scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "playground-step-mode-phone.png"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.locator("#pace").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390

    page.click("#pace-all")
    final = progress(page)
    assert final["shown"] == 8 and final["pending"] == 0
    assert final["tokens"] == [s["token"]["text"] for s in steps]
    candidates_show(page, steps[-1])
    assert not errors, errors
    page.close()


def test_switching_modes_mid_buffer_and_full_speed_as_before(stack, browser):
    page, tap, errors = open_playground(stack, browser, max_new_tokens=12)
    # full speed (the default): when `done` arrives every received token is already shown
    page.click("#generate")
    wait_done(page)
    full = progress(page)
    assert full["mode"] == "full"
    assert full["shown"] == full["received"] == 12 == full["chips"]
    assert full["tokens"] == [s["token"]["text"] for s in tap.steps()]
    assert page.locator("#pace-readout").inner_text() == ""
    before = len(tap.steps())

    # step mode, then slow motion picks up the buffer, then full speed catches up at once
    page.check("input[name='pace'][value='step']")
    page.click("#generate")
    wait_done(page)
    steps = tap.steps()[before:]
    assert len(steps) == 12 and progress(page)["shown"] == 0
    set_range(page, "#pace-rate", 1)  # moving the slider picks slow motion
    assert page.is_checked("input[name='pace'][value='rate']")
    wait_shown(page, ">= 1", timeout=10_000)
    slow = progress(page)
    assert slow["mode"] == "rate" and slow["shown"] < 12
    page.check("input[name='pace'][value='full']")
    final = progress(page)
    assert final["shown"] == 12 and final["pending"] == 0
    assert final["tokens"] == [s["token"]["text"] for s in steps]
    assert not errors, errors
    page.close()


def test_the_queue_position_is_shown_and_follows_the_queue(stack, browser):
    page, tap, errors = open_playground(stack, browser, max_new_tokens=5)
    tap.hold = True  # the server's messages wait; the page hears only what the test sends
    page.click("#generate")
    wait_status_says(page, "Sent", timeout=10_000)
    request = next(m for m in tap.from_page if m["type"] == "generate")
    queued = {"type": "queued", "request_id": request["request_id"], "model": request["model"]}
    status = page.locator("#status")
    page.evaluate(
        """() => {
            window.statusTexts = [];
            const status = document.querySelector('#status');
            new MutationObserver(() => window.statusTexts.push(status.textContent))
                .observe(status, {childList: true, characterData: true, subtree: true});
        }"""
    )

    tap.send_to_page(queued)  # as today's workers send it: no position
    wait_state(page, "queued", timeout=5_000)
    wait_status_says(page, "waiting for the model")

    for position, words in [(3, "3rd in line"), (2, "2nd in line"), (1, "1st in line (next)")]:
        tap.send_to_page({**queued, "position": position})
        wait_status_says(page, words)
        assert status.get_attribute("data-state") == "queued"
        if position == 3:
            OUTPUT.mkdir(exist_ok=True)
            page.screenshot(path=str(OUTPUT / "playground-queued.png"))

    # a position for another request, or a nonsense one, changes nothing
    tap.send_to_page({**queued, "request_id": "r-someone-else", "position": 7})
    tap.send_to_page({**queued, "position": "soon"})
    wait_status_says(page, "waiting for the model")
    texts = page.evaluate("window.statusTexts")
    in_line = [t for t in texts if "in line" in t]
    assert [re.search(r"(\d+)\w\w in line", t).group(1) for t in in_line] == ["3", "2", "1"], texts

    # once the prompt is in, the run is running and a late position must not say "queued"
    tap.release(through="prompt", page=page)
    wait_state(page, "running")
    tap.send_to_page({**queued, "position": 5})
    tap.release()
    wait_done(page)
    assert not any("5th" in t for t in page.evaluate("window.statusTexts"))
    assert progress(page)["shown"] == 5
    assert not errors, errors
    page.close()


def test_stop_stops_the_server_while_the_display_waits(stack, browser):
    page, tap, errors = open_playground(stack, browser, max_new_tokens=200)
    page.check("input[name='pace'][value='step']")
    page.click("#generate")
    page.wait_for_function("window.glassboxPlayground.progress.received >= 1", timeout=30_000)
    page.click("#stop")
    wait_done(page)
    done = next(m for m in tap.from_server if m["type"] == "done")
    assert {"type": "stop"} in tap.from_page
    assert done["finish_reason"] == "cancelled"
    assert done["new_tokens"] == len(tap.steps()) < 200
    # what arrived before the stop can still be stepped through
    assert progress(page)["pending"] == len(tap.steps())
    page.keyboard.press("n")
    assert progress(page)["shown"] == 1
    assert not errors, errors
    page.close()
