// Lesson 9's "Residual river": one trace of the student's text (residuals, attn_out,
// mlp_out, ln_1, ln_2 for every layer) drawn three ways. (1) The length of every token's
// residual stream at every one of the n_layer + 1 points, as a table of numbers on colours.
// (2) For a chosen token, what each attention and MLP block wrote into its stream: the
// length of the write, and its share of the final vector. (3) For that token and a chosen
// layer norm, the norm taken apart: the vector it read, its mean, its std (with the
// model's ε), the normalised vector, and × γ + β, set beside the server's own output.
// Choosing a token or a norm redraws from the same reply; only typing asks the model again.

import { debounce } from "../lessons/lesson-client.js";
import { visibleText } from "../format.js";
import { TokenChips } from "./token-chips.js";
import { blockWrites, layerNormSteps, normTable } from "./residual-river-math.js";
import {
  el,
  fixed,
  maxAbs,
  paintStrip,
  pointName,
  renderFeatureTable,
  renderNormTable,
  renderWrites,
  scientific,
} from "./residual-river-draw.js";

const DEFAULT_PROMPT = "To be, or not to be";
const KEY = "residual-river";
const PARTS = ["residuals", "attn_out", "mlp_out", "ln_1", "ln_2"];
const STRIPS = [
  ["x", "x: the vector the norm reads"],
  ["normalised", "(x − μ) / σ: normalised"],
  ["gamma", "γ: learned scale"],
  ["beta", "β: learned shift"],
  ["out", "γ ⊙ (x − μ)/σ + β: the output"],
];

function select(labelText, options, className) {
  const label = el("label", className);
  label.append(el("span", "", labelText));
  const node = el("select");
  for (const [value, text] of options) {
    const option = el("option", "", text);
    option.value = value;
    node.append(option);
  }
  label.append(node);
  return { label, select: node };
}

function stat(list, name, value, key) {
  const dt = el("dt", "", name);
  const dd = el("dd", "", value);
  if (key) dd.dataset.stat = key;
  list.append(dt, dd);
}

export function mount(root, lesson) {
  root.classList.add("rr");
  const nLayer = lesson.model?.n_layer ?? lesson.facts?.n_layer ?? 0;

  const controls = el("div", "widget-controls rr-controls");
  const promptLabel = el("label", "rr-prompt");
  promptLabel.append(el("span", "", "Your text"));
  const prompt = el("input");
  prompt.type = "text";
  prompt.value = DEFAULT_PROMPT;
  prompt.spellcheck = false;
  prompt.autocomplete = "off";
  prompt.dataset.role = "prompt";
  promptLabel.append(prompt);
  controls.append(promptLabel);

  const state = { trace: null, position: null, layer: 0, which: "ln_1", norms: null };
  const chips = new TokenChips("Follow the token", (position) => {
    state.position = position;
    drawChosen();
  }, { prefix: "rr" });

  // (1) the norm table
  const tableTitle = el("h3", "", "The length of each token's stream, ‖x‖, at every point");
  const tableBox = el("div", "rr-table-box");
  tableBox.tabIndex = 0; // it scrolls sideways on a phone: reachable from the keyboard
  tableBox.setAttribute("role", "region");
  tableBox.setAttribute("aria-label", "Residual norms: one row per token, one column per point");
  const table = el("table", "rr-norms");
  tableBox.append(table);
  const tableNote = el("p", "rr-note");

  // (2) the writes
  const writesTitle = el("h3");
  const writes = el("ol", "rr-writes");
  writes.setAttribute("aria-label", "What each block wrote into the chosen token's stream");
  const writesNote = el("p", "rr-note");

  // (3) the layer-norm panel
  const lnTitle = el("h3");
  const lnControls = el("div", "widget-controls rr-ln-controls");
  const layerPick = select(
    "Layer",
    Array.from({ length: nLayer }, (_, i) => [String(i), `layer ${i}`]),
    "rr-layer",
  );
  const normPick = select(
    "Which norm",
    [
      ["ln_1", "ln_1, before the attention"],
      ["ln_2", "ln_2, before the MLP"],
    ],
    "rr-which",
  );
  lnControls.append(layerPick.label, normPick.label);
  const strips = el("div", "rr-strips");
  const canvases = {};
  for (const [key, text] of STRIPS) {
    const row = el("div", "rr-strip-row");
    const name = el("span", "rr-strip-name", text);
    const canvas = el("canvas", "rr-strip");
    canvas.setAttribute("role", "img");
    canvas.dataset.strip = key;
    const range = el("span", "rr-strip-range");
    row.append(name, canvas, range);
    strips.append(row);
    canvases[key] = { canvas, range };
  }
  const stats = el("dl", "rr-stats");
  const perRow = el("p", "rr-per-row");
  const featureTable = el("table", "rr-features");
  const featureBox = el("div", "rr-table-box");
  featureBox.append(featureTable);
  const check = el("p", "rr-check");

  root.append(
    controls,
    chips.element,
    tableTitle,
    tableBox,
    tableNote,
    writesTitle,
    writes,
    writesNote,
    lnTitle,
    lnControls,
    perRow,
    strips,
    stats,
    featureBox,
    check,
  );
  lesson.status(root, "idle", "");

  table.addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-position]");
    if (!row) return;
    state.position = Number(row.dataset.position);
    drawChosen();
  });
  layerPick.select.addEventListener("change", () => {
    state.layer = Number(layerPick.select.value);
    drawNorm();
    lesson.drawn(root);
  });
  normPick.select.addEventListener("change", () => {
    state.which = normPick.select.value;
    drawNorm();
    lesson.drawn(root);
  });

  function drawNorm() {
    const trace = state.trace;
    const t = state.position;
    const token = trace.tokens[t];
    const steps = layerNormSteps(trace, state.which, state.layer, t);
    const where = state.which === "ln_1" ? "before its attention" : "before its MLP";
    lnTitle.textContent = `Layer norm of “${visibleText(token.text)}”: layer ${state.layer}'s ${state.which}, ${where}`;
    perRow.textContent =
      `Per token, not per column: μ and σ are taken over this one token's ${steps.features} features (its row), ` +
      `never over the ${trace.tokens.length} tokens in a feature's column. Every token is normalised on its own. ` +
      "Each strip is one feature per cell, on its own scale (blue below zero, orange above).";
    for (const [key] of STRIPS) {
      const values = steps[key];
      const range = maxAbs(values);
      paintStrip(canvases[key].canvas, values, range);
      canvases[key].canvas.setAttribute("aria-label", `${key}: ${values.length} features, largest |value| ${fixed(range, 3)}`);
      canvases[key].range.textContent = `±${fixed(range, 2)}`;
    }
    stats.replaceChildren();
    stat(stats, "mean μ = (1/d) Σ x_m", `${fixed(steps.mean, 5)} (the server: ${fixed(steps.servedMean, 5)})`, "mean");
    stat(stats, "variance σ² = (1/d) Σ (x_m − μ)²", fixed(steps.variance, 6), "variance");
    stat(stats, "ε, from the model", scientific(steps.eps), "eps");
    stat(stats, "σ = √(σ² + ε)", `${fixed(steps.std, 5)} (the server: ${fixed(steps.servedStd, 5)})`, "std");
    stat(stats, "normalised: mean, std", `${fixed(steps.normalisedMean, 4)}, ${fixed(steps.normalisedStd, 4)}`, "normalised");
    check.textContent =
      `γ ⊙ (x − μ)/σ + β computed here against the server's output: the largest difference over the ` +
      `${steps.features} features is ${fixed(steps.maxDiff, 4)} (float16 carries about 3 digits).`;
    check.dataset.maxDiff = String(steps.maxDiff);
    renderFeatureTable(featureTable, steps);
    root.riverNorm = {
      which: steps.which,
      layer: steps.layer,
      position: t,
      eps: steps.eps,
      mean: steps.mean,
      std: steps.std,
      servedMean: steps.servedMean,
      servedStd: steps.servedStd,
      normalisedMean: steps.normalisedMean,
      normalisedStd: steps.normalisedStd,
      maxDiff: steps.maxDiff,
      out: Array.from(steps.out),
    };
  }

  function drawChosen() {
    const trace = state.trace;
    const t = state.position;
    chips.set(trace.tokens, t);
    for (const row of table.querySelectorAll("tbody tr")) {
      row.classList.toggle("rr-picked", Number(row.dataset.position) === t);
    }
    const token = trace.tokens[t];
    const w = blockWrites(trace, t);
    writesTitle.textContent = `What each block wrote into “${visibleText(token.text)}”`;
    renderWrites(writes, w);
    writesNote.textContent =
      `Bar: the length of the write. Percentage: its share of the final vector (length ${fixed(w.finalNorm, 2)}), ` +
      "the write's component along the final direction, divided by the final length; a negative share pushes against it. " +
      `The final vector is exactly the embeddings plus every write, so the shares add up to ${(w.total * 100).toFixed(1)}%.`;
    root.riverWrites = { position: t, ...w };
    drawNorm();
    lesson.drawn(root);
  }

  function draw(trace) {
    state.trace = trace;
    const n = trace.tokens.length;
    if (state.position === null || state.position >= n || state.wasLast) state.position = n - 1;
    state.norms = normTable(trace);
    renderNormTable(table, trace.tokens, state.norms, state.position);
    const points = state.norms[0].length;
    tableNote.textContent =
      `Columns: the ${points} points of the stream, the embeddings (token + position) and after each of the ` +
      `${points - 1} layers (${pointName(1)} … ${pointName(points - 1)}). Darker = longer. ` +
      "Click a row, or choose a token above, to follow it below.";
    root.lastTrace = trace;
    root.riverNorms = state.norms;
    drawChosen();
  }

  async function run() {
    lesson.status(root, "running", "Running the model…");
    try {
      const trace = await lesson.trace({ prompt: prompt.value, parts: PARTS }, { key: KEY });
      state.wasLast = state.trace === null || state.position === state.trace.tokens.length - 1;
      draw(trace);
      const forward = trace.elapsedMs?.forward;
      lesson.status(root, "idle", forward !== undefined ? `One forward pass: ${forward.toFixed(1)} ms on the server.` : "");
    } catch (err) {
      if (err.superseded) return;
      lesson.status(root, "error", err.message || String(err));
    }
  }

  prompt.addEventListener("input", debounce(run, 150));
  return run();
}
