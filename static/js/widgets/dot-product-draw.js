// The picture at the heart of the dot-product widget: vectors a and b as two aligned colour
// strips (one cell per dimension), their element-wise products as a third strip, and under
// them the running sum of those products, whose last point is the dot product. One canvas,
// so that dimension i is at the same x everywhere; the pointer or the arrow keys pick a
// dimension and `onCursor(i)` lets the widget read its numbers out.

import { fitCanvas } from "../heatmap.js";
import { canvasFont, colourOf, el, fixed } from "./vector-kit.js";

const INK = "#1b1f24";
const MUTED = "#58616e";
const ACCENT = "#3451c6";

export class DotProductFigure {
  constructor(onCursor) {
    this.canvas = el("canvas", "dp-figure");
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute(
      "aria-label",
      "Vectors a and b as colour strips, their products, and the running sum that ends at the dot product. Left and right arrow keys choose a dimension.",
    );
    this.onCursor = onCursor;
    this.rows = null;
    this.cursor = null;
    this.layout = null;
    const point = (event) => {
      const i = this.dimensionAt(event);
      if (i !== null) this.moveTo(i);
    };
    this.canvas.addEventListener("pointermove", point);
    this.canvas.addEventListener("pointerdown", point); // a tap on a phone
    this.canvas.addEventListener("focus", () => {
      if (this.cursor === null && this.rows) this.moveTo(0);
    });
    this.canvas.addEventListener("keydown", (event) => this.onKey(event));
  }

  /** a, b: the vectors as drawn (raw or unit length); labels: names for the strips. */
  set({ a, b, labels, vectorRange, productRange }) {
    const n = a.length;
    const products = new Float64Array(n);
    const sums = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i += 1) {
      products[i] = a[i] * b[i];
      sum += products[i];
      sums[i] = sum;
    }
    this.rows = { a, b, products, sums, labels, vectorRange, productRange };
    if (this.cursor !== null && this.cursor >= n) this.cursor = null;
    this.canvas.dataset.cells = String(n);
    this.draw();
    return { products, sums };
  }

  dimensionAt(event) {
    if (!this.layout || !this.rows) return null;
    const box = this.canvas.getBoundingClientRect();
    const i = Math.floor((event.clientX - box.left - this.layout.left) / this.layout.cell);
    return i >= 0 && i < this.rows.a.length ? i : null;
  }

  moveTo(i) {
    this.cursor = i;
    this.draw();
    this.onCursor(i);
  }

  onKey(event) {
    if (!this.rows) return;
    const n = this.rows.a.length;
    let i = this.cursor ?? 0;
    const step = event.shiftKey ? 10 : 1;
    if (event.key === "ArrowLeft") i -= step;
    else if (event.key === "ArrowRight") i += step;
    else if (event.key === "PageUp") i -= 10;
    else if (event.key === "PageDown") i += 10;
    else if (event.key === "Home") i = 0;
    else if (event.key === "End") i = n - 1;
    else return;
    event.preventDefault();
    this.moveTo(Math.max(0, Math.min(n - 1, i)));
  }

  draw() {
    if (!this.rows) return;
    const font = canvasFont(this.canvas);
    const width = this.canvas.clientWidth || 600;
    const { a, b, products, sums, labels, vectorRange, productRange } = this.rows;
    const n = a.length;
    const stripH = Math.round(font * 2);
    const gap = Math.round(font * 0.5);
    const chartH = Math.round(font * 11);
    const probe = this.canvas.getContext("2d");
    probe.font = `${font}px ui-monospace, "DejaVu Sans Mono", monospace`;
    const left = Math.ceil(Math.max(...labels.map((t) => probe.measureText(t).width))) + 10;
    const right = Math.round(font * 5.5); // room for the dot product's label at the end
    const plot = Math.max(20, width - left - right);
    const cell = plot / n;
    const top = 3; // room for the outlines above the first strip
    const chartTop = top + 3 * (stripH + gap) + gap;
    const height = chartTop + chartH + font * 2 + 6;
    this.layout = { left, cell };
    this.canvas.style.height = `${height}px`;
    const ctx = fitCanvas(this.canvas, width, height);
    ctx.clearRect(0, 0, width, height);
    ctx.font = probe.font;

    // the three strips
    const strips = [
      [a, vectorRange],
      [b, vectorRange],
      [products, productRange],
    ];
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    strips.forEach(([vector, range], row) => {
      const y = top + row * (stripH + gap);
      for (let i = 0; i < n; i += 1) {
        const [r, g, bl] = colourOf(vector[i], range);
        ctx.fillStyle = `rgb(${r} ${g} ${bl})`;
        ctx.fillRect(left + Math.floor(i * cell), y, Math.ceil(cell) + 1, stripH);
      }
      ctx.strokeStyle = "#adb5bd";
      ctx.lineWidth = 1;
      ctx.strokeRect(left - 0.5, y - 0.5, plot + 1, stripH + 1);
      ctx.fillStyle = INK;
      ctx.fillText(labels[row], left - 6, y + stripH / 2);
    });

    // the running sum: Σ of the first i + 1 products, on its own vertical scale
    let low = 0;
    let high = 0;
    for (const s of sums) {
      low = Math.min(low, s);
      high = Math.max(high, s);
    }
    if (high - low < 1e-9) high = low + 1;
    const pad = (high - low) * 0.08;
    low -= pad;
    high += pad;
    const yOf = (v) => chartTop + chartH - ((v - low) / (high - low)) * chartH;
    ctx.fillStyle = "#f8f9fb";
    ctx.fillRect(left, chartTop, plot, chartH);
    ctx.strokeStyle = "#adb5bd";
    ctx.strokeRect(left - 0.5, chartTop - 0.5, plot + 1, chartH + 1);
    ctx.strokeStyle = MUTED;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(left, yOf(0));
    ctx.lineTo(left + plot, yOf(0));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = MUTED;
    ctx.fillText("0", left - 6, yOf(0));
    ctx.fillText("running", left - 6, chartTop + font * 0.8);
    ctx.fillText("sum", left - 6, chartTop + font * 2);
    ctx.strokeStyle = ACCENT;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(left, yOf(0));
    for (let i = 0; i < n; i += 1) ctx.lineTo(left + (i + 1) * cell, yOf(sums[i]));
    ctx.stroke();
    const total = sums[n - 1];
    ctx.fillStyle = ACCENT;
    ctx.beginPath();
    ctx.arc(left + plot, yOf(total), 4, 0, 2 * Math.PI);
    ctx.fill();
    ctx.textAlign = "left";
    ctx.font = `bold ${font}px system-ui, sans-serif`;
    ctx.fillText(`= ${fixed(total)}`, left + plot + 7, yOf(total));

    // dimension numbers along the bottom
    ctx.font = `${font}px system-ui, sans-serif`;
    ctx.fillStyle = MUTED;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const every = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500].find((s) => s * cell >= font * 2.6) || 500;
    for (let i = 0; i < n; i += every) ctx.fillText(String(i), left + (i + 0.5) * cell, chartTop + chartH + 4);
    ctx.textAlign = "right";
    ctx.fillText("dimension →", left + plot, chartTop + chartH + 4 + font + 2);

    if (this.cursor !== null) {
      const x = left + this.cursor * cell;
      ctx.fillStyle = "rgb(17 17 17 / 0.12)";
      ctx.fillRect(x, top, Math.max(cell, 1.5), chartTop + chartH - top);
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.5;
      for (let row = 0; row < 3; row += 1) {
        ctx.strokeRect(x - 1, top + row * (stripH + gap) - 1, Math.max(cell, 2) + 2, stripH + 2);
      }
      ctx.fillStyle = "#111";
      ctx.beginPath();
      ctx.arc(left + (this.cursor + 1) * cell, yOf(sums[this.cursor]), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}
