// Lesson 6's widget, "One head, step by step": the student's text goes through the model
// once per layer (q, k, v, scores, attention and ln_1 for every head of that layer, so a
// head change redraws without asking again), and the page lays one head's attention out as
// a row of steps: (a) x and the head's q, k, v; (b) the raw scores q·kᵀ, done here from q
// and k; (c) ÷ √d_k, the reply's scores; (d) the causal mask; (e) the softmax, the reply's
// attention, with row sums and a line view; (f) for the picked query, the value vectors
// scaled by their weights and their sum z_i, done here.

import { debounce } from "../lessons/lesson-client.js";
import {
  el,
  fixed,
  legend,
  maxAbs,
  norm,
  numberSelect,
  onResize,
  promptBox,
  quoted,
  showFailure,
  sizeWords,
  tokenLabel,
  tokensWord,
} from "./attention-head-kit.js";
import { TokenChips } from "./token-chips.js";
import { headNumbers, weightedValues } from "./attention-head-math.js";
import { LineView } from "./attention-head-lines.js";
import { MatrixView, readoutLine } from "./attention-head-views.js";

const DEFAULT_TEXT = "The cat sat on the mat";
const MAX_TOKENS = 32; // drawn; step-by-step maps stop being readable past this
const MAX_CHARS = 200;
const PARTS = ["q", "k", "v", "scores", "attention", "ln_1"];

function panel(step, title, className = "") {
  const section = el("section", `ah-panel ${className}`.trim());
  const heading = el("h4", "ah-panel-title");
  heading.append(el("span", "ah-step", step), document.createTextNode(` ${title}`));
  const caption = el("p", "ah-caption");
  const body = el("div", "ah-panel-body");
  const legends = el("div", "ah-legends");
  section.append(heading, caption, body, legends);
  return { section, caption, body, legends };
}

export function mount(root, lesson) {
  const model = lesson.model;
  const state = { trace: null, numbers: null, layer: 0, head: 0, query: 0, queryText: null, seq: 0 };
  root.classList.add("ah");
  root.append(el("h3", "ah-title", "One head, step by step"));
  lesson.status(root, "running", "Asking the model…");

  const { label: promptLabel, input } = promptBox("Your text", DEFAULT_TEXT, { className: "ah-prompt", maxLength: MAX_CHARS });
  const layerPick = numberSelect("Layer", model.n_layer, "layer");
  const headPick = numberSelect("Head", model.n_head, "head");
  layerPick.select.classList.add("ah-layer");
  headPick.select.classList.add("ah-head");
  const controls = el("div", "widget-controls ah-controls");
  controls.append(promptLabel, layerPick.label, headPick.label);
  const picker = new TokenChips("Query token i (the row that asks):", (position) => pickQuery(position), { prefix: "ah", className: "ah-query" });
  const note = el("p", "ah-note");
  const panels = el("div", "ah-panels");
  root.append(controls, picker.element, note, panels);

  const label = (i) => tokenLabel(state.trace.tokens[i].text, 6);
  const token = (i) => `${quoted(state.trace.tokens[i].text)} (${i})`;

  // (a) x and the head's q, k, v
  const pA = panel("a", "Input x and the head's q, k, v", "ah-panel-qkv");
  const stripReadout = readoutLine("Point at a strip, or focus one and use the arrow keys, to read its numbers.");
  const strip = (name, what) =>
    new MatrixView({
      label: `${name}: one row per token`,
      kind: "diverging",
      describe: (r, c, value) => `${name} of ${token(r)}, number ${c}: ${fixed(value)} (${what})`,
      readout: stripReadout,
    });
  const views = {
    x: strip("x", "the LayerNorm of the residual stream: what the head reads"),
    q: strip("q", "query: what this token looks for"),
    k: strip("k", "key: what this token offers"),
    v: strip("v", "value: what this token hands over"),
  };
  const stripNames = Object.fromEntries(Object.keys(views).map((name) => [name, el("p", "ah-strip-name")]));
  for (const name of Object.keys(views)) pA.body.append(stripNames[name], views[name].element);
  pA.body.append(stripReadout);

  // (b)–(e): four maps, one row per query token i, one column per key token j
  const describeScore = (what) => (r, c, value, masked) =>
    masked
      ? `${token(r)} may not look at ${token(c)}, which comes later: −∞ before the softmax, weight 0.`
      : `query ${token(r)} · key ${token(c)}: ${what} ${fixed(value)}`;
  const pB = panel("b", "Raw scores q·kᵀ");
  views.raw = new MatrixView({ label: "Raw scores", kind: "diverging", describe: describeScore("raw score"), onPick: (r) => pickQuery(r) });
  const pC = panel("c", "Scaled: ÷ √dₖ");
  views.scaled = new MatrixView({ label: "Scaled scores", kind: "diverging", describe: describeScore("scaled score"), onPick: (r) => pickQuery(r) });
  const pD = panel("d", "Causal mask");
  views.masked = new MatrixView({ label: "Masked scores", kind: "diverging", describe: describeScore("scaled score"), onPick: (r) => pickQuery(r) });
  const pE = panel("e", "Softmax: the attention weights", "ah-panel-softmax");
  views.weights = new MatrixView({
    label: "Attention weights after the softmax",
    kind: "weights",
    describe: (r, c, value, masked) =>
      masked
        ? `${token(r)} gives ${token(c)} weight 0: it comes later.`
        : `${token(r)} reads ${fixed(value * 100, 1)}% of its mix from ${token(c)} (weight ${fixed(value)}).`,
    onPick: (r) => pickQuery(r),
    onRow: (r) => showLines(r),
  });
  const lines = new LineView({ label: "Lines from the query token to each key token, as wide as the weight", onRow: (r) => showLines(r) });
  lines.canvas.addEventListener("pointerleave", () => showLines(null));
  lines.canvas.addEventListener("blur", () => showLines(null));
  const pLines = panel("e", "The same row as lines", "ah-panel-lines");
  const linesCaption = pLines.caption;
  pB.body.append(views.raw.element);
  pC.body.append(views.scaled.element);
  pD.body.append(views.masked.element);
  pE.body.append(views.weights.element);
  pLines.body.append(lines.canvas);

  // (f) the weighted sum of the values for the picked query
  const pF = panel("f", "The head's output for the query: a weighted sum of values", "ah-panel-sum");
  const formula = el("p", "ah-formula");
  formula.innerHTML = "z<sub>i</sub> = Σ<sub>j ≤ i</sub> w<sub>ij</sub> v<sub>j</sub>";
  views.sum = new MatrixView({
    label: "Each value vector scaled by its weight, and their sum z",
    kind: "diverging",
    describe: (r, c, value) => describeSum(r, c, value),
  });
  pF.body.append(formula, views.sum.element);

  for (const p of [pA, pB, pC, pD, pE, pLines, pF]) panels.append(p.section);

  function describeSum(r, c, value) {
    const i = state.query;
    const { w } = weightedValues(state.numbers, i);
    if (r <= i) {
      return `w(${i}→${r}) × v of ${token(r)}, number ${c}: ${fixed(w[r])} × ${fixed(state.numbers.v[r][c])} = ${fixed(value)}`;
    }
    const terms = w.map((wj, j) => `${fixed(wj, 2)}×${fixed(state.numbers.v[j][c], 2)}`);
    const shown = terms.length > 4 ? `${terms.slice(0, 3).join(" + ")} + … (${terms.length} terms)` : terms.join(" + ");
    return `z of ${token(i)}, number ${c}: ${shown} = ${fixed(value)}`;
  }

  function pickQuery(position) {
    if (!state.trace) return;
    state.query = Math.max(0, Math.min(state.numbers.n - 1, position));
    state.queryText = state.trace.tokens[state.query].text;
    draw();
  }

  function showLines(row) {
    if (!state.numbers) return;
    const focus = row ?? state.query;
    lines.set({ n: state.numbers.n, labels: state.numbers.labels, weights: state.numbers.weights, focus });
    linesCaption.textContent =
      `Lines from ${token(focus)} (left) to the tokens it reads (right), as wide as the weights in its row of (e)` +
      `${row === null ? "; point at another row of (e), or focus this picture and use the up and down keys, to see its lines" : ""}.`;
  }

  async function request() {
    state.seq += 1;
    const seq = state.seq;
    lesson.status(root, "running", "Asking the model…");
    try {
      const trace = await lesson.trace(
        { prompt: input.value, parts: PARTS, layers: [state.layer], heads: "all" },
        { key: "attention-head" },
      );
      if (seq !== state.seq) return;
      state.trace = trace;
      root.lastTrace = trace; // for the browser tests and the curious
      const n = Math.min(trace.tokens.length, MAX_TOKENS);
      const same = state.queryText !== null && state.query < n && trace.tokens[state.query].text === state.queryText;
      if (!same) state.query = n - 1;
      state.queryText = trace.tokens[state.query].text;
      draw();
    } catch (err) {
      if (seq === state.seq) showFailure(lesson, root, err);
    }
  }

  function draw() {
    const trace = state.trace;
    if (!trace) return;
    const layer = trace.layers[0]; // the layer this reply is for (a newer one may be on its way)
    const numbers = headNumbers(trace, { layer, head: state.head, limit: MAX_TOKENS });
    numbers.labels = Array.from({ length: numbers.n }, (_, i) => label(i));
    state.numbers = numbers;
    const { n, hs, sqrtDk } = numbers;
    const i = state.query;
    const labels = numbers.labels;
    picker.set(trace.tokens.slice(0, n), i);
    root.dataset.layer = String(layer);
    root.dataset.tokens = String(n);
    root.dataset.head = String(state.head);
    root.dataset.query = String(i);

    note.textContent =
      numbers.total > n
        ? `Your text is ${numbers.total} tokens; the first ${n} are drawn. Later tokens cannot change these rows: the mask keeps every token from seeing what follows it.`
        : `${tokensWord(n)}, layer ${layer}, head ${state.head} (the layer has ${trace.dims.n_head} heads): every map has one row per query token i and one column per key token j.`;

    // (a)
    const rangeOf = (rowsList) => maxAbs(rowsList.flatMap((row) => Array.from(row)));
    const stripSpec = (list) => ({
      rows: n,
      cols: list[0].length,
      data: Float64Array.from(list.flatMap((row) => Array.from(row))),
      range: rangeOf(list),
      rowLabels: labels,
      colNumbers: true,
      square: false,
      rowHeight: 14,
      numbers: false,
      picked: i,
    });
    pA.caption.textContent =
      `The head reads x (${numbers.width} numbers per token) and multiplies it by three learned matrices: ` +
      `q = x W_Q, k = x W_K, v = x W_V, each ${hs} numbers per token (d_k = ${hs}).`;
    const stripText = { x: `x: T × ${numbers.width}`, q: `q: T × ${hs}`, k: `k: T × ${hs}`, v: `v: T × ${hs}` };
    pA.legends.replaceChildren();
    for (const name of ["x", "q", "k", "v"]) {
      const spec = stripSpec(numbers[name]);
      views[name].set(spec);
      stripNames[name].textContent = `${stripText[name]} (colours ±${fixed(spec.range, 2)})`;
    }
    pA.legends.append(legend("diverging", 1, "each strip on its own scale: blue negative, orange positive, ± its largest size"));

    // (b)–(d)
    const mapSpec = (data, extra = {}) => ({ rows: n, cols: n, data, rowLabels: labels, colLabels: labels, picked: i, ...extra });
    const rawRange = maxAbs(numbers.raw);
    views.raw.set(mapSpec(numbers.raw, { range: rawRange }));
    pB.caption.textContent =
      `Shown: q_i · k_j worked out here from the q and k in (a), ${hs} products added per cell, for every pair, ` +
      "the future too. The page divides these by √d_k in (c) and checks the result against the model's own scores.";
    pB.legends.replaceChildren(legend("diverging", rawRange, "raw score"));
    const scaledRange = maxAbs(numbers.scaled);
    views.scaled.set(mapSpec(numbers.scaled, { range: scaledRange }));
    pC.caption.textContent =
      `The reply's scores: the raw scores divided by √d_k = √${hs} = ${sqrtDk.toFixed(3)}, so that they stay ` +
      `near ±1 whatever the head size and the softmax does not saturate. Check: (b) ÷ ${sqrtDk.toFixed(3)} against these ` +
      `scores, largest difference ${fixed(numbers.scaledDifference, 4)} (the numbers travel as float16, so not exactly 0).`;
    pC.caption.dataset.difference = String(numbers.scaledDifference);
    pC.legends.replaceChildren(legend("diverging", scaledRange, "scaled score"));
    views.masked.set(mapSpec(numbers.scaled, { range: scaledRange, mask: "future", maskText: "−∞" }));
    pD.caption.textContent =
      "A token may not look ahead: every key after the query (the upper triangle, hatched) becomes −∞, " +
      "so its weight will be exactly 0.";
    pD.legends.replaceChildren(legend("diverging", scaledRange, "scaled score; hatched: −∞"));

    // (e)
    const sums = numbers.sums;
    views.weights.set(mapSpec(numbers.weights, { mask: "future", sums }));
    views.weights.canvas.dataset.rowSums = JSON.stringify(sums.map((s) => Number(s.toFixed(4))));
    const low = Math.min(...sums);
    const high = Math.max(...sums);
    pE.caption.textContent =
      `The reply's attention: each row through the softmax, w_ij = exp(s_ij) / Σ_j' exp(s_ij'). Every row sums to 1 ` +
      `(here ${fixed(low)} to ${fixed(high)}, the Σ column). The softmax done here from (d) matches it to within ` +
      `${fixed(numbers.softmaxDifference, 4)}. A high weight shows where the token reads from, not why.`;
    pE.legends.replaceChildren(legend("weights", 1, "weight; hatched: masked, exactly 0"));
    pLines.legends.replaceChildren(el("span", "ah-legend", "line width ∝ weight; grey keys: the future, weight 0"));
    showLines(views.weights.hoverRow);

    // (f)
    const { w, scaled, z } = weightedValues(numbers, i);
    const sumRows = [...scaled, z];
    views.sum.set({
      rows: sumRows.length,
      cols: hs,
      data: Float64Array.from(sumRows.flatMap((row) => Array.from(row))),
      range: rangeOf(sumRows),
      rowLabels: [...w.map((wj, j) => `${fixed(wj, 2)}×${labels[j]}`), `z${i} = Σ`],
      colNumbers: true,
      square: false,
      rowHeight: 16,
      numbers: false,
      separatorBefore: sumRows.length - 1,
    });
    views.sum.canvas.dataset.z = JSON.stringify(Array.from(z, (value) => Number(value.toFixed(5))));
    pF.caption.textContent =
      `For the query ${token(i)}: each row above the line is a value vector v_j times its weight w_ij from row ${i} of (e); ` +
      `the last row is their sum, the head's output z_${i} (${hs} numbers, length ${fixed(norm(z))}). ` +
      `Pick another query with the chips or by clicking a row of a map.`;
    pF.legends.replaceChildren(legend("diverging", rangeOf(sumRows), "w_ij × v_j and z"));

    lesson.status(
      root,
      "idle",
      `Layer ${layer}, head ${state.head}: ${tokensWord(trace.tokens.length)}; d_k = ${hs}; reply ${sizeWords(trace.bytes)} ` +
        `for all ${trace.heads.length} heads of the layer (model “${trace.model}”).`,
    );
    lesson.drawn(root);
  }

  layerPick.select.addEventListener("change", () => {
    state.layer = Number(layerPick.select.value);
    request();
  });
  headPick.select.addEventListener("change", () => {
    state.head = Number(headPick.select.value);
    draw(); // every head of the layer is in the reply already
  });
  input.addEventListener("input", debounce(request, 150));
  onResize(root, () => state.trace && draw());
  request();
}
