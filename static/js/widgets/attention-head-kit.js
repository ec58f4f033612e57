// Small shared pieces of the two attention widgets (lesson 6's attention-head and lesson 7's
// head-grid): number formatting, the arithmetic they do in the page on the reply's numbers
// (dot products, softmax, row sums, norms, in float64), a legend for each colour scale, a
// keyboard-friendly row of token chips, and the prompt box. No drawing on canvas here: that
// is attention-head-views.js (the maps) and attention-head-lines.js (the line view). Class
// names start with `ah-`; their styles sit in the attention-head section of widgets.css.

import { css, divergingRgb, sequentialRgb } from "../colour-scales.js";
import { visibleText } from "../format.js";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- numbers ------------------------------------------------------------------------------------

/** `digits` decimals (float16 carries about 3 significant digits), a true minus sign. */
export function fixed(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value === -Infinity) return "−∞";
  if (value === Infinity) return "+∞";
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? `−${text}` : text;
}

/** "1 token", "8 tokens". */
export function tokensWord(n) {
  return `${n} ${n === 1 ? "token" : "tokens"}`;
}

/** A reply's size in words: 45 kB, 1.2 MB. */
export function sizeWords(bytes) {
  if (!Number.isFinite(bytes)) return "?";
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

export function dot(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += a[i] * b[i];
  return sum;
}

export function norm(a) {
  return Math.sqrt(dot(a, a));
}

/** The largest |value| in an array (1 when it is all zero, so it can divide). */
export function maxAbs(values) {
  let max = 0;
  for (let i = 0; i < values.length; i += 1) {
    const a = Math.abs(values[i]);
    if (Number.isFinite(a) && a > max) max = a;
  }
  return max || 1;
}

/**
 * The first n × n block of a (rows, cols) row-major map as a new Float64Array: the widgets
 * draw at most their token limit, and the mask makes those rows exact whatever follows.
 */
export function block(data, cols, n) {
  const out = new Float64Array(n * n);
  for (let r = 0; r < n; r += 1) for (let c = 0; c < n; c += 1) out[r * n + c] = data[r * cols + c];
  return out;
}

/** Rows r (n of them) of a (·, width) row-major array, as views. */
export function rows(data, width, n) {
  return Array.from({ length: n }, (_, r) => data.subarray(r * width, (r + 1) * width));
}

/** Row sums of an n × n map. */
export function rowSums(map, n) {
  return Array.from({ length: n }, (_, r) => {
    let sum = 0;
    for (let c = 0; c < n; c += 1) sum += map[r * n + c];
    return sum;
  });
}

/** The causal softmax of each row of an n × n score map, done here: keys after the query get 0. */
export function causalSoftmax(scores, n) {
  const out = new Float64Array(n * n);
  for (let r = 0; r < n; r += 1) {
    let top = -Infinity;
    for (let c = 0; c <= r; c += 1) top = Math.max(top, scores[r * n + c]);
    let sum = 0;
    for (let c = 0; c <= r; c += 1) {
      out[r * n + c] = Math.exp(scores[r * n + c] - top);
      sum += out[r * n + c];
    }
    for (let c = 0; c <= r; c += 1) out[r * n + c] /= sum;
  }
  return out;
}

export function largestDifference(a, b) {
  let max = 0;
  for (let i = 0; i < a.length; i += 1) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/**
 * The three pattern scores of one n × n attention map: previous-token (mean of w[i][i−1]
 * over i ≥ 1), first-token (mean of w[i][0] over i ≥ 1) and self (mean of w[i][i] over all
 * i). With one token there is no "previous": those two are null.
 */
export function patternScores(map, n) {
  let previous = 0;
  let first = 0;
  let self = 0;
  for (let i = 0; i < n; i += 1) {
    self += map[i * n + i];
    if (i >= 1) {
      previous += map[i * n + i - 1];
      first += map[i * n];
    }
  }
  return {
    previous: n > 1 ? previous / (n - 1) : null,
    first: n > 1 ? first / (n - 1) : null,
    self: n > 0 ? self / n : null,
  };
}

// -- text -------------------------------------------------------------------------------------------

/** A token's text with spaces and newlines made visible, shortened to `max` characters. */
export function tokenLabel(text, max = 8) {
  const chars = Array.from(visibleText(text));
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}

/** A token in quotes, whitespace visible: “·cat”. */
export function quoted(text, max = 12) {
  return `“${tokenLabel(text, max)}”`;
}

// -- page helpers -----------------------------------------------------------------------------------

let fontCache = { key: null, size: 12 };

/** Type size for canvases: 12 px, scaled with the page's root size (presentation mode).
 *  Asked once per class of the page's root, since asking forces the page to restyle. */
export function canvasFont() {
  const key = document.documentElement.className;
  if (fontCache.key !== key) {
    const root = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    fontCache = { key, size: Math.round((12 * root) / 16) };
  }
  return fontCache.size;
}

/** Run `redraw` when `element` changes width or the page enters or leaves presentation mode. */
export function onResize(element, redraw) {
  let width = element.clientWidth;
  let pending = false;
  const soon = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      redraw();
    });
  };
  if (window.ResizeObserver) {
    new ResizeObserver(() => {
      if (element.clientWidth !== width) {
        width = element.clientWidth;
        soon();
      }
    }).observe(element);
  }
  new MutationObserver(soon).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
}

/** The server's sentence for a failed request, unless a newer request replaced it. */
export function showFailure(lesson, root, err) {
  if (err && err.superseded) return;
  lesson.status(root, "error", err && err.message ? err.message : String(err));
}

/** A labelled one-line text box for the widget's main prompt. */
export function promptBox(labelText, value, { className = "", maxLength = 0 } = {}) {
  const label = el("label", className);
  label.append(el("span", "", labelText));
  const input = el("input");
  input.type = "text";
  input.value = value;
  input.spellcheck = false;
  input.autocomplete = "off";
  input.dataset.role = "prompt";
  if (maxLength > 0) input.maxLength = maxLength;
  label.append(input);
  return { label, input };
}

/** A labelled <select> of 0 … count − 1, shown as `${prefix} i`. */
export function numberSelect(labelText, count, prefix, className = "") {
  const label = el("label", className);
  label.append(el("span", "", labelText));
  const select = el("select");
  for (let i = 0; i < count; i += 1) {
    const option = el("option", "", `${prefix} ${i}`);
    option.value = String(i);
    select.append(option);
  }
  label.append(select);
  return { label, select };
}

// -- legends ------------------------------------------------------------------------------------------

/**
 * A colour legend as HTML: kind "diverging" (−range … 0 … +range, blue to orange) or
 * "weights" (0 … 1, pale to dark), with a caption saying what the colours are.
 */
export function legend(kind, range, caption) {
  const box = el("div", "ah-legend");
  const stops = Array.from({ length: 11 }, (_, i) =>
    css(kind === "diverging" ? divergingRgb(i / 5 - 1) : sequentialRgb(i / 10)),
  );
  const bar = el("span", "ah-legend-bar");
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const ticks = el("span", "ah-legend-ticks");
  if (kind === "diverging") ticks.append(el("span", "", fixed(-range, 2)), el("span", "", "0"), el("span", "", `+${fixed(range, 2)}`));
  else ticks.append(el("span", "", "0"), el("span", "", "0.5"), el("span", "", "1"));
  const scale = el("span", "ah-legend-scale");
  scale.append(bar, ticks);
  box.append(scale, el("span", "ah-legend-caption", caption));
  return box;
}

