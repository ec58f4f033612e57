// Lesson 8's "Neuron microscope": the student's text through one layer's MLP. For the
// chosen layer and token it states the expansion with the reply's own sizes, draws the
// histograms of the neurons' values before and after the GELU, lists the most active
// neurons (the reply's mlp_top), and for a chosen neuron shows its value on every token as
// dots on the GELU curve (beside ReLU and sigmoid, drawn from their formulas) and the
// places in the model's fixed sample of held-out text where it fired hardest
// (the `neuron_examples` trace part, read from the file the model folder ships).
//
// One `trace` per text or layer (parts mlp_pre and mlp_post, that layer, every position);
// changing the token redraws from that reply; a neuron's examples are one more small trace
// each, kept, so going back to a neuron asks nothing.

import { debounce } from "../lessons/lesson-client.js";
import { tensorSlice } from "../protocol.js";
import { TokenChips } from "./token-chips.js";
import { visibleText } from "../format.js";
import {
  drawCurves,
  drawHistogram,
  el,
  fixed,
  quoted,
  renderExamples,
  renderTopNeurons,
  svgBox,
} from "./neuron-microscope-draw.js";
import { ACTIVATIONS, binEdges, histogram, negatives } from "./neuron-microscope-math.js";

const DEFAULT_PROMPT = "ROMEO.\nBut soft, what light through yonder window breaks?";
const TOP_K = 10;
const KEY = "neuron-microscope";
const EXAMPLES_KEY = "neuron-microscope-examples";

function heading(text) {
  return el("h4", "nm-heading", text);
}

export function mount(root, lesson) {
  root.classList.add("nm");
  const model = lesson.model;
  const state = {
    layer: Math.min(2, model.n_layer - 1),
    position: null, // null: the last token
    neuron: null,
    pinned: false, // a neuron the student picked stays until the layer changes
    trace: null,
    examples: new Map(), // "layer:neuron" -> the neuron_examples reply (or its note)
  };

  // -- controls ----------------------------------------------------------------------
  const controls = el("div", "widget-controls nm-controls");
  const promptLabel = el("label", "nm-prompt-label", "Your text");
  const prompt = el("textarea", "nm-prompt");
  prompt.dataset.role = "prompt";
  prompt.rows = 2;
  prompt.spellcheck = false;
  prompt.value = DEFAULT_PROMPT;
  promptLabel.append(prompt);
  const layerLabel = el("label", "nm-layer-label", "Layer ");
  const layerSelect = el("select", "nm-layer");
  for (let l = 0; l < model.n_layer; l += 1) {
    const option = el("option", "", `${l}`);
    option.value = String(l);
    layerSelect.append(option);
  }
  layerSelect.value = String(state.layer);
  layerLabel.append(layerSelect);
  controls.append(promptLabel, layerLabel);
  const chips = new TokenChips("Token", (position) => pickPosition(position), { prefix: "nm" });

  const expansion = el("p", "nm-expansion");

  // -- histograms --------------------------------------------------------------------
  const histograms = el("div", "nm-histograms");
  const panes = {};
  for (const [name, title] of [["pre", "Before GELU"], ["post", "After GELU"]]) {
    const pane = el("figure", `nm-histogram nm-histogram-${name}`);
    const svg = svgBox(`nm-histogram-svg nm-${name}`, 320, 150, `${title}: how many neurons have each value`);
    const caption = el("figcaption", "nm-caption");
    pane.append(heading(title), svg, caption);
    histograms.append(pane);
    panes[name] = { svg, caption };
  }

  // -- neurons -----------------------------------------------------------------------
  const topBox = el("div", "nm-top");
  const topTitle = heading("Most active neurons");
  const topHint = el("p", "nm-hint", "Pick one (arrow keys, then Enter) to see where it fires.");
  const topList = el("ol", "nm-top-list");
  topBox.append(topTitle, topHint, topList);

  const neuronBox = el("div", "nm-neuron-box");
  const neuronTitle = heading("");
  const curves = svgBox("nm-curves", 360, 220, "ReLU, GELU and sigmoid, with the chosen neuron's values on your text");
  const legend = el("ul", "nm-legend");
  for (const activation of ACTIVATIONS) {
    const item = el("li", activation.className, activation.name);
    legend.append(item);
  }
  legend.append(el("li", "nm-legend-dot", "this neuron, one dot per token of your text"));
  const curveNote = el("p", "nm-hint");
  const examplesTitle = heading("Where it fires hardest in the sample");
  const sampleNote = el("p", "nm-hint nm-sample");
  const examplesList = el("ol", "nm-examples");
  neuronBox.append(neuronTitle, curves, legend, curveNote, examplesTitle, sampleNote, examplesList);

  const panels = el("div", "nm-panels");
  panels.append(topBox, neuronBox);
  root.append(controls, chips.element, expansion, histograms, panels);

  // -- drawing -----------------------------------------------------------------------
  function position() {
    const count = state.trace.tokens.length;
    return state.position === null ? count - 1 : Math.min(state.position, count - 1);
  }

  function topNeurons(trace, p) {
    const ids = trace.mlpTop.ids[0][p];
    const values = tensorSlice(trace.mlpTop.values, 0, p);
    return ids.map((id, i) => ({ id, value: values[i] }));
  }

  function draw() {
    const trace = state.trace;
    const p = position();
    const { n_embd: width, mlp_width: hidden } = trace.dims;
    const pre = tensorSlice(trace.tensors.mlp_pre, 0, p);
    const post = tensorSlice(trace.tensors.mlp_post, 0, p);
    const token = quoted(trace.tokens[p].text);
    chips.set(trace.tokens, p);
    root.dataset.layer = String(state.layer);
    root.dataset.position = String(p);

    const ratio = hidden / width;
    expansion.textContent =
      `Layer ${state.layer}: the MLP takes each token's ${width} numbers, multiplies them by W₁ ` +
      `(${width} × ${hidden}) into ${hidden} neurons, ${Number.isInteger(ratio) ? ratio : fixed(ratio, 2)} times as many, ` +
      `bends each with GELU, and multiplies by W₂ (${hidden} × ${width}) back to ${width}.`;

    const edges = binEdges([pre, post]);
    for (const [name, values] of [["pre", pre], ["post", post]]) {
      const counts = histogram(values, edges);
      drawHistogram(panes[name].svg, counts, edges, `nm-${name}`);
      const { below, min } = negatives(values);
      panes[name].caption.textContent =
        `${below} of ${values.length} neurons below zero at ${token}; the lowest is ${fixed(min)}.`;
      panes[name].caption.dataset.below = String(below);
      panes[name].caption.dataset.min = String(min);
    }

    const top = topNeurons(trace, p);
    if (!state.pinned) state.neuron = top[0].id;
    topTitle.textContent = `Most active neurons at ${token} (after GELU)`;
    renderTopNeurons(topList, top, state.neuron);
    drawNeuron();
  }

  function drawNeuron() {
    const trace = state.trace;
    const j = state.neuron;
    const p = position();
    const hidden = trace.dims.mlp_width;
    const points = trace.tokens.map((t, i) => {
      const x = trace.tensors.mlp_pre.data[i * hidden + j];
      const y = trace.tensors.mlp_post.data[i * hidden + j];
      return { x, y, label: `${visibleText(t.text)}: ${fixed(x)} → ${fixed(y)}` };
    });
    root.dataset.neuron = String(j);
    neuronTitle.textContent = `Neuron #${j} of layer ${state.layer}: ${fixed(points[p].x)} before GELU, ${fixed(points[p].y)} after, at ${quoted(trace.tokens[p].text)}`;
    const { floor } = drawCurves(curves, points);
    curveNote.textContent =
      `Each dot is one token of your text: across, the neuron's value before the GELU; up, after it. ` +
      `GELU never goes below ${fixed(floor)} (the dashed line); ReLU never below 0; sigmoid stays between 0 and 1.`;
    drawExamples();
  }

  function drawExamples() {
    const key = `${state.layer}:${state.neuron}`;
    const found = state.examples.get(key);
    if (!found) {
      examplesList.replaceChildren(el("li", "nm-hint", "Asking the server…"));
      sampleNote.textContent = "";
      fetchExamples(state.layer, state.neuron);
      return;
    }
    if (found.note) {
      examplesList.replaceChildren();
      sampleNote.textContent = found.note;
    } else {
      sampleNote.textContent =
        `This neuron's ${found.part.examples.length} highest values after the GELU in a fixed sample of ${found.part.sample}. ` +
        `The marked token is where it fired, shown with up to ${found.part.before} tokens before it and ${found.part.after} after.`;
      renderExamples(examplesList, found.part.examples, found.tokenTexts);
    }
    root.dataset.examplesFor = key;
    root.lastExamples = found;
  }

  // -- requests ----------------------------------------------------------------------
  async function run() {
    const text = prompt.value;
    lesson.status(root, "running", "Running the model on your text…");
    let trace;
    try {
      trace = await lesson.trace(
        { prompt: text, parts: ["mlp_pre", "mlp_post"], layers: [state.layer], positions: "all", top_k: TOP_K },
        { key: KEY },
      );
    } catch (err) {
      if (!err.superseded) lesson.status(root, "error", err.message);
      return;
    }
    state.trace = trace;
    root.lastTrace = trace;
    draw();
    const forward = trace.elapsedMs?.forward;
    lesson.status(root, "idle", forward !== undefined ? `One forward pass: ${forward.toFixed(1)} ms on the server.` : "");
    lesson.drawn(root);
  }

  async function fetchExamples(layer, neuron) {
    let trace;
    try {
      trace = await lesson.trace(
        { prompt: prompt.value, parts: ["neuron_examples"], layers: [layer], neuron: { layer, index: neuron }, top_k: 1 },
        { key: EXAMPLES_KEY },
      );
    } catch (err) {
      if (!err.superseded) lesson.status(root, "error", err.message);
      return;
    }
    const raw = trace.raw;
    state.examples.set(`${layer}:${neuron}`, {
      part: raw.neuron_examples,
      note: raw.neuron_examples ? null : raw.neuron_note,
      tokenTexts: raw.token_texts,
    });
    if (state.layer === layer && state.neuron === neuron) {
      drawExamples();
      lesson.drawn(root);
    }
  }

  function pickPosition(p) {
    if (!state.trace) return;
    state.position = p;
    draw();
    lesson.drawn(root);
  }

  function pickNeuron(j) {
    state.neuron = j;
    state.pinned = true;
    renderTopNeurons(topList, topNeurons(state.trace, position()), j);
    drawNeuron();
    lesson.drawn(root);
  }

  const redraw = debounce(() => {
    state.position = null;
    run();
  }, 150);
  prompt.addEventListener("input", redraw);
  layerSelect.addEventListener("change", () => {
    state.layer = Number(layerSelect.value);
    state.pinned = false;
    run();
  });
  topList.addEventListener("click", (event) => {
    const button = event.target.closest("button.nm-neuron");
    if (button) pickNeuron(Number(button.dataset.neuron));
  });
  topList.addEventListener("keydown", (event) => {
    const button = event.target.closest("button.nm-neuron");
    if (!button) return;
    const buttons = [...topList.querySelectorAll("button.nm-neuron")];
    let i = buttons.indexOf(button);
    if (event.key === "ArrowDown" || event.key === "ArrowRight") i += 1;
    else if (event.key === "ArrowUp" || event.key === "ArrowLeft") i -= 1;
    else if (event.key === "Home") i = 0;
    else if (event.key === "End") i = buttons.length - 1;
    else return;
    event.preventDefault();
    i = Math.max(0, Math.min(buttons.length - 1, i));
    for (const b of buttons) b.tabIndex = -1;
    buttons[i].tabIndex = 0;
    buttons[i].focus();
  });

  return run();
}
