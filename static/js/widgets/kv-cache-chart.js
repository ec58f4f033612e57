// Drawing for lesson 12's KV-cache widget (kv-cache.js): the time of every generation step
// against the length of the text, with the cache and without it, as an SVG line chart; and
// the causal score matrix of attention, a T×T lower triangle on a canvas, whose last row is
// all that one cached step computes. Only numbers from the worker's reply are drawn.

import { css, divergingRgb, sequentialRgb } from "../colour-scales.js";
import { count } from "../format.js";

const NS = "http://www.w3.org/2000/svg";
// the two ends of the colour-blind-safe diverging scale; the lines also differ by dash
export const CACHED_COLOUR = css(divergingRgb(-0.9));
export const UNCACHED_COLOUR = css(divergingRgb(0.9));

function node(tag, attrs = {}, text) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** A round step for an axis that reaches `max` in about `ticks` steps: 1, 2 or 5 × 10^k. */
function niceStep(max, ticks) {
  const raw = max / Math.max(1, ticks);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || power;
}

/**
 * The step-time chart. `runs` is [{label, colour, dash, times}], `positions[i]` the text's
 * length that step i read (prompt + i). `marker`: a step index to mark, or null.
 */
export function drawTimes(svg, { positions, runs, marker = null }) {
  const width = Math.max(280, svg.clientWidth || svg.parentElement?.clientWidth || 600);
  const height = Math.round(Math.min(320, Math.max(200, width * 0.45)));
  const pad = { left: 52, right: 12, top: 12, bottom: 38 };
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("height", String(height));
  svg.replaceChildren();

  const maxMs = Math.max(...runs.flatMap((r) => r.times), 1e-3);
  const yStep = niceStep(maxMs, 4);
  const yMax = Math.ceil(maxMs / yStep) * yStep;
  const x0 = positions[0];
  const x1 = Math.max(positions[positions.length - 1], x0 + 1);
  const xs = (p) => pad.left + ((p - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const ys = (ms) => height - pad.bottom - (ms / yMax) * (height - pad.top - pad.bottom);

  const axes = node("g", { class: "kv-axes" });
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    axes.append(node("line", { x1: pad.left, x2: width - pad.right, y1: ys(v), y2: ys(v), class: "kv-grid" }));
    const label = yStep < 1 ? v.toFixed(1) : String(Math.round(v));
    axes.append(node("text", { x: pad.left - 6, y: ys(v) + 4, "text-anchor": "end" }, label));
  }
  const xStep = niceStep(x1 - x0, 6);
  for (let p = Math.ceil(x0 / xStep) * xStep; p <= x1; p += xStep) {
    axes.append(node("text", { x: xs(p), y: height - pad.bottom + 16, "text-anchor": "middle" }, count(p)));
  }
  axes.append(node("text", { x: (pad.left + width - pad.right) / 2, y: height - 4, "text-anchor": "middle" }, "tokens in the text at that step"));
  axes.append(node("text", { x: 12, y: pad.top + (height - pad.top - pad.bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${pad.top + (height - pad.top - pad.bottom) / 2})` }, "ms per token"));
  svg.append(axes);

  if (marker !== null && marker >= 0 && marker < positions.length) {
    const x = xs(positions[marker]);
    svg.append(node("line", { x1: x, x2: x, y1: pad.top, y2: height - pad.bottom, class: "kv-marker" }));
  }
  for (const run of runs) {
    const points = run.times.map((ms, i) => `${xs(positions[i]).toFixed(1)},${ys(ms).toFixed(1)}`).join(" ");
    const line = node("polyline", { points, fill: "none", stroke: run.colour, "stroke-width": 2.2, class: "kv-line" });
    if (run.dash) line.setAttribute("stroke-dasharray", run.dash);
    line.dataset.run = run.key;
    svg.append(line);
    if (marker !== null && run.times[marker] !== undefined) {
      svg.append(node("circle", { cx: xs(positions[marker]), cy: ys(run.times[marker]), r: 4, fill: run.colour }));
    }
  }
}

/**
 * The causal score matrix for `length` tokens: every cell a query (row) may score against a
 * key (column). The last row is highlighted: with the cache, a step computes only that row;
 * without it, the whole triangle again. Cells shrink with the length; past a cell of one
 * pixel the triangle is still exact, drawn as a shape.
 */
export function drawScores(canvas, length, maxLength) {
  const side = Math.max(120, Math.min(300, canvas.parentElement?.clientWidth || 300));
  const scale = window.devicePixelRatio || 1;
  canvas.width = Math.round(side * scale);
  canvas.height = Math.round(side * scale);
  canvas.style.width = `${side}px`;
  canvas.style.height = `${side}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  ctx.clearRect(0, 0, side, side);
  // the box stands for the longest length on the slider, so the triangle visibly grows
  const cell = side / Math.max(1, maxLength);
  const filled = css(sequentialRgb(0.35));
  const newest = css(sequentialRgb(0.9));
  ctx.strokeStyle = "#b9c0c9";
  ctx.strokeRect(0.5, 0.5, side - 1, side - 1);
  ctx.fillStyle = filled;
  if (cell >= 3) {
    for (let row = 0; row < length - 1; row += 1) {
      for (let col = 0; col <= row; col += 1) ctx.fillRect(col * cell, row * cell, cell - 0.6, cell - 0.6);
    }
  } else {
    ctx.beginPath();
    ctx.moveTo(0, 0);
    ctx.lineTo(cell, 0);
    ctx.lineTo(length * cell, (length - 1) * cell);
    ctx.lineTo(0, (length - 1) * cell);
    ctx.closePath();
    ctx.fill();
  }
  ctx.fillStyle = newest;
  ctx.fillRect(0, (length - 1) * cell, length * cell, Math.max(cell - 0.6, 1.5));
}
