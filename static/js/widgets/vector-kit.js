// Shared pieces of the three vector lessons' widgets (dot-product, embeddings, positions):
// the arithmetic they do in the page (dot products, lengths, cosines, in float64 from the
// float16 numbers the reply carried), colours and a legend on the diverging scale, and a
// keyboard-friendly token picker (the grid of numbers is in vector-grid.js).
// Class names start with `vk-`; their styles sit in the dot-product section of widgets.css.

import { css, divergingRgb } from "../colour-scales.js";
import { visibleText } from "../format.js";
import { el } from "../inside-draw.js";

export { el };

// -- numbers ------------------------------------------------------------------------------------

/** 3 decimals (float16 carries about 3 significant digits), a true minus sign, no "−0.000". */
export function fixed(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? `−${text}` : text;
}

export function dot(a, b) {
  let sum = 0; // JavaScript numbers are float64: no rounding worth mentioning here
  for (let i = 0; i < a.length; i += 1) sum += a[i] * b[i];
  return sum;
}

export function length(a) {
  return Math.sqrt(dot(a, a));
}

export function cosine(a, b) {
  const lengths = length(a) * length(b);
  return lengths > 0 ? dot(a, b) / lengths : 0;
}

/** The rows of a decoded (N, C) tensor (or of tensor[prefix]) as Float32Array views. */
export function rowsOf(tensor, ...prefix) {
  const shape = tensor.shape.slice(prefix.length);
  const [n, c] = shape;
  let start = 0;
  for (let d = 0; d < prefix.length; d += 1) start = start * tensor.shape[d] + prefix[d];
  start *= n * c;
  return Array.from({ length: n }, (_, r) => tensor.data.subarray(start + r * c, start + (r + 1) * c));
}

/** The q-quantile of |values|: a colour range that a few outliers cannot wash out. */
export function quantileAbs(values, q) {
  const sorted = Float32Array.from(values, Math.abs).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] || 1;
}

export function maxAbsOf(rows) {
  let max = 0;
  for (const row of rows) for (let i = 0; i < row.length; i += 1) max = Math.max(max, Math.abs(row[i]) || 0);
  return max || 1;
}

/** The (n × n) cosine of every pair of rows, row-major, in a Float32Array. */
export function cosineMatrix(rows) {
  const n = rows.length;
  const units = rows.map((row) => {
    const len = length(row) || 1;
    return Float64Array.from(row, (v) => v / len);
  });
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i += 1) {
    out[i * n + i] = dot(units[i], units[i]);
    for (let j = i + 1; j < n; j += 1) out[i * n + j] = out[j * n + i] = dot(units[i], units[j]);
  }
  return out;
}

/** A token's text with spaces and newlines made visible, shortened to `max` characters. */
export function tokenLabel(text, max = 10) {
  const chars = Array.from(visibleText(text));
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}

// -- page helpers -----------------------------------------------------------------------------------

/** Type size for a canvas: three quarters of the text around it, so that it grows with
 *  the page's presentation mode; never under 11 px. */
export function canvasFont(element = document.documentElement) {
  const size = parseFloat(getComputedStyle(element).fontSize) || 16;
  return Math.max(11, Math.round(size * 0.75));
}

/** Run `redraw` when `element` changes width or the page enters or leaves presentation mode. */
export function onResize(element, redraw) {
  let width = element.clientWidth;
  const check = () => {
    if (element.clientWidth !== width) {
      width = element.clientWidth;
      redraw();
    }
  };
  if (window.ResizeObserver) new ResizeObserver(check).observe(element);
  new MutationObserver(() => requestAnimationFrame(redraw)).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["class"],
  });
}

export function reducedMotion() {
  return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

/** The server's sentence for a failed request, unless a newer request replaced it. */
export function showFailure(lesson, root, err) {
  if (err && err.superseded) return;
  lesson.status(root, "error", err && err.message ? err.message : String(err));
}

/** A labelled text box for the widget's main prompt. */
export function promptBox(labelText, value, className) {
  const label = el("label", `vk-prompt ${className}`);
  label.append(el("span", "", labelText));
  const input = el("input");
  input.type = "text";
  input.value = value;
  input.spellcheck = false;
  input.autocomplete = "off";
  input.dataset.role = "prompt";
  label.append(input);
  return { label, input };
}

// -- colours ------------------------------------------------------------------------------------------

const LUT_SIZE = 256;
const LUT = Array.from({ length: LUT_SIZE }, (_, i) => divergingRgb((i / (LUT_SIZE - 1)) * 2 - 1));

/** [r, g, b] of value / range on the diverging scale. */
export function colourOf(value, range) {
  const t = Math.max(-1, Math.min(1, value / (range || 1)));
  return LUT[Math.round(((t + 1) / 2) * (LUT_SIZE - 1))];
}

/** A legend: the diverging bar from −range to +range, with what the colours mean. */
export function legend(range, caption) {
  const box = el("div", "vk-legend");
  const stops = Array.from({ length: 11 }, (_, i) => css(divergingRgb(i / 5 - 1)));
  const bar = el("span", "vk-legend-bar");
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const ticks = el("span", "vk-legend-ticks");
  ticks.append(el("span", "", fixed(-range)), el("span", "", "0"), el("span", "", `+${fixed(range)}`));
  const scale = el("span", "vk-legend-scale");
  scale.append(bar, ticks);
  box.append(scale, el("span", "vk-legend-caption", caption));
  return box;
}

