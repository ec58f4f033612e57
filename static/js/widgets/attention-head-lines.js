// The token-to-token picture of the attention widgets, LineView: query tokens on the left,
// key tokens on the right, and a line from each query to each key it may read, as wide as
// the weight (the picture BertViz made familiar).

import { fitCanvas } from "../heatmap.js";
import { canvasFont, el, fixed } from "./attention-head-kit.js";
import { ACCENT, INK, MONO, MUTED, trackWidth } from "./attention-head-views.js";

/**
 * Query tokens on the left, key tokens on the right, and a line from query i to key j as
 * wide as the weight w_ij (j ≤ i). With a focused query only its lines are drawn, its
 * weights written next to the keys; without one, every query's lines, faintly.
 * The pointer over a query, or the up and down keys, choose the focused one (onRow).
 */
export class LineView {
  constructor({ label, onRow = null }) {
    this.onRow = onRow;
    this.canvas = el("canvas", "ah-lines");
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", `${label}. Up and down arrow keys choose the query token.`);
    this.spec = null;
    this.layout = null;
    trackWidth(this);
    this.canvas.addEventListener("pointermove", (event) => {
      const r = this.rowAt(event);
      if (r !== null && this.spec && r !== this.spec.focus) this.choose(r);
    });
    this.canvas.addEventListener("keydown", (event) => {
      if (!this.spec) return;
      let r = this.spec.focus ?? this.spec.n - 1;
      if (event.key === "ArrowUp") r -= 1;
      else if (event.key === "ArrowDown") r += 1;
      else if (event.key === "Home") r = 0;
      else if (event.key === "End") r = this.spec.n - 1;
      else return;
      event.preventDefault();
      this.choose(Math.max(0, Math.min(this.spec.n - 1, r)));
    });
  }

  /** spec: n, labels (token labels), weights (n × n row-major), focus (a query or null). */
  set(spec) {
    this.spec = { ...spec };
    this.canvas.dataset.focus = spec.focus === null || spec.focus === undefined ? "" : String(spec.focus);
    this.draw();
  }

  choose(r) {
    this.spec.focus = r;
    this.canvas.dataset.focus = String(r);
    this.draw();
    if (this.onRow) this.onRow(r);
  }

  rowAt(event) {
    if (!this.layout) return null;
    const box = this.canvas.getBoundingClientRect();
    const r = Math.floor((event.clientY - box.top - this.layout.top) / this.layout.rowH);
    return r >= 0 && r < this.spec.n ? r : null;
  }

  draw() {
    const s = this.spec;
    if (!s) return;
    const font = canvasFont();
    const width = this.width || this.canvas.clientWidth || 300;
    const ctx = this.canvas.getContext("2d");
    ctx.font = `${font}px ${MONO}`;
    const rowH = Math.max(3, Math.min(font + 8, (26 * font) / s.n));
    const shown = rowH >= font * 0.95 ? s.labels : [String(s.n - 1)]; // tokens, or positions when dense
    const labelW = Math.ceil(Math.max(ctx.measureText("query").width, ...shown.map((t) => ctx.measureText(t).width)));
    const top = font + 8;
    const height = Math.ceil(top + s.n * rowH + 6);
    const weightW = ctx.measureText("0.00").width + 8;
    const leftX = labelW + 10;
    const rightX = width - labelW - weightW - 10;
    this.layout = { top, rowH };
    this.canvas.style.height = `${height}px`;
    const g = fitCanvas(this.canvas, width, height);
    g.clearRect(0, 0, width, height);
    g.font = `${font}px ${MONO}`;
    const yOf = (i) => top + (i + 0.5) * rowH;
    const maxLine = Math.max(4, Math.min(rowH * 0.9, font * 0.9));
    const focus = s.focus;

    g.fillStyle = MUTED;
    g.textBaseline = "bottom";
    g.textAlign = "right";
    g.fillText("query", leftX - 6, top - 4);
    g.textAlign = "left";
    g.fillText("key", rightX + 6, top - 4);

    g.lineCap = "round";
    for (let i = 0; i < s.n; i += 1) {
      if (focus !== null && focus !== undefined && i !== focus) continue;
      for (let j = 0; j <= i; j += 1) {
        const w = s.weights[i * s.n + j];
        if (!(w > 0.004)) continue;
        g.strokeStyle = focus === null || focus === undefined ? `rgb(52 81 198 / ${0.12 + 0.5 * w})` : `rgb(52 81 198 / 0.85)`;
        g.lineWidth = Math.max(0.6, w * maxLine);
        g.beginPath();
        g.moveTo(leftX, yOf(i));
        g.lineTo(rightX, yOf(j));
        g.stroke();
      }
    }

    const labels = rowH >= font * 0.95;
    const step = labels ? 1 : Math.ceil((font * 1.3) / rowH);
    g.textBaseline = "middle";
    for (let i = 0; i < s.n; i += 1) {
      const focused = i === focus;
      const w = focus !== null && focus !== undefined && i <= focus ? s.weights[focus * s.n + i] : null;
      if (!labels && i % step !== 0 && !focused) continue;
      const text = labels ? s.labels[i] : String(i);
      g.textAlign = "right";
      g.fillStyle = focused ? ACCENT : INK;
      g.font = `${focused ? "bold " : ""}${font}px ${MONO}`;
      g.fillText(text, leftX - 6, yOf(i));
      g.font = `${font}px ${MONO}`;
      g.textAlign = "left";
      g.fillStyle = w === null ? "#9aa3ad" : INK;
      g.fillText(text, rightX + 6, yOf(i));
      if (w !== null && labels) {
        g.fillStyle = MUTED;
        g.fillText(fixed(w, 2), width - weightW + 2, yOf(i));
      }
    }
  }
}
