// Lesson 11's "Sampler workbench". (1) The student's text goes through the model once (one
// `trace`, part `logits`): the reply's raw float32 logits of the last position are kept,
// and every movement of the temperature, top-k and top-p sliders redraws the sorted bars,
// the cut-off lines, the kept count and both entropies in the page, with no new request
// (static/js/sampler.js applies the server's own rules; a test proves they agree).
// (2) Greedy and sampled generations side by side, with a seed (sampler-runs.js).
// (3) The loop one step at a time, one request and one forward pass per press
// (sampler-loop.js).

import { debounce } from "../lessons/lesson-client.js";
import { count, ms } from "../format.js";
import { tokenText } from "../trace-decode.js";
import { FINAL_COLOUR, RAW_COLOUR, el, renderDistribution, renderSummary, swatch } from "./sampler-bars.js";
import { samplerControls } from "./sampler-controls.js";
import { loopPanel } from "./sampler-loop.js";
import { rankOrder, rawDistribution, samplerView } from "./sampler-math.js";
import { runsPanel } from "./sampler-runs.js";

const DEFAULT_PROMPT = "ROMEO.\n";
const SHOWN = 30; // bars drawn; every other token is one "rest" row
const INITIAL = { temperature: 1, topK: 20, topP: 0.9 };
const KEY = "sampler-trace";

export function mount(root, lesson) {
  root.classList.add("sp");
  const vocab = lesson.facts?.vocab_size || lesson.model?.vocab_size || 1;

  const controls = el("div", "widget-controls sp-controls");
  const promptLabel = el("label", "sp-prompt-label", "Your text");
  const prompt = el("textarea", "sp-prompt");
  prompt.dataset.role = "prompt";
  prompt.rows = 2;
  prompt.spellcheck = false;
  prompt.value = DEFAULT_PROMPT;
  promptLabel.append(prompt);
  controls.append(promptLabel);

  const sliders = samplerControls({
    vocab,
    initial: INITIAL,
    onChange: () => {
      state.redraws += 1; // slider movements since the last trace, each drawn without a request
      redraw();
    },
  });

  const part1 = el("section", "sp-part sp-part-dist");
  const title1 = el("h3", "", "1. One distribution, reshaped in the page");
  const summary = el("p", "sp-summary");
  summary.setAttribute("aria-live", "polite");
  const legend = el("p", "sp-legend");
  legend.append(
    swatch(RAW_COLOUR),
    " raw: the model's own probabilities (temperature 1) · ",
    swatch(FINAL_COLOUR),
    " final: what the sampler draws from, after temperature, top-k and top-p. " +
      "Tokens in the model's order, most likely first; ✂ marks where a rule cuts the list, and greyed tokens can no longer be drawn.",
  );
  const dist = el("ol", "sp-dist");
  dist.setAttribute("aria-label", "The most likely next tokens, raw and final probabilities");
  const requests = el("p", "sp-requests");
  part1.append(title1, sliders.element, summary, legend, dist, requests);

  const getPrompt = () => prompt.value;
  const getSettings = () => sliders.settings();

  const part2 = el("section", "sp-part sp-part-runs");
  // the request count under the bars stays true after the generations too
  const onSettled = () => showRequests();
  const runs = runsPanel(lesson, { getPrompt, getSettings, onSettled });
  part2.append(el("h3", "", "2. Greedy and sampled, side by side"), runs.element);

  const part3 = el("section", "sp-part sp-part-loop");
  const loop = loopPanel(lesson, { getPrompt, getSettings, seedInput: runs.seedInput, onSettled });
  part3.append(
    el("h3", "", "3. The loop, one step at a time"),
    el(
      "p",
      "sp-note",
      "Each press sends the whole text so far, with the sliders' settings and the seed plus the step number; " +
        "the model reads it in one forward pass and the server's sampler draws one token, which is appended.",
    ),
    loop.element,
  );

  root.append(controls);
  lesson.status(root, "idle", ""); // here, so the status line sits under the text box
  root.append(part1, part2, part3);
  root.samplerRuns = runs.results; // for the browser tests
  root.samplerLoop = loop.state;

  const state = { trace: null, logits: null, order: null, base: null, redraws: 0, dirty: true };

  function showRequests() {
    requests.textContent =
      `Requests sent by this page so far: ${count(lesson.sent)}. ` +
      `The bars were redrawn ${count(state.redraws)} time${state.redraws === 1 ? "" : "s"} from the last trace's logits, without asking the model again.`;
  }

  /** Redraw the bars from the kept logits for the sliders' settings: no request. */
  function redraw() {
    if (!state.logits) return;
    const view = samplerView(state.logits, state.order, state.base, sliders.settings(), SHOWN);
    renderDistribution(dist, view, (id) => tokenText(state.trace, id));
    renderSummary(summary, view);
    dist.dataset.redraws = String(state.redraws);
    root.samplerView = view;
    showRequests();
  }

  async function run() {
    const text = prompt.value;
    lesson.status(root, "running", "Running one forward pass…");
    let trace;
    try {
      // top_k = SHOWN: the reply's token_texts then name every token the bars show
      trace = await lesson.trace({ prompt: text, parts: ["logits"], top_k: SHOWN }, { key: KEY });
    } catch (err) {
      if (err.superseded) return null;
      lesson.status(root, "error", err.message);
      return null;
    }
    state.trace = trace;
    state.logits = trace.logits.last.data;
    state.order = rankOrder(state.logits);
    state.base = rawDistribution(state.logits);
    state.redraws = 0;
    root.lastTrace = trace;
    sliders.setVocab(state.logits.length);
    const n = trace.tokens.length;
    title1.textContent = `1. The next token after your ${count(n)} token${n === 1 ? "" : "s"}, reshaped in the page`;
    redraw();
    if (prompt.value === text) {
      state.dirty = false;
      runs.clear();
      loop.start(text);
    }
    const forward = trace.elapsedMs?.forward;
    lesson.status(root, "idle", forward !== undefined ? `One forward pass: ${ms(forward)} on the server; all ${count(state.logits.length)} logits kept in the page.` : "");
    lesson.drawn(root);
    return trace;
  }

  const retrace = debounce(() => state.dirty && run(), 150);
  prompt.addEventListener("input", () => {
    state.dirty = true;
    retrace();
  });

  return run();
}
