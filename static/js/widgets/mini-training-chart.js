// The loss curve of lesson 13's mini training run (mini-training.js), as an SVG drawn again
// after each batch of progress messages: the training loss at every step, the loss on the
// held-back end of the text at each sample, and a dashed line at ln V, the loss of a model
// that guesses every character equally. Every point is a number from the server's replies.
// training-curves.js draws the bundled model's own run from its card with it too (the unit
// is then the token, and `references` adds the bigram model's loss as a second line).

import { css, divergingRgb } from "../colour-scales.js";

const NS = "http://www.w3.org/2000/svg";
const WIDE = 640; // drawing units across on a wide screen
const NARROW = 320; // the fewest: a phone draws at about one unit per pixel, so text stays legible
const HEIGHT = 260;
const PAD = { left: 46, right: 14, top: 14, bottom: 34 };
// the two ends of the colour-blind-safe diverging scale
export const TRAIN_COLOUR = css(divergingRgb(-0.9));
export const VAL_COLOUR = css(divergingRgb(0.9));

function node(tag, attributes = {}, text) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Round tick values between 0 and `top`, about `n` of them. */
function ticks(top, n) {
  const raw = top / n;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const values = [];
  for (let v = 0; v <= top + 1e-9; v += step) values.push(Number(v.toFixed(6)));
  return values;
}

export class LossChart {
  constructor({ unit = "character" } = {}) {
    this.unit = unit;
    this.svg = node("svg", {
      class: "mt-chart",
      viewBox: `0 0 ${WIDE} ${HEIGHT}`,
      role: "img",
      "aria-label": "Loss curve: no training yet",
    });
  }

  /**
   * Draw the run so far. `run` = {started, progress: [...]} as the widget keeps it;
   * without `started` (before the first run) only empty axes are drawn.
   */
  draw(run) {
    const svg = this.svg;
    svg.replaceChildren();
    // as many units across as the chart has pixels (within bounds), so that labels keep
    // their size from a projector to a phone
    const width = Math.round(Math.min(WIDE, Math.max(NARROW, svg.clientWidth || WIDE)));
    svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const started = run?.started;
    const progress = run?.progress || [];
    const steps = started ? started.steps : 100;
    const losses = progress.map((p) => p.loss);
    const top = Math.max(started ? started.uniform_loss : 1, ...losses) * 1.08;
    const x = (step) => PAD.left + ((width - PAD.left - PAD.right) * step) / steps;
    const y = (loss) => HEIGHT - PAD.bottom - ((HEIGHT - PAD.top - PAD.bottom) * loss) / top;

    const axes = node("g", { class: "mt-axes" });
    for (const value of ticks(top, 5)) {
      axes.append(node("line", { x1: PAD.left, x2: width - PAD.right, y1: y(value), y2: y(value), class: "mt-grid" }));
      axes.append(node("text", { x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end" }, String(value)));
    }
    for (const value of ticks(steps, width < 480 ? 4 : 5)) {
      axes.append(node("text", { x: x(value), y: HEIGHT - PAD.bottom + 16, "text-anchor": "middle" }, String(value)));
    }
    axes.append(node("text", { x: (PAD.left + width - PAD.right) / 2, y: HEIGHT - 4, "text-anchor": "middle" }, "step"));
    axes.append(node("text", { x: 12, y: PAD.top + 4, "text-anchor": "start", class: "mt-unit" }, `loss (nats per ${this.unit})`));
    svg.append(axes);
    if (!started) return;

    const guess = y(started.uniform_loss);
    svg.append(node("line", { x1: PAD.left, x2: width - PAD.right, y1: guess, y2: guess, class: "mt-uniform" }));
    svg.append(
      node("text", { x: width - PAD.right - 4, y: guess + 15, "text-anchor": "end", class: "mt-uniform-label" },
        `guessing evenly: ln ${started.vocab_size} = ${started.uniform_loss.toFixed(2)}`),
    );
    for (const reference of started.references || []) {
      const at = y(reference.loss);
      svg.append(node("line", { x1: PAD.left, x2: width - PAD.right, y1: at, y2: at, class: "mt-uniform mt-reference" }));
      svg.append(node("text", { x: width - PAD.right - 4, y: at - 5, "text-anchor": "end", class: "mt-uniform-label" },
        `${reference.label} = ${reference.loss.toFixed(2)}`));
    }
    if (progress.length) {
      const points = progress.map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(" ");
      svg.append(node("polyline", { points, class: "mt-train", stroke: TRAIN_COLOUR }));
    }
    const held = progress.filter((p) => p.val_loss !== null && p.val_loss !== undefined);
    if (held.length) {
      const points = held.map((p) => `${x(p.step).toFixed(1)},${y(p.val_loss).toFixed(1)}`).join(" ");
      svg.append(node("polyline", { points, class: "mt-val", stroke: VAL_COLOUR }));
      for (const p of held) {
        svg.append(node("circle", { cx: x(p.step), cy: y(p.val_loss), r: 3, fill: VAL_COLOUR, class: "mt-val-point" }));
      }
    }
    const last = progress[progress.length - 1];
    svg.setAttribute(
      "aria-label",
      last
        ? `Loss curve: ${last.step} steps, training loss from ${losses[0].toFixed(2)} to ${last.loss.toFixed(2)} nats per ${this.unit}`
        : "Loss curve: waiting for the first step",
    );
  }
}
