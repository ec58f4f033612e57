// Lesson 12's "Making it fast" widget. "Measure" sends one `trace` with the `kv_cache` part:
// on the worker, the student's text is continued greedily for N tokens twice, with the KV
// cache and without it, every step timed (docs/protocol.md). The page draws the two
// step-time lines against the text's length, the totals and the speed-up, whether the two
// runs chose identical ids (with both texts), the cache-size formula with the model's
// numbers from the reply (and GPT-2 small's, for scale), and the causal score matrix for a
// length the student picks. Below, the quantization panel: one trace per precision (16, 8
// and 4 bits; the plain model's 32-bit distribution comes with each), queued one at a time.

import { debounce } from "../lessons/lesson-client.js";
import { count } from "../format.js";
import { CACHED_COLOUR, UNCACHED_COLOUR, drawScores, drawTimes } from "./kv-cache-chart.js";
import { GPT2_SMALL, bytesText, el, formulaRow, renderPrecisions } from "./kv-cache-memory.js";

const DEFAULT_PROMPT = "ROMEO.\nBut soft, what light";
const DEFAULT_TOKENS = 32;
const MAX_TOKENS = 128; // the protocol's limit for kv_new_tokens
const QUANT_BITS = [16, 8, 4];
const TOP_K = 5;
const KEY = "kv-cache";

function button(text, className = "button") {
  const node = el("button", className, text);
  node.type = "button";
  return node;
}

function labelled(text, control) {
  const label = el("label", "");
  label.append(text, control);
  return label;
}

function ms(value) {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}

export function mount(root, lesson) {
  root.classList.add("kv");

  // -- controls ------------------------------------------------------------------------
  const controls = el("div", "widget-controls kv-controls");
  const prompt = el("textarea", "kv-prompt");
  prompt.dataset.role = "prompt";
  prompt.rows = 2;
  prompt.spellcheck = false;
  prompt.value = DEFAULT_PROMPT;
  const tokens = el("input", "kv-tokens");
  tokens.type = "number";
  tokens.min = "1";
  tokens.max = String(MAX_TOKENS);
  tokens.value = String(DEFAULT_TOKENS);
  tokens.dataset.role = "new-tokens";
  const measure = button("measure", "button primary kv-measure");
  measure.title = "Generate the tokens twice on the server, with and without the cache (Ctrl+Enter in the text box)";
  controls.append(labelled("Your text", prompt), labelled(`New tokens (1–${MAX_TOKENS})`, tokens), measure);

  // -- the measurement -----------------------------------------------------------------
  const timesBox = el("section", "kv-times");
  const timesTitle = el("h3", "", "Time per token, with and without the cache");
  const chart = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  chart.classList.add("kv-chart");
  chart.setAttribute("role", "img");
  const legend = el("p", "kv-legend");
  const swatch = (colour, dashed) => {
    const s = el("span", dashed ? "kv-swatch kv-dashed" : "kv-swatch");
    s.style.borderColor = colour;
    return s;
  };
  legend.append(
    swatch(UNCACHED_COLOUR, true),
    " without the cache: every step reruns the whole text · ",
    swatch(CACHED_COLOUR, false),
    " with the cache: after the prompt, each step feeds one token. The first point of both is the prompt's own pass.",
  );
  const totals = el("p", "kv-totals");
  totals.setAttribute("aria-live", "polite");
  timesBox.append(timesTitle, chart, legend, totals);

  const sameBox = el("section", "kv-same");
  const sameTitle = el("h3", "kv-identical", "Identical ids: …");
  const texts = el("div", "kv-texts");
  sameBox.append(sameTitle, texts);

  const sizeBox = el("section", "kv-size");
  const sizeTitle = el("h3", "", "What the cache costs: memory");
  const formulas = el("div", "kv-formulas");
  sizeBox.append(sizeTitle, formulas);

  const scoresBox = el("section", "kv-scores");
  const scoresTitle = el("h3", "", "Attention's score matrix grows with the square of the length");
  const scoresRow = el("div", "kv-scores-row");
  const canvas = el("canvas", "kv-canvas");
  canvas.setAttribute("role", "img");
  const scoresSide = el("div", "kv-scores-side");
  const length = el("input", "kv-length");
  length.type = "range";
  length.min = "1";
  length.dataset.role = "length";
  const scoresText = el("p", "kv-scores-text");
  scoresText.setAttribute("aria-live", "polite");
  scoresSide.append(labelled("Length T", length), scoresText);
  scoresRow.append(canvas, scoresSide);
  scoresBox.append(scoresTitle, scoresRow);

  const quantBox = el("section", "kv-quant");
  const quantTitle = el("h3", "", "Fewer bits per weight: memory and the next token");
  const quantNote = el("p", "kv-quant-note");
  const quantColumns = el("div", "kv-precisions");
  quantColumns.dataset.state = "waiting";
  quantBox.append(quantTitle, quantNote, quantColumns);

  root.append(controls, timesBox, sameBox, sizeBox, scoresBox, quantBox);
  lesson.status(root, "idle", "");

  // asked: the text and count last sent, so that a pause after Ctrl+Enter sends nothing twice
  const state = { kv: null, quant: {}, quantPrompt: null, asked: null };

  // -- drawing -------------------------------------------------------------------------
  function drawChart(marker = null) {
    const kv = state.kv?.raw.kv_cache;
    if (!kv) return;
    const positions = kv.cached.step_ms.map((_, i) => kv.prompt_tokens + i);
    drawTimes(chart, {
      positions,
      marker,
      runs: [
        { key: "uncached", colour: UNCACHED_COLOUR, dash: "6 4", times: kv.uncached.step_ms },
        { key: "cached", colour: CACHED_COLOUR, dash: null, times: kv.cached.step_ms },
      ],
    });
    chart.setAttribute(
      "aria-label",
      `Milliseconds per token for ${kv.new_tokens} steps: without the cache from ${ms(kv.uncached.step_ms[0])} to ${ms(kv.uncached.step_ms.at(-1))}, with it from ${ms(kv.cached.step_ms[0])} to ${ms(kv.cached.step_ms.at(-1))}.`,
    );
  }

  function drawScoresFor(T) {
    const kv = state.kv.raw.kv_cache;
    drawScores(canvas, T, Number(length.max));
    const triangle = (T * (T + 1)) / 2;
    scoresText.replaceChildren();
    scoresText.dataset.length = String(T);
    scoresText.append(
      el("strong", "", `T = ${count(T)} tokens: `),
      `a full pass scores every query against every earlier key, ${count(triangle)} scores ` +
        `(T(T+1)/2, about half of T² = ${count(T * T)}) in each head of each layer; ` +
        `doubling T to ${count(2 * T)} makes ${count(4 * T * T)}, four times as many. ` +
        `With the cache a step computes only the last row: ${count(T)} scores.`,
    );
    canvas.setAttribute("aria-label", `A ${T} by ${T} lower triangle of attention scores, the last row highlighted.`);
    const step = T - kv.prompt_tokens;
    drawChart(step >= 0 && step < kv.new_tokens ? step : null);
  }

  function drawMeasurement(trace) {
    const kv = trace.raw.kv_cache;
    state.kv = trace;
    root.lastTrace = trace; // for the browser tests
    drawChart();
    const speedUp = kv.uncached.total_ms / kv.cached.total_ms;
    const decode = (run) => run.step_ms.slice(1);
    const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    totals.replaceChildren(
      el("span", "kv-total-uncached", `Without the cache: ${ms(kv.uncached.total_ms)}`),
      " · ",
      el("span", "kv-total-cached", `with it: ${ms(kv.cached.total_ms)}`),
      " · ",
      el("strong", "kv-speedup", `${speedUp.toFixed(1)}× faster`),
      ` for ${count(kv.new_tokens)} tokens after a ${count(kv.prompt_tokens)}-token prompt` +
        (kv.new_tokens > 1 ? ` (after the prompt: ${ms(mean(decode(kv.uncached)))} vs ${ms(mean(decode(kv.cached)))} per token on average)` : "") +
        `. Measured on the server's ${kv.device}, ${kv.threads} thread${kv.threads === 1 ? "" : "s"}.`,
    );
    totals.dataset.speedup = String(speedUp);
    if (kv.new_tokens < kv.requested_tokens) {
      totals.append(` Only ${count(kv.new_tokens)} of the ${count(kv.requested_tokens)} tokens asked for: the text reached the end of the context or the end-of-text token.`);
    }

    sameTitle.textContent = `Identical ids: ${kv.identical ? "yes" : "no"}`;
    sameTitle.dataset.identical = String(kv.identical);
    texts.replaceChildren();
    for (const [key, name] of [["cached", "With the cache"], ["uncached", "Without the cache"]]) {
      const box = el("figure", `kv-text kv-text-${key}`);
      const caption = el("figcaption", "", `${name} (${count(kv[key].ids.length)} tokens)`);
      const body = el("p", "");
      body.append(el("span", "kv-text-prompt", prompt.value), el("span", "kv-text-new", kv[key].text));
      box.dataset.ids = kv[key].ids.join(",");
      box.append(caption, body);
      texts.append(box);
    }

    const size = kv.size;
    formulas.replaceChildren(
      formulaRow(`${lesson.model.name}, this text:`, size, size.tokens, "for the prompt and the new tokens"),
      formulaRow(`${lesson.model.name}, full context:`, size, size.block_size, "what its cache is set aside for"),
      formulaRow(`${GPT2_SMALL.name}, full context:`, GPT2_SMALL, GPT2_SMALL.context, "its published sizes, 16-bit numbers"),
    );
    formulas.firstChild.classList.add("kv-formula-live");
    const held = el("p", "kv-held");
    held.textContent =
      `Per token: ${bytesText(size.bytes_per_token)}. After the run the cache's tensors held ` +
      `${count(kv.cached_positions)} positions, ${bytesText(kv.cache_tensor_bytes)}: the last token was chosen but never fed back.`;
    formulas.append(held);

    length.max = String(size.tokens);
    length.value = String(size.tokens);
    drawScoresFor(size.tokens);
  }

  function drawQuant() {
    renderPrecisions(quantColumns, state.quant);
    const done = QUANT_BITS.every((b) => state.quant[b]);
    quantColumns.dataset.state = done ? "drawn" : "waiting";
    root.quantTraces = state.quant; // for the browser tests
    const any = QUANT_BITS.map((b) => state.quant[b]).find(Boolean);
    quantNote.textContent = any
      ? "The next token after your text, with the weights rounded to fewer bits (16: the nearest half-precision number; 8 and 4: whole numbers times one scale per row). " +
        "KL, in bits, measures how far each distribution has moved from the 32-bit one. " +
        "Memory: the weight matrices at that width, plus a 16-bit scale per row at 8 and 4 bits (biases and layer norms stay at 16)."
      : "";
  }

  // -- requests ------------------------------------------------------------------------
  function newTokens() {
    const n = Math.round(Number(tokens.value));
    return Number.isFinite(n) ? Math.min(MAX_TOKENS, Math.max(1, n)) : DEFAULT_TOKENS;
  }

  async function runMeasure() {
    const text = prompt.value;
    const n = newTokens();
    tokens.value = String(n);
    state.asked = `${n}:${text}`;
    lesson.status(root, "running", `Generating ${n} tokens twice on the server…`);
    let trace;
    try {
      trace = await lesson.trace({ prompt: text, parts: ["kv_cache"], kv_new_tokens: n }, { key: KEY });
    } catch (err) {
      if (err.superseded) return null;
      lesson.status(root, "error", err.message);
      return null;
    }
    drawMeasurement(trace);
    lesson.status(root, "idle", `Both runs took ${ms(trace.raw.kv_cache.cached.total_ms + trace.raw.kv_cache.uncached.total_ms)} on the server.`);
    lesson.drawn(root);
    return trace;
  }

  async function runQuant() {
    const text = prompt.value;
    if (state.quantPrompt === text && QUANT_BITS.every((b) => state.quant[b])) return; // the N control changes nothing here
    state.quantPrompt = text;
    state.quant = {};
    drawQuant();
    const one = async (bits) => {
      const request = { prompt: text, parts: ["logits"], top_k: TOP_K, experiment: { quantize_bits: bits } };
      const trace = await lesson.trace(request, { key: `${KEY}-q${bits}` });
      if (state.quantPrompt !== text) return;
      state.quant[bits] = trace;
      drawQuant();
    };
    try {
      await Promise.all(QUANT_BITS.map(one)); // they wait in the page's queue, one at a time
    } catch (err) {
      if (err.superseded) return;
      lesson.status(root, "error", err.message);
      return;
    }
    if (state.quantPrompt === text) lesson.drawn(root);
  }

  function runAll() {
    const measured = runMeasure();
    const quantized = runQuant();
    return Promise.all([measured, quantized]).then(([trace]) => trace);
  }

  const later = debounce(() => state.asked !== `${newTokens()}:${prompt.value}` && runAll(), 150);
  prompt.addEventListener("input", later);
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      runAll();
    }
  });
  tokens.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      runMeasure();
    }
  });
  measure.addEventListener("click", runAll);
  length.addEventListener("input", () => state.kv && drawScoresFor(Number(length.value)));
  let width = root.clientWidth;
  new ResizeObserver(() => {
    if (root.clientWidth !== width && state.kv) {
      width = root.clientWidth;
      drawScoresFor(Number(length.value));
    }
  }).observe(root);

  return runAll();
}
