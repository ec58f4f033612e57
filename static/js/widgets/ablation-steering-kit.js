// Small shared pieces of lesson 14's widget (ablation-steering): the log-probability of one
// token from the reply's float32 logits (done here in float64), the before/after lists of
// top next tokens an experiment reply carries, a colour legend for the Δ log p grid, and
// labelled controls. Class names start with `as-`; their styles are the ablation-steering
// section of widgets.css.

import { css, divergingRgb } from "../colour-scales.js";
import { el, fixed, quoted } from "./attention-head-kit.js";

export { el, fixed, quoted };

/** ln p(id) under the softmax of a logits vector (Float32Array), in float64. */
export function logProbOf(logits, id) {
  let top = -Infinity;
  for (let i = 0; i < logits.length; i += 1) if (logits[i] > top) top = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i += 1) sum += Math.exp(logits[i] - top);
  return logits[id] - top - Math.log(sum);
}

/** A probability as a percentage with sensible digits: 65.3%, 0.41%. */
export function percentText(p) {
  if (!Number.isFinite(p)) return "–";
  const value = p * 100;
  return `${value >= 10 ? value.toFixed(1) : value >= 0.1 ? value.toFixed(2) : value.toFixed(3)}%`;
}

/** "L2 H3": a head's short name. */
export function headName(layer, head) {
  return `L${layer} H${head}`;
}

/**
 * Two columns of top next tokens, the plain model's and the changed model's, each a list of
 * bars on one shared scale, from an experiment reply's `before` and `after`. The target's
 * row is marked in both.
 */
export function compareColumns(experiment, targetId, titles) {
  const box = el("div", "as-compare");
  const max = Math.max(...[...experiment.before, ...experiment.after].map((c) => c.prob), 1e-9);
  for (const side of ["before", "after"]) {
    const column = el("div", `as-side as-${side}`);
    column.append(el("h5", "as-side-title", titles[side]));
    const list = el("ol", "as-bars");
    list.dataset.role = side;
    list.setAttribute("aria-label", `${titles[side]}: the most likely next tokens`);
    for (const candidate of experiment[side]) {
      const item = el("li", candidate.id === targetId ? "as-bar as-target" : "as-bar");
      item.dataset.id = String(candidate.id);
      item.dataset.prob = String(candidate.prob);
      const bar = el("span", "as-bar-fill");
      bar.style.width = `${Math.max(1, (100 * candidate.prob) / max)}%`;
      item.append(el("span", "as-bar-token", quoted(candidate.text)), bar, el("span", "as-bar-value", percentText(candidate.prob)));
      list.append(item);
    }
    column.append(list);
    box.append(column);
  }
  return box;
}

/** The Δ log p legend: blue (the head helped the target) … white … orange (it worked against). */
export function deltaLegend(range) {
  const box = el("div", "as-legend");
  const stops = Array.from({ length: 11 }, (_, i) => css(divergingRgb(i / 5 - 1)));
  const bar = el("span", "as-legend-bar");
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const ticks = el("span", "as-legend-ticks");
  ticks.append(el("span", "", fixed(-range, 3)), el("span", "", "0"), el("span", "", `+${fixed(range, 3)}`));
  const scale = el("span", "as-legend-scale");
  scale.append(bar, ticks);
  box.append(
    scale,
    el("span", "as-legend-caption", "Δ ln p of the target when that head is zeroed: blue, the head was helping it; orange, it was working against it"),
  );
  return box;
}

/** A labelled control: <label><span>text</span>control</label>. */
export function labelled(text, control, className = "") {
  const label = el("label", className);
  label.append(el("span", "", text), control);
  return label;
}

/** A text box with a starting value. */
export function textBox(value, { role = "", maxLength = 200 } = {}) {
  const input = el("input");
  input.type = "text";
  input.value = value;
  input.spellcheck = false;
  input.autocomplete = "off";
  input.maxLength = maxLength;
  if (role) input.dataset.role = role;
  return input;
}

export function button(text, className = "button small", role = "") {
  const b = el("button", className, text);
  b.type = "button";
  if (role) b.dataset.role = role;
  return b;
}
