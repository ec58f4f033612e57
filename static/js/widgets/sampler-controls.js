// The three sampler settings of lesson 11 as labelled sliders (native range inputs, so the
// arrow keys, Page Up/Down, Home and End work), each with its value shown beside it.
// Temperature runs 0 (greedy) … 3; top-k walks a list of useful values from 0 (off) to the
// whole vocabulary, so that small k are one key press apart; top-p runs 0.01 … 1 (off).

import { count } from "../format.js";
import { el } from "./sampler-bars.js";

const T_MAX = 3;
const T_STEP = 0.05;
const P_MIN = 0.01;
const P_STEP = 0.01;
const K_STEPS = [25, 30, 40, 50, 60, 80, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000];

/** The top-k values the slider walks: 0 (off), 1 … 20, then coarser steps up to `vocab`. */
export function topKValues(vocab) {
  const values = [0];
  for (let k = 1; k <= Math.min(20, vocab); k += 1) values.push(k);
  for (const k of K_STEPS) if (k < vocab && k > values[values.length - 1]) values.push(k);
  if (values[values.length - 1] !== vocab) values.push(vocab);
  return values;
}

function slider(name, { min, max, step, value }) {
  const label = el("label", `sp-slider sp-slider-${name}`);
  const head = el("span", "sp-slider-head");
  const title = el("span", "sp-slider-name");
  const output = el("output", "sp-slider-value");
  head.append(title, output);
  const input = el("input");
  input.type = "range";
  input.min = String(min);
  input.max = String(max);
  input.step = String(step);
  input.value = String(value);
  input.dataset.setting = name;
  label.append(head, input);
  return { label, title, input, output };
}

/**
 * Build the sliders. `onChange(settings)` runs on every movement; `settings()` reads
 * {temperature, topK, topP}; `setVocab(n)` re-spans top-k for the model's vocabulary.
 */
export function samplerControls({ vocab, initial, onChange }) {
  const box = el("div", "sp-sliders");
  let kValues = topKValues(vocab);
  const nearestK = (k) => kValues.reduce((best, v, i) => (Math.abs(v - k) < Math.abs(kValues[best] - k) ? i : best), 0);

  const t = slider("temperature", { min: 0, max: T_MAX, step: T_STEP, value: initial.temperature });
  t.title.textContent = "Temperature T";
  const k = slider("top-k", { min: 0, max: kValues.length - 1, step: 1, value: nearestK(initial.topK) });
  k.title.textContent = "Top-k";
  const p = slider("top-p", { min: P_MIN, max: 1, step: P_STEP, value: initial.topP });
  p.title.textContent = "Top-p";
  box.append(t.label, k.label, p.label);

  const settings = () => ({
    temperature: Math.round(Number(t.input.value) * 100) / 100,
    topK: kValues[Number(k.input.value)],
    topP: Math.round(Number(p.input.value) * 100) / 100,
  });

  function show() {
    const s = settings();
    const tText = s.temperature === 0 ? "0 (greedy)" : s.temperature.toFixed(2);
    const kText = s.topK === 0 ? "0 (off)" : count(s.topK);
    const pText = s.topP >= 1 ? "1 (off)" : s.topP.toFixed(2);
    t.output.textContent = tText;
    k.output.textContent = kText;
    p.output.textContent = pText;
    t.input.setAttribute("aria-valuetext", `temperature ${tText}`);
    k.input.setAttribute("aria-valuetext", `top-k ${kText}`);
    p.input.setAttribute("aria-valuetext", `top-p ${pText}`);
  }

  for (const input of [t.input, k.input, p.input]) {
    input.addEventListener("input", () => {
      show();
      onChange(settings());
    });
  }
  show();

  return {
    element: box,
    settings,
    setVocab(n) {
      const current = settings().topK;
      kValues = topKValues(n);
      k.input.max = String(kValues.length - 1);
      k.input.value = String(nearestK(current));
      show();
    },
  };
}
