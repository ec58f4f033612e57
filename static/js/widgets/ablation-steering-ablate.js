// Part 1 of lesson 14's widget: knock out heads. The student's prompt and a target token
// (by default the model's own top next token) go to the worker as one `head_ablation`
// trace, which zeroes every head in turn and answers with the Δ ln p grid. Clicking a head
// then runs a trace with that head ablated (or, with "combine" on, the whole chosen set)
// and shows the top next tokens before and after, side by side, from that reply.

import { debounce } from "../lessons/lesson-client.js";
import { decodeTensor } from "../protocol.js";
import { showFailure } from "./attention-head-kit.js";
import {
  button,
  compareColumns,
  deltaLegend,
  el,
  fixed,
  headName,
  labelled,
  logProbOf,
  percentText,
  quoted,
  textBox,
} from "./ablation-steering-kit.js";
import { DeltaGrid } from "./ablation-steering-grid.js";

const DEFAULT_PROMPT = "Good morrow, my good";
const TOP_K = 8;

export function mountAblation(section, root, lesson) {
  const state = { grid: null, targetEdited: false, ablated: [], gridSeq: 0, runSeq: 0 };
  section.append(el("h4", "as-part-title", "1 · Knock out a head"));

  const prompt = textBox(DEFAULT_PROMPT, { role: "prompt", maxLength: 300 });
  const target = textBox("", { role: "target", maxLength: 60 });
  const combine = el("input");
  combine.type = "checkbox";
  combine.dataset.role = "combine";
  const combineLabel = el("label", "as-check");
  combineLabel.append(combine, " Combine: each click adds or removes a head");
  const clear = button("Clear the ablation", "button small", "clear");
  const controls = el("div", "widget-controls as-controls");
  controls.append(
    labelled("Your text", prompt, "as-prompt-label"),
    labelled("Target token (one token; empty = the model's top)", target, "as-target-label"),
  );
  const targetNote = el("p", "as-note as-target-note");
  const grid = new DeltaGrid((layer, head) => pick(layer, head));
  const legendBox = el("div", "as-legends");
  const actions = el("div", "as-actions");
  actions.append(combineLabel, clear);
  const result = el("div", "as-result");
  result.dataset.role = "ablation-result";
  result.append(el("p", "as-note", "Click a head in the grid to run the model without it."));
  section.append(controls, targetNote, grid.element, legendBox, actions, result);

  async function requestGrid() {
    state.gridSeq += 1;
    const seq = state.gridSeq;
    const request = { prompt: prompt.value, parts: ["head_ablation"] };
    if (state.targetEdited && target.value !== "") request.ablation_target = target.value;
    lesson.status(root, "running", "Zeroing each head in turn…");
    try {
      const trace = await lesson.trace(request, { key: "as-grid" });
      if (seq !== state.gridSeq) return;
      target.removeAttribute("aria-invalid");
      drawGrid(trace, request.prompt);
      if (state.ablated.length) runExperiment();
    } catch (err) {
      if (seq !== state.gridSeq || err.superseded) return;
      if (request.ablation_target !== undefined) {
        target.setAttribute("aria-invalid", "true");
        targetNote.textContent = err.message;
      }
      showFailure(lesson, root, err);
    }
  }

  function drawGrid(trace, text) {
    const part = trace.raw.head_ablation;
    const { n_layer: nLayer, n_head: nHead } = trace.dims;
    state.grid = { trace, part, text, delta: decodeTensor(part.delta_log_prob).data };
    root.lastTrace = trace; // for the browser tests and the curious
    if (!state.targetEdited) target.value = part.target.text;
    grid.set({ delta: state.grid.delta, nLayer, nHead, logProb: part.log_prob, targetText: part.target.text });
    grid.mark(state.ablated.map(([l, h]) => `${l}:${h}`));
    legendBox.replaceChildren(deltaLegend(grid.range));
    const top = part.top.id === part.target.id ? "the model's top next token" : `the model's top is ${quoted(part.top.text)}`;
    targetNote.textContent =
      `Target ${quoted(part.target.text)} (token ${part.target.id}, ${top}) after ${quoted(trace.tokens[part.position].text)}: ` +
      `p = ${percentText(Math.exp(part.log_prob))}, ln p = ${fixed(part.log_prob, 3)}. ` +
      `Each cell: ln p with that one head zeroed, minus this.`;
    root.dataset.target = String(part.target.id);
    lesson.status(
      root,
      "idle",
      `${nLayer} × ${nHead} heads, each zeroed alone: ${nLayer * nHead + 1} forward passes on the server in ` +
        `${Math.round(part.elapsed_ms)} ms (model “${trace.model}”).`,
    );
    lesson.drawn(root);
  }

  function pick(layer, head) {
    if (!state.grid) return;
    const key = (pair) => `${pair[0]}:${pair[1]}`;
    if (combine.checked) {
      const has = state.ablated.some((pair) => key(pair) === `${layer}:${head}`);
      state.ablated = has ? state.ablated.filter((pair) => key(pair) !== `${layer}:${head}`) : [...state.ablated, [layer, head]];
    } else {
      state.ablated = [[layer, head]];
    }
    grid.mark(state.ablated.map(key));
    if (state.ablated.length) runExperiment();
    else showCleared();
  }

  async function runExperiment() {
    const shown = state.grid;
    const heads = state.ablated.map((pair) => [...pair]);
    state.runSeq += 1;
    const seq = state.runSeq;
    root.dataset.ablated = heads.map(([l, h]) => `${l}:${h}`).join(",");
    lesson.status(root, "running", `Running the model without ${heads.map(([l, h]) => headName(l, h)).join(", ")}…`);
    try {
      const trace = await lesson.trace(
        { prompt: shown.text, parts: ["logits"], top_k: TOP_K, experiment: { ablate_heads: heads } },
        { key: "as-experiment" },
      );
      if (seq !== state.runSeq || shown !== state.grid) return;
      drawExperiment(trace, heads, shown);
    } catch (err) {
      if (seq === state.runSeq) showFailure(lesson, root, err);
    }
  }

  function drawExperiment(trace, heads, shown) {
    root.lastExperiment = trace;
    const experiment = trace.experiment;
    const targetId = shown.part.target.id;
    const targetText = shown.part.target.text;
    const after = logProbOf(trace.logits.last.data, targetId); // the changed model's logits
    const before = shown.part.log_prob;
    const names = heads.map(([l, h]) => headName(l, h)).join(" + ");
    const facts = el("p", "as-facts");
    facts.dataset.role = "facts";
    facts.dataset.logProbAfter = String(after);
    facts.textContent =
      `Without ${names}: p(${quoted(targetText)}) ${percentText(Math.exp(before))} → ${percentText(Math.exp(after))} ` +
      `(Δ ln p = ${fixed(after - before, 3)}). KL(before ‖ after) = ${fixed(experiment.kl_bits, 4)} bits; ` +
      (experiment.top_changed
        ? `the top token changed from ${quoted(experiment.before[0].text)} to ${quoted(experiment.after[0].text)}.`
        : "the top token stayed the same.");
    const parts = [
      compareColumns(experiment, targetId, { before: "Before: every head", after: `After: without ${names}` }),
      facts,
    ];
    if (heads.length === 1) {
      const [l, h] = heads[0];
      const cell = shown.delta[l * grid.nHead + h];
      parts.push(
        el(
          "p",
          "as-note",
          `Check: the grid's cell for ${names} says ${fixed(cell, 3)}; this separate run gives ${fixed(after - before, 3)} ` +
            "(the grid travels as float16, so the last digit may differ).",
        ),
      );
    } else {
      const sum = heads.reduce((total, [l, h]) => total + shown.delta[l * grid.nHead + h], 0);
      parts.push(
        el(
          "p",
          "as-note",
          `The grid's cells for these heads add up to ${fixed(sum, 3)}; together they change ln p by ${fixed(after - before, 3)}. ` +
            "Effects of heads need not add up: one head can make up for another, or depend on it.",
        ),
      );
    }
    result.replaceChildren(...parts);
    lesson.status(root, "idle", `Ran the model without ${names}: ${Math.round(trace.elapsedMs?.total ?? 0)} ms on the server.`);
    lesson.drawn(root);
  }

  function showCleared() {
    state.runSeq += 1;
    root.dataset.ablated = "";
    result.replaceChildren(el("p", "as-note", "No head is ablated. Click a head in the grid to run the model without it."));
  }

  clear.addEventListener("click", () => {
    state.ablated = [];
    grid.mark([]);
    showCleared();
  });
  const later = debounce(requestGrid, 150);
  prompt.addEventListener("input", later);
  target.addEventListener("input", () => {
    state.targetEdited = target.value !== "";
    later();
  });
  requestGrid();
}
