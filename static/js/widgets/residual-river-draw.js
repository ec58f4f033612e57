// Drawing for lesson 9's residual river (residual-river.js): the table of every token's
// stream norm at every residual point, the bars of what each block wrote into the chosen
// token, and the layer-norm panel (a vector as a colour strip, and the numbers of each
// step). Plain HTML with the numbers as text (and in data- attributes for the tests);
// the strips are small canvases. Only what residual-river-math.js computed from a reply.

import { css, divergingRgb, inkOn, sequentialRgb } from "../colour-scales.js";
import { percent, visibleText } from "../format.js";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** `digits` decimals with a true minus sign. */
export function fixed(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? `−${text}` : text;
}

/** A small number in scientific notation when fixed digits would hide it: 1e-5 → "1×10⁻⁵". */
export function scientific(value) {
  if (value === 0) return "0";
  const exponent = Math.floor(Math.log10(Math.abs(value)));
  const mantissa = value / 10 ** exponent;
  const sup = String(exponent).replace(/[-0-9]/g, (c) => "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"["-0123456789".indexOf(c)]);
  const head = Math.abs(mantissa - 1) < 1e-9 ? "" : `${fixed(mantissa, 2)}×`;
  return `${head}10${sup}`;
}

/** Residual point names: 0 = the embeddings, i = after layer i − 1 (layers count from 0). */
export function pointName(point) {
  return point === 0 ? "embeddings" : `after layer ${point - 1}`;
}

function shortLabel(text, max = 10) {
  const chars = Array.from(visibleText(text));
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}

/**
 * The norm table: one row per token, one column per residual point, each cell ‖x‖ as a
 * number on a colour (one scale for the whole table). A row is a button-like radio: the
 * chosen token's row is marked, and clicking a row chooses that token.
 */
export function renderNormTable(table, tokens, norms, picked) {
  let max = 0;
  for (const row of norms) for (const value of row) max = Math.max(max, value);
  const head = el("thead");
  const headRow = el("tr");
  headRow.append(el("th", "rr-corner", "token"));
  norms[0].forEach((_, point) => {
    const th = el("th", "", point === 0 ? "embed" : `L${point - 1}`);
    th.title = pointName(point);
    th.scope = "col";
    headRow.append(th);
  });
  head.append(headRow);
  const body = el("tbody");
  norms.forEach((row, t) => {
    const tr = el("tr", t === picked ? "rr-picked" : "");
    tr.dataset.position = String(t);
    const th = el("th", "rr-token", shortLabel(tokens[t].text));
    th.scope = "row";
    th.title = `token ${t}: ${visibleText(tokens[t].text)}`;
    tr.append(th);
    row.forEach((value, point) => {
      const rgb = sequentialRgb(max > 0 ? value / max : 0);
      const td = el("td", "rr-cell", value >= 100 ? value.toFixed(0) : value.toFixed(1));
      td.style.background = css(rgb);
      td.style.color = inkOn(rgb);
      td.dataset.norm = String(value);
      td.title = `‖x‖ of ${visibleText(tokens[t].text)} ${pointName(point)}: ${value.toFixed(3)}`;
      tr.append(td);
    });
    body.append(tr);
  });
  table.replaceChildren(head, body);
}

/**
 * What each block wrote into the chosen token's stream: two bars per layer (attention,
 * MLP), their length ‖write‖ on one scale, and beside each its share of the final vector.
 */
export function renderWrites(list, writes) {
  const rows = [{ name: "embeddings", kind: "embed", ...writes.embedding }];
  for (const w of writes.layers) {
    rows.push({ name: `layer ${w.layer} attention`, kind: "attn", ...w.attn });
    rows.push({ name: `layer ${w.layer} MLP`, kind: "mlp", ...w.mlp });
  }
  const max = Math.max(...rows.map((r) => r.norm)) || 1;
  list.replaceChildren(
    ...rows.map((row) => {
      const li = el("li", `rr-write rr-write-${row.kind}`);
      li.dataset.norm = String(row.norm);
      li.dataset.share = String(row.share);
      const name = el("span", "rr-write-name", row.name);
      const track = el("span", "rr-write-track");
      const fill = el("span", "rr-write-fill");
      fill.style.width = `${(row.norm / max) * 100}%`;
      track.append(fill);
      const value = el("span", "rr-write-value", `‖·‖ ${fixed(row.norm, 2)}`);
      const share = el("span", "rr-write-share", percent(Math.abs(row.share)));
      if (row.share < 0) share.textContent = `−${share.textContent}`;
      share.title = "share of the final vector: (write · final) / ‖final‖²";
      li.append(name, track, value, share);
      li.title = `${row.name}: length ${fixed(row.norm, 3)}, share of the final vector ${fixed(row.share * 100, 1)}%`;
      return li;
    }),
  );
}

/** A vector as a strip of coloured cells, one per feature, on a symmetric scale. */
export function paintStrip(canvas, values, range) {
  const n = values.length;
  const width = canvas.clientWidth || 300;
  const height = canvas.clientHeight || 18;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const cell = width / n;
  for (let i = 0; i < n; i += 1) {
    ctx.fillStyle = css(divergingRgb(range > 0 ? values[i] / range : 0));
    ctx.fillRect(i * cell, 0, Math.ceil(cell), height);
  }
}

/** The largest |value|, 1 for an all-zero vector. */
export function maxAbs(values) {
  let max = 0;
  for (let i = 0; i < values.length; i += 1) max = Math.max(max, Math.abs(values[i]));
  return max || 1;
}

/** A few features of a vector side by side through every step: a small table. */
export function renderFeatureTable(table, steps, count = 6) {
  const head = el("thead");
  const hr = el("tr");
  for (const h of ["feature m", "x_m", "(x_m − μ)/σ", "γ_m", "β_m", "× γ + β", "server's out"]) {
    const th = el("th", "", h);
    th.scope = "col";
    hr.append(th);
  }
  head.append(hr);
  const body = el("tbody");
  for (let m = 0; m < Math.min(count, steps.features); m += 1) {
    const tr = el("tr");
    const cells = [String(m), fixed(steps.x[m], 4), fixed(steps.normalised[m], 3), fixed(steps.gamma[m], 3),
      fixed(steps.beta[m], 3), fixed(steps.out[m], 3), fixed(steps.served[m], 3)];
    cells.forEach((text, i) => tr.append(el(i === 0 ? "th" : "td", "", text)));
    body.append(tr);
  }
  table.replaceChildren(head, body);
}
