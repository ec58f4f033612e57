// Lesson 1's "Next-token machine": the student's text, its tokens, the model's ten most
// likely next tokens and, beside them, what a bigram table predicts from the last token
// alone. "+1 token" appends the top candidate (or a clicked bar) and runs again; "auto ×20"
// does that twenty times. Every run is one `trace` (parts logits and bigram), i.e. one
// forward pass over the whole text, and the counter counts them.
//
// The bars are the reply's own top-k at the last position (`logits.top_ids` / `top_probs`,
// the server's softmax of the full logits); the page computes no probabilities itself.

import { debounce } from "../lessons/lesson-client.js";
import { count } from "../format.js";
import { decodeTensor } from "../protocol.js";
import { finalTop, tokenText } from "../trace-decode.js";
import {
  BIGRAM_COLOUR,
  MODEL_COLOUR,
  arrowKeys,
  el,
  isPartialText,
  quoted,
  renderBars,
  renderChips,
  restLine,
} from "./next-token-draw.js";

const TOP_K = 10;
const AUTO_STEPS = 20;
const DEFAULT_PROMPT = "My lord";
const KEY = "next-token";
const NO_BIGRAM_PART = "This server does not send the bigram part yet, so there is nothing to compare with.";

function button(text, className = "button") {
  const node = el("button", className, text);
  node.type = "button";
  return node;
}

/** The reply's bigram field, decoded: {token, ids, probs, rest, seen}, or null. */
function readBigram(trace) {
  const bigram = trace.raw.bigram;
  if (!bigram) return null;
  const probs = decodeTensor(bigram.probs).data;
  return {
    token: bigram.token,
    seen: bigram.seen,
    rest: bigram.rest,
    items: bigram.ids.map((id, i) => ({ id, text: tokenText(trace, id), prob: probs[i] })),
  };
}

export function mount(root, lesson) {
  root.classList.add("nt");
  const model = lesson.model;
  const label = el("p", "nt-model");
  label.append("Model: ", el("strong", "", model.name));
  // the catalog's own description ("… trained from scratch on Shakespeare's plays"), so the
  // label stays true for another model
  label.append(model.description ? `, ${model.description.replace(/^\s*A\b/, "a")}` : "");

  const controls = el("div", "widget-controls nt-controls");
  const promptLabel = el("label", "nt-prompt-label");
  promptLabel.append("Your text");
  const prompt = el("textarea", "nt-prompt");
  prompt.dataset.role = "prompt";
  prompt.rows = 2;
  prompt.spellcheck = false;
  prompt.value = DEFAULT_PROMPT;
  promptLabel.append(prompt);
  controls.append(promptLabel);

  const actions = el("div", "nt-actions");
  const plus = button("+1 token");
  plus.classList.add("primary");
  plus.title = "Append the most likely next token and run the model again (Ctrl+Enter in the text box)";
  const auto = button(`auto ×${AUTO_STEPS}`);
  auto.setAttribute("aria-pressed", "false");
  const progress = el("progress", "nt-progress");
  progress.max = AUTO_STEPS;
  progress.value = 0;
  progress.hidden = true;
  const progressText = el("span", "nt-progress-text");
  const passes = el("output", "nt-passes");
  passes.setAttribute("aria-live", "off");
  actions.append(plus, auto, progress, progressText, passes);

  const chipsTitle = el("h3", "", "The text as the model reads it");
  const chips = el("ol", "nt-chips");
  chips.setAttribute("aria-label", "The prompt's tokens");

  const charts = el("div", "nt-charts");
  const modelBox = el("section", "nt-chart nt-chart-model");
  const modelTitle = el("h3", "", "The model: next token after the whole text");
  const modelBars = el("ol", "nt-bars");
  modelBars.setAttribute("aria-label", "The model's most likely next tokens; Enter appends one");
  const modelRest = el("p", "nt-rest");
  modelBox.append(modelTitle, modelBars, modelRest);
  const bigramBox = el("section", "nt-chart nt-chart-bigram");
  const bigramTitle = el("h3", "", "Bigram: next token after the last token alone");
  const bigramBars = el("ol", "nt-bars");
  bigramBars.setAttribute("aria-label", "The bigram table's most likely next tokens");
  const bigramRest = el("p", "nt-rest");
  bigramBox.append(bigramTitle, bigramBars, bigramRest);
  charts.append(modelBox, bigramBox);

  const legend = el("p", "nt-legend");
  const swatch = (colour) => {
    const s = el("span", "nt-swatch");
    s.style.background = colour;
    return s;
  };
  legend.append(
    swatch(MODEL_COLOUR),
    " the transformer, which reads every token of the text · ",
    swatch(BIGRAM_COLOUR),
    " a bigram count table from the training text, which sees only the last token. Both charts share one scale. " +
      "Click a bar of the model (or focus it and press Enter) to append that token instead of the top one. " +
      "One run = one trace = one forward pass over the whole text.",
  );

  root.append(label, controls, actions, chipsTitle, chips, charts, legend);
  lesson.status(root, "idle", "");

  arrowKeys(modelBars, "button.nt-bar");
  arrowKeys(chips, ".nt-chip");

  const state = {
    passes: 0,
    last: null, // the last trace drawn, with .top (the model's candidates)
    running: null, // the promise of the run in flight
    auto: null, // {stop, done} while auto ×20 runs
    parts: ["logits", "bigram"],
    dirty: true, // the text changed since the last drawing
  };
  const showPasses = () => {
    passes.textContent = `forward passes: ${count(state.passes)}`;
    passes.dataset.passes = String(state.passes);
  };
  showPasses();

  function draw(trace) {
    const last = trace.positions[trace.positions.length - 1];
    const top = finalTop(trace, last) || [];
    const bigram = readBigram(trace);
    const max = Math.max(top[0]?.prob || 0, ...(bigram ? bigram.items.map((b) => b.prob) : [0]));
    const vocab = trace.dims.vocab_size;

    chipsTitle.textContent = `The text as the model reads it: ${count(trace.tokens.length)} token${trace.tokens.length === 1 ? "" : "s"}`;
    renderChips(chips, trace.tokens);
    const firstChip = chips.querySelector(".nt-chip");
    if (firstChip) firstChip.tabIndex = 0; // one tab stop; the arrow keys walk the chips

    // a bar picked from the keyboard is replaced by the new chart: keep the focus in the list
    const refocus = modelBars.contains(document.activeElement);
    renderBars(modelBars, top, { max, pickable: true, colour: MODEL_COLOUR });
    if (refocus) modelBars.querySelector("button.nt-bar")?.focus();
    const shown = top.reduce((sum, c) => sum + c.prob, 0);
    modelRest.textContent = restLine(top.length, vocab, 1 - shown);
    plus.textContent = top.length ? `+1 token (${quoted(top[0].text)})` : "+1 token";

    const lastToken = trace.tokens[trace.tokens.length - 1];
    bigramTitle.textContent = `Bigram: next token after ${quoted(lastToken.text)} alone`;
    if (bigram) {
      renderBars(bigramBars, bigram.items, { max, pickable: false, colour: BIGRAM_COLOUR });
      bigramRest.textContent =
        `Counted at the ${count(bigram.seen)} places where ${quoted(tokenText(trace, bigram.token))} is followed by a token in the training text. ` +
        restLine(bigram.items.length, vocab, bigram.rest);
      bigramBox.dataset.state = "drawn";
    } else {
      const note = trace.raw.bigram_note || NO_BIGRAM_PART;
      renderBars(bigramBars, [], { emptyText: note });
      bigramRest.textContent = "";
      bigramBox.dataset.state = "note";
    }
    state.last = { ...trace, top, bigram };
    root.glassboxLast = state.last; // for the browser tests
  }

  /** One trace of the text in the box. Resolves to the trace, or null when it did not draw. */
  async function run() {
    lesson.status(root, "running", "Running one forward pass…");
    const text = prompt.value;
    const request = { prompt: text, parts: state.parts, top_k: TOP_K };
    let trace;
    try {
      trace = await lesson.trace(request, { key: KEY });
    } catch (err) {
      if (err.superseded) return null;
      if (state.parts.includes("bigram") && /no part 'bigram'/.test(err.message)) {
        state.parts = ["logits"]; // an older server: draw the model's chart, say why there is no other
        return run();
      }
      lesson.status(root, "error", err.message);
      return null;
    }
    state.passes += 1;
    showPasses();
    draw(trace);
    if (prompt.value === text) state.dirty = false;
    const forward = trace.elapsedMs?.forward;
    lesson.status(root, "idle", forward !== undefined ? `One forward pass: ${forward.toFixed(1)} ms on the server.` : "");
    lesson.drawn(root);
    return trace;
  }

  function start() {
    const running = run();
    state.running = running;
    running.finally(() => {
      if (state.running === running) state.running = null;
    });
    return running;
  }

  /** Append a candidate (by id; the top one by default) and run again. True when it drew. */
  async function appendAndRun(id = null) {
    // act on the prediction for the text in the box now, not an older one
    if (state.running) await state.running;
    if (state.dirty && (await start()) === null) return false;
    const top = state.last?.top;
    if (!top || !top.length) return false;
    const choice = id === null ? top[0] : top.find((c) => c.id === id);
    if (!choice) return false;
    if (isPartialText(choice.text)) {
      lesson.status(root, "error", `${quoted(choice.text)} is only part of a character, so it cannot be typed into the box. Pick another token.`);
      return false;
    }
    prompt.value += choice.text;
    state.dirty = true;
    return (await start()) !== null;
  }

  function stopAuto() {
    if (state.auto) state.auto.stop = true;
  }

  async function runAuto() {
    if (state.auto) {
      stopAuto();
      return;
    }
    const job = { stop: false, done: 0 };
    state.auto = job;
    auto.textContent = "stop";
    auto.setAttribute("aria-pressed", "true");
    progress.hidden = false;
    const show = () => {
      progress.value = job.done;
      progressText.textContent = `${job.done} / ${AUTO_STEPS}`;
    };
    show();
    while (job.done < AUTO_STEPS && !job.stop) {
      if (!(await appendAndRun())) break;
      job.done += 1;
      show();
    }
    state.auto = null;
    auto.textContent = `auto ×${AUTO_STEPS}`;
    auto.setAttribute("aria-pressed", "false");
    progressText.textContent = job.done === AUTO_STEPS ? `${AUTO_STEPS} tokens added` : `stopped after ${job.done}`;
    progress.hidden = true;
  }

  // skipped when "+1 token" already ran the typed text
  const redraw = debounce(() => state.dirty && start(), 150);
  prompt.addEventListener("input", () => {
    state.dirty = true;
    stopAuto(); // typing takes the text back from the loop
    redraw();
  });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      appendAndRun();
    }
  });
  plus.addEventListener("click", () => {
    stopAuto();
    appendAndRun();
  });
  auto.addEventListener("click", runAuto);
  modelBars.addEventListener("click", (event) => {
    const bar = event.target.closest("button.nt-bar");
    if (!bar) return;
    stopAuto();
    appendAndRun(Number(bar.dataset.tokenId));
  });

  return start();
}
