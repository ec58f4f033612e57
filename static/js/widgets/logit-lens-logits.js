// The logits panel of lesson 10's widget (logit-lens.js): all vocabulary-size logits of the
// last position, as the reply carried them (float32), sorted from highest to lowest and
// drawn as a curve; the softmax of them, computed here in float64 with the largest logit
// subtracted first, drawn below on the same ranks; and the top few as bars with their
// logit and probability. The page states the sum of all the probabilities it computed.

import { percent, visibleText } from "../format.js";
import { el } from "./logit-lens-draw.js";

/** Softmax of a logit vector in float64, stably: {probs, max, min, sum, order}. */
export function softmax(logits) {
  let max = -Infinity;
  let min = Infinity;
  for (const z of logits) {
    if (z > max) max = z;
    if (z < min) min = z;
  }
  const probs = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i += 1) {
    probs[i] = Math.exp(logits[i] - max); // e^(z − max z): never overflows
    total += probs[i];
  }
  let sum = 0;
  for (let i = 0; i < probs.length; i += 1) {
    probs[i] /= total;
    sum += probs[i];
  }
  const order = Array.from(logits, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  return { probs, max, min, sum, order };
}

function plot(ctx, values, { left, top, width, height, lo, hi, colour, fill }) {
  const n = values.length;
  const x = (i) => left + (n > 1 ? (i / (n - 1)) * width : 0);
  const y = (v) => top + height - ((v - lo) / (hi - lo || 1)) * height;
  ctx.beginPath();
  ctx.moveTo(x(0), y(values[0]));
  // one point per pixel column is all a screen can show of a long vocabulary
  const step = Math.max(1, Math.floor(n / Math.max(1, width)));
  for (let i = step; i < n; i += step) ctx.lineTo(x(i), y(values[i]));
  ctx.lineTo(x(n - 1), y(values[n - 1]));
  if (fill) {
    ctx.lineTo(x(n - 1), y(lo));
    ctx.lineTo(x(0), y(lo));
    ctx.closePath();
    ctx.fillStyle = fill;
    ctx.fill();
  }
  ctx.strokeStyle = colour;
  ctx.lineWidth = 1.5;
  ctx.stroke();
}

/** Sorted logits above, their softmax below, x = rank from 0 to V − 1. */
export function paintSorted(canvas, logits, result, { ink = "#1b1f24", accent = "#3451c6", soft = "#d6604d" } = {}) {
  const width = canvas.clientWidth || 320;
  const height = canvas.clientHeight || 220;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const font = 12;
  ctx.font = `${font}px system-ui, sans-serif`;
  const left = 44;
  const plotWidth = width - left - 10;
  const half = (height - 3 * font - 16) / 2;
  const sortedLogits = result.order.map((i) => logits[i]);
  const sortedProbs = result.order.map((i) => result.probs[i]);
  ctx.fillStyle = ink;
  ctx.fillText("logit z (sorted)", left, font);
  plot(ctx, sortedLogits, { left, top: font + 4, width: plotWidth, height: half, lo: result.min, hi: result.max, colour: accent });
  ctx.fillText(result.max.toFixed(1), 2, font + 12);
  ctx.fillText(result.min.toFixed(1), 2, font + 4 + half);
  const top2 = font * 2 + 12 + half;
  ctx.fillStyle = ink;
  ctx.fillText("softmax p (same order)", left, top2 - 4);
  plot(ctx, sortedProbs, { left, top: top2, width: plotWidth, height: half, lo: 0, hi: sortedProbs[0], colour: soft, fill: "rgb(214 96 77 / 0.25)" });
  ctx.fillStyle = ink;
  ctx.fillText(sortedProbs[0].toFixed(2), 2, top2 + 8);
  ctx.fillText("0", 2, top2 + half);
  ctx.fillText("rank 0", left, height - 2);
  const endLabel = `rank ${logits.length - 1}`;
  ctx.fillText(endLabel, left + plotWidth - ctx.measureText(endLabel).width, height - 2);
}

/** The top `k` tokens of the last position: logit and probability, bar = probability. */
export function renderTopLogits(list, logits, result, textOf, k = 10) {
  const top = result.order.slice(0, k);
  const max = result.probs[top[0]] || 1;
  list.replaceChildren(
    ...top.map((id) => {
      const li = el("li", "ll-logit");
      li.dataset.tokenId = String(id);
      li.dataset.prob = String(result.probs[id]);
      li.dataset.logit = String(logits[id]);
      const track = el("span", "ll-logit-track");
      const fill = el("span", "ll-logit-fill");
      fill.style.width = `${(result.probs[id] / max) * 100}%`;
      track.append(fill);
      li.append(
        el("code", "ll-logit-text", visibleText(textOf(id))),
        el("span", "ll-logit-z", `z = ${logits[id].toFixed(2)}`),
        track,
        el("span", "ll-logit-p", percent(result.probs[id])),
      );
      return li;
    }),
  );
}
