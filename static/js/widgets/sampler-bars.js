// Drawing for lesson 11's sampler (sampler.js): one distribution as sorted bars, each token
// with its raw probability (the model's own, temperature 1) and its final one (what the
// sampler draws from), the cut-off lines of top-k and top-p drawn between the bars where
// they fall, "the rest" as one more row, and a summary of the kept count and both
// entropies. Plain HTML, so every number is text; the numbers come from sampler-math.js.

import { css, divergingRgb } from "../colour-scales.js";
import { count, percent, visibleText } from "../format.js";

// the two ends of the colour-blind-safe diverging scale: orange = raw, blue = final
export const RAW_COLOUR = css(divergingRgb(0.7));
export const FINAL_COLOUR = css(divergingRgb(-0.85));

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** “text” with its whitespace visible. */
export function quoted(text) {
  return `“${visibleText(text)}”`;
}

/** A small coloured square for legends. */
export function swatch(colour) {
  const s = el("span", "sp-swatch");
  s.style.background = colour;
  return s;
}

/** The cut-off lines of a view, as {at (rank above which it is drawn), kind, text}. */
function cutLines(view) {
  const lines = [];
  const s = view.settings || {};
  if (view.greedy) lines.push({ at: 1, kind: "greedy", text: "temperature 0 (greedy): only the most likely token is kept" });
  if (view.kCut !== null) {
    const also = view.pCut === null && s.topP < 1 ? `; top-p = ${s.topP.toFixed(2)} drops nothing more` : "";
    lines.push({ at: view.kCut, kind: "k", text: `top-k = ${count(s.topK)}: the ${count(view.kCut)} most likely tokens stay${also}` });
  }
  if (view.pCut !== null) {
    lines.push({ at: view.pCut, kind: "p", text: `top-p = ${s.topP.toFixed(2)}: these ${count(view.pCut)} reach ${Math.round(s.topP * 100)}% of the mass` });
  }
  if (view.keptCut != null) lines.push({ at: view.keptCut, kind: "kept", text: `the sampler kept these ${count(view.keptCut)}` });
  return lines;
}

// one scale for every row, "the rest" included: a bar longer than the chart is cut off
// (and fades out), its number beside it
function barTrack(value, max, colour, kind) {
  const track = el("span", `sp-track sp-track-${kind}`);
  if (value > max) track.classList.add("is-clipped");
  const fill = el("span", "sp-fill");
  fill.style.width = `${max > 0 ? Math.min(100, (value / max) * 100) : 0}%`;
  fill.style.background = colour;
  track.append(fill);
  return track;
}

function cutRow(line) {
  const row = el("li", `sp-cut sp-cut-${line.kind}`);
  row.dataset.cut = line.kind;
  row.dataset.at = String(line.at);
  row.append(el("span", "sp-cut-text", `✂ ${line.text}`));
  return row;
}

/**
 * Draw `view` into the list: one row per shown token (data-token-id, data-raw, data-final),
 * the cut lines between them, then "the rest". `tokenText(id)` names a token; a row whose
 * id is `view.chosen` is marked as the one drawn. Cut-offs below the shown rows are said in
 * the rest row.
 */
export function renderDistribution(list, view, tokenText) {
  list.replaceChildren();
  const max = Math.max(...view.rows.map((r) => Math.max(r.raw, r.final)), 1e-12);
  const lines = cutLines(view);
  view.rows.forEach((row) => {
    for (const line of lines) if (line.at === row.rank) list.append(cutRow(line));
    const item = el("li", "sp-row");
    if (row.final === 0) item.classList.add("is-dropped");
    if (view.chosen === row.id) item.classList.add("is-chosen");
    item.dataset.tokenId = String(row.id);
    item.dataset.rank = String(row.rank);
    item.dataset.raw = String(row.raw);
    item.dataset.final = String(row.final);
    const text = row.text ?? tokenText(row.id);
    const label = el("code", "sp-label", visibleText(text));
    const bars = el("span", "sp-bars");
    bars.append(barTrack(row.raw, max, RAW_COLOUR, "raw"), barTrack(row.final, max, FINAL_COLOUR, "final"));
    const values = el("span", "sp-values");
    values.append(el("span", "sp-value-raw", percent(row.raw)), " → ", el("span", "sp-value-final", percent(row.final)));
    item.append(el("span", "sp-rank", String(row.rank + 1)), label, bars, values);
    const chosen = view.chosen === row.id ? " (drawn)" : "";
    item.title = `${row.rank + 1}. ${quoted(text)}, id ${row.id}: raw ${percent(row.raw)}, final ${percent(row.final)}${chosen}`;
    item.setAttribute("aria-label", item.title);
    list.append(item);
  });
  const shown = view.rows.length;
  const below = lines.filter((l) => l.at >= shown);
  const rest = el("li", "sp-row sp-rest");
  rest.dataset.raw = String(view.rest.raw);
  rest.dataset.final = String(view.rest.final);
  const restName = view.rest.count === null ? "all other tokens" : `the other ${count(view.rest.count)}`;
  const label = el("span", "sp-rest-label", restName);
  const bars = el("span", "sp-bars");
  bars.append(barTrack(view.rest.raw, max, RAW_COLOUR, "raw"), barTrack(view.rest.final, max, FINAL_COLOUR, "final"));
  const values = el("span", "sp-values");
  values.append(el("span", "sp-value-raw", percent(view.rest.raw)), " → ", el("span", "sp-value-final", percent(view.rest.final)));
  const clipped = view.rest.raw > max || view.rest.final > max ? " (a bar longer than the chart is cut off)" : "";
  rest.title = `${restName}: raw ${percent(view.rest.raw)}, final ${percent(view.rest.final)}${clipped}`;
  rest.append(label, bars, values);
  list.append(rest);
  for (const line of below) {
    const note = cutRow(line);
    note.classList.add("is-below");
    note.querySelector(".sp-cut-text").textContent = `✂ below these bars, after rank ${count(line.at)}: ${line.text}`;
    list.append(note);
  }
}

/** The summary line: kept count and the entropies (data attributes hold the numbers). */
export function renderSummary(node, view) {
  node.replaceChildren();
  node.dataset.kept = String(view.kept);
  node.dataset.rawEntropy = String(view.rawEntropy);
  node.dataset.finalEntropy = String(view.finalEntropy);
  const kept = el("span", "sp-kept");
  const of = view.vocab ? ` of ${count(view.vocab)}` : "";
  kept.append("kept: ", el("strong", "", count(view.kept)), ` token${view.kept === 1 ? "" : "s"}${of}`);
  const entropy = el("span", "sp-entropy");
  entropy.append(
    "entropy: raw ",
    el("strong", "sp-entropy-raw", `${view.rawEntropy.toFixed(2)} bits`),
    " → final ",
    el("strong", "sp-entropy-final", `${view.finalEntropy.toFixed(2)} bits`),
  );
  if (view.maxEntropy) entropy.append(` (at most ${Number(view.maxEntropy.toFixed(2))} bits: every token equally likely)`);
  node.append(kept, entropy);
  node.dataset.tiny = String(view.tiny || 0);
  if (view.tiny) {
    node.append(
      el(
        "span",
        "sp-tiny",
        `${count(view.tiny)} of the kept tokens have a chance below 10⁻³⁰: kept by the rules, but never drawn in practice. ` +
          "The server computes in 32-bit numbers, which round the smallest of them to 0, so its kept count can be lower.",
      ),
    );
  }
}
