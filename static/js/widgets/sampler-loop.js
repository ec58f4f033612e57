// Lesson 11's generation loop, one step per press. Each "Next step" is one `generate` with
// max_new_tokens = 1 on the whole text so far, with the student's settings and the seed
// plus the step number: the server runs one forward pass over the text (the generator
// stops before running the model on the token it drew), its own sampler draws one token,
// and the `step` message reports the distribution it drew from (the top candidates, raw
// and final, the kept count and entropies). The token is appended to the text, which the
// next press sends again whole; the counter counts the forward passes.

import { count, percent } from "../format.js";
import { el, quoted, renderDistribution } from "./sampler-bars.js";
import { readSeed, requestSettings, settingsWords } from "./sampler-runs.js";
import { stepView } from "./sampler-math.js";

const CANDIDATES = 20; // the most the protocol sends per step
const MAX_SEED = 2 ** 31 - 1;
// a token whose bytes are only part of a UTF-8 character arrives with `\xNN` escapes
const PARTIAL = /\\x[0-9a-fA-F]{2}/;

function button(text, className = "button") {
  const node = el("button", className, text);
  node.type = "button";
  return node;
}

/**
 * The panel. `getPrompt()`, `getSettings()` and `seedInput` come from the widget, and
 * `onSettled()` runs after each step; `state`
 * (text, steps, passes) is kept for the tests.
 */
export function loopPanel(lesson, { getPrompt, getSettings, seedInput, onSettled = () => {} }) {
  const box = el("div", "sp-loop");
  const actions = el("div", "sp-loop-actions");
  const next = button("Next step: one more token", "button primary sp-next");
  const reset = button("Start again from your text", "button sp-reset");
  const passes = el("output", "sp-passes");
  actions.append(next, reset, passes);
  const text = el("p", "sp-loop-text");
  text.setAttribute("aria-live", "polite");
  const report = el("p", "sp-loop-report");
  const barsTitle = el("h4", "", "What the last token was drawn from");
  const bars = el("ol", "sp-dist sp-loop-dist");
  bars.setAttribute("aria-label", "The top candidates of the last step, raw and final");
  box.append(actions, text, report, barsTitle, bars);
  barsTitle.hidden = true;

  const state = { prompt: "", text: "", steps: [], passes: 0, busy: false, ended: false };

  function showPasses() {
    passes.textContent = `forward passes: ${count(state.passes)}`;
    passes.dataset.passes = String(state.passes);
  }

  function start(prompt) {
    state.prompt = prompt;
    state.text = prompt;
    state.steps = [];
    state.passes = 0;
    state.ended = false;
    text.replaceChildren(el("span", "sp-run-prompt", prompt));
    report.textContent = "Press “Next step”: the model reads the whole text once and the sampler draws one token.";
    delete report.dataset.state;
    bars.replaceChildren();
    barsTitle.hidden = true;
    box.dataset.steps = "0";
    next.disabled = false;
    showPasses();
  }

  async function step() {
    if (state.busy || state.ended) return;
    let seed;
    try {
      seed = readSeed(seedInput);
    } catch (err) {
      report.textContent = err.message;
      report.dataset.state = "error";
      return;
    }
    // the seed plus the step number: the same seed replays the same steps, while each
    // step still gets its own draw
    const stepSeed = seed === null ? null : (seed + state.steps.length) % (MAX_SEED + 1);
    const settings = getSettings();
    const sentText = state.text;
    state.busy = true;
    next.disabled = true;
    box.dataset.state = "running";
    try {
      const result = await lesson.generate(
        { prompt: sentText, max_new_tokens: 1, candidates: CANDIDATES, seed: stepSeed, ...requestSettings(settings) },
        { key: "sampler-step" },
      );
      if (state.text !== sentText) return; // started again meanwhile
      state.passes += 1;
      const s = result.steps[0];
      const view = stepView(s);
      renderDistribution(bars, view, () => "");
      barsTitle.hidden = false;
      const drawn = `${quoted(s.token.text)} (rank ${s.rank + 1}, raw ${percent(s.raw_prob)}, drawn with ${percent(s.prob)})`;
      const where = `${settingsWords(settings)} · seed ${result.done.seed} · ${count(s.kept)} tokens kept · entropy ${s.raw_entropy.toFixed(2)} → ${s.entropy.toFixed(2)} bits`;
      if (result.done.finish_reason === "end_of_text") {
        state.ended = true;
        report.textContent = `Step ${state.steps.length + 1}: the sampler drew the end-of-text token, so the text is finished. ${where}`;
      } else if (PARTIAL.test(s.token.text)) {
        state.ended = true;
        report.textContent = `Step ${state.steps.length + 1}: the sampler drew ${quoted(s.token.text)}, only part of a character, which cannot be sent back as text. Start again (or change the seed). ${where}`;
      } else {
        state.steps.push({ token: s.token, seed: result.done.seed, step: s });
        state.text = sentText + s.token.text;
        const span = el("span", "sp-token sp-new", s.token.text);
        if (s.rank > 0) span.classList.add("is-off-top");
        text.querySelector(".sp-new")?.classList.remove("sp-new");
        text.append(span);
        report.textContent = `Step ${state.steps.length}: drew ${drawn}. ${where}`;
      }
      delete report.dataset.state;
      box.dataset.steps = String(state.steps.length);
      box.dataset.state = "done";
      showPasses();
    } catch (err) {
      if (err.superseded) return;
      report.textContent = err.message;
      report.dataset.state = "error";
      box.dataset.state = "error";
    } finally {
      state.busy = false;
      next.disabled = state.ended;
      onSettled();
    }
  }

  next.addEventListener("click", step);
  reset.addEventListener("click", () => start(getPrompt()));

  return { element: box, state, start };
}
