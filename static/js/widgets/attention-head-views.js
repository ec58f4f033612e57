// The main canvas picture of the attention widgets, MatrixView: a grid of numbers as
// coloured cells (q, k, v strips, score maps, attention maps), with token labels, an
// optional hatched "−∞" future triangle, row sums, and a cursor that the pointer or the
// arrow keys move, so every number can be read. (The line view is attention-head-lines.js.)

import { divergingRgb, inkOn, sequentialRgb } from "../colour-scales.js";
import { fitCanvas } from "../heatmap.js";
import { canvasFont, el, fixed } from "./attention-head-kit.js";

export const INK = "#1b1f24";
export const MUTED = "#58616e";
export const ACCENT = "#3451c6";
export const MONO = 'ui-monospace, "DejaVu Sans Mono", monospace';

let hatchTile = null;
function hatch(ctx) {
  if (!hatchTile) {
    hatchTile = document.createElement("canvas");
    hatchTile.width = hatchTile.height = 8;
    const t = hatchTile.getContext("2d");
    t.fillStyle = "#eceef1";
    t.fillRect(0, 0, 8, 8);
    t.strokeStyle = "#aab2bd";
    t.lineWidth = 1;
    t.beginPath();
    t.moveTo(0, 8);
    t.lineTo(8, 0);
    t.moveTo(-1, 1);
    t.lineTo(1, -1);
    t.moveTo(7, 9);
    t.lineTo(9, 7);
    t.stroke();
  }
  return ctx.createPattern(hatchTile, "repeat");
}

/** The line under a picture that says what the cursor is on. */
export function readoutLine(text) {
  const line = el("p", "ah-readout", text);
  line.setAttribute("aria-live", "polite");
  return line;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// the two scales as 256-step tables, so that painting thousands of cells costs no allocations
const STEPS = 255;
const DIVERGING = Array.from({ length: STEPS + 1 }, (_, i) => divergingRgb((i / STEPS) * 2 - 1));
const SEQUENTIAL = Array.from({ length: STEPS + 1 }, (_, i) => sequentialRgb(i / STEPS));

function colourOf(kind, value, range) {
  const v = Number.isFinite(value) ? value : 0;
  if (kind === "diverging") {
    const t = Math.max(-1, Math.min(1, v / (range || 1)));
    return DIVERGING[Math.round(((t + 1) / 2) * STEPS)];
  }
  return SEQUENTIAL[Math.round(Math.max(0, Math.min(1, v)) * STEPS)];
}

/** Follow a canvas's CSS width without asking the page for a layout on every drawing. */
export function trackWidth(view) {
  view.width = 0;
  if (!window.ResizeObserver) return;
  new ResizeObserver((entries) => {
    const width = entries[entries.length - 1].contentRect.width;
    if (Math.abs(width - view.width) < 0.5) return;
    const drawn = view.width > 0;
    view.width = width;
    if (drawn && view.spec) view.draw();
  }).observe(view.canvas);
}

/** The smallest step from `steps` whose labels are at least `pixels` apart. */
function labelStep(cell, pixels, steps = [1, 2, 4, 5, 8, 10, 16, 20, 32, 50, 64, 100]) {
  return steps.find((s) => s * cell >= pixels) || steps[steps.length - 1];
}

// -- matrices -------------------------------------------------------------------------------------

/**
 * rows × cols numbers as cells. kind: "diverging" (signed, ±range) or "weights" (0 … 1).
 * describe(r, c, value, masked) → the readout's sentence; onPick(r) on a click or Enter;
 * onRow(r or null) whenever the row under the pointer or the keyboard cursor changes.
 */
export class MatrixView {
  constructor({ label, kind, describe, onPick = null, onRow = null, help = "", readout = null }) {
    this.kind = kind;
    this.describe = describe;
    this.onPick = onPick;
    this.onRow = onRow;
    this.help = help || "Point at a cell, or focus the picture and use the arrow keys, to read its number.";
    this.element = el("div", "ah-matrix");
    this.canvas = el("canvas", "ah-matrix-canvas");
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute(
      "aria-label",
      `${label}. Arrow keys move a cursor over the numbers${onPick ? "; Enter makes that row's token the query" : ""}.`,
    );
    // a readout of its own, or one shared with the other pictures of a panel
    this.readout = readout || readoutLine(this.help);
    this.element.append(this.canvas);
    if (!readout) this.element.append(this.readout);
    this.spec = null;
    this.cursor = null;
    this.hoverRow = null;
    this.layout = null;
    trackWidth(this);
    this.canvas.addEventListener("pointermove", (event) => {
      const cell = this.cellAt(event);
      if (cell) this.moveTo(cell);
    });
    this.canvas.addEventListener("pointerleave", () => {
      if (document.activeElement !== this.canvas) this.moveTo(null);
    });
    this.canvas.addEventListener("click", (event) => {
      const cell = this.cellAt(event);
      if (cell && this.onPick) this.onPick(cell.r);
    });
    this.canvas.addEventListener("focus", () => {
      if (!this.cursor && this.spec) this.moveTo({ r: Math.max(0, this.spec.picked ?? 0), c: 0 });
    });
    this.canvas.addEventListener("blur", () => this.moveTo(null));
    this.canvas.addEventListener("keydown", (event) => this.onKey(event));
  }

  /**
   * spec: rows, cols, data (row-major), range (diverging), rowLabels, colLabels (tokens) or
   * colNumbers (true: label columns by index), mask ("future": hatch keys after the query),
   * maskText, sums (a number per row, printed on the right), picked (the outlined row),
   * square (square cells), rowHeight, numbers (write values in cells that have room),
   * separatorBefore (a rule above that row).
   */
  set(spec) {
    this.spec = { mask: "none", square: true, numbers: true, ...spec };
    this.image = null;
    if (this.cursor && (this.cursor.r >= spec.rows || this.cursor.c >= spec.cols)) this.cursor = null;
    this.canvas.dataset.rows = String(spec.rows);
    this.canvas.dataset.cols = String(spec.cols);
    this.draw();
    if (this.cursor) this.read(this.cursor);
  }

  masked(r, c) {
    return this.spec.mask === "future" && c > r;
  }

  value(r, c) {
    return this.spec.data[r * this.spec.cols + c];
  }

  measure(ctx, font) {
    const s = this.spec;
    const width = this.width || this.canvas.clientWidth || 300;
    ctx.font = `${font}px ${MONO}`;
    const textWidth = (labels) => Math.ceil(Math.max(0, ...labels.map((t) => ctx.measureText(t).width)));
    const right = s.sums ? textWidth(["0.000"]) + 12 : 4;
    const cells = (left) => {
      let cellW = Math.max(20, width - left - right) / s.cols;
      if (s.square) cellW = Math.min(cellW, font * 4.6); // a 3-token map need not fill a projector
      let cellH = s.square ? cellW : (s.rowHeight || font + 4) * (font / 12);
      if (!s.square && s.rowHeight && s.rows * cellH > 22 * font) cellH = Math.max(2, (22 * font) / s.rows);
      return { cellW, cellH };
    };
    // token labels on the rows when they fit, else row numbers (which need their own room)
    let left = textWidth(s.rowLabels || [String(s.rows - 1)]) + 8;
    let { cellW, cellH } = cells(left);
    if (s.rowLabels && cellH < font * 0.95) {
      left = textWidth([String(s.rows - 1)]) + 8;
      ({ cellW, cellH } = cells(left));
    }
    const tokenCols = Boolean(s.colLabels) && cellW >= font * 0.95;
    const top = s.colLabels ? (tokenCols ? textWidth(s.colLabels) + 8 : font + 6) : s.colNumbers ? font + 6 : 4;
    const height = Math.ceil(top + s.rows * cellH + 6);
    return { width, height, left, top, cellW, cellH, font, tokenCols };
  }

  draw() {
    const s = this.spec;
    if (!s) return;
    const font = canvasFont();
    const layout = this.measure(this.canvas.getContext("2d"), font);
    this.layout = layout;
    const { width, height, left, top, cellW, cellH } = layout;
    this.canvas.style.height = `${height}px`;
    const ctx = fitCanvas(this.canvas, width, height);
    ctx.clearRect(0, 0, width, height);
    const x = (c) => left + c * cellW;
    const y = (r) => top + r * cellH;

    // the cells: one pixel each in a raster, scaled up unsmoothed; the masked ones are
    // transparent there, so the hatching laid down first shows through
    if (s.mask === "future") {
      ctx.fillStyle = hatch(ctx);
      ctx.fillRect(left, top, s.cols * cellW, s.rows * cellH);
    }
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.raster(), left, top, s.cols * cellW, s.rows * cellH);
    if (cellW >= 7 && cellH >= 7) {
      ctx.strokeStyle = "rgb(255 255 255 / 0.7)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let c = 1; c < s.cols; c += 1) {
        ctx.moveTo(Math.round(x(c)) + 0.5, top);
        ctx.lineTo(Math.round(x(c)) + 0.5, y(s.rows));
      }
      for (let r = 1; r < s.rows; r += 1) {
        ctx.moveTo(left, Math.round(y(r)) + 0.5);
        ctx.lineTo(x(s.cols), Math.round(y(r)) + 0.5);
      }
      ctx.stroke();
    }
    ctx.strokeStyle = "#adb5bd";
    ctx.lineWidth = 1;
    ctx.strokeRect(left - 0.5, top - 0.5, s.cols * cellW + 1, s.rows * cellH + 1);

    this.drawCellText(ctx, layout);
    this.drawLabels(ctx, layout);

    if (s.separatorBefore) {
      ctx.strokeStyle = INK;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(left - 4, y(s.separatorBefore));
      ctx.lineTo(x(s.cols) + 2, y(s.separatorBefore));
      ctx.stroke();
    }
    if (s.picked !== null && s.picked !== undefined && s.picked < s.rows) {
      ctx.strokeStyle = ACCENT;
      ctx.lineWidth = 2.5;
      ctx.strokeRect(left - 1.5, y(s.picked) - 1.5, s.cols * cellW + 3, cellH + 3);
    }
    if (this.cursor) {
      const { r, c } = this.cursor;
      const w = Math.max(cellW, 3);
      const h = Math.max(cellH, 3);
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 3;
      ctx.strokeRect(x(c) - 1, y(r) - 1, w + 2, h + 2);
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(x(c) - 1, y(r) - 1, w + 2, h + 2);
    }
  }

  /** The cells as a cols × rows picture, one pixel per number (made once per set()). */
  raster() {
    if (this.image) return this.image;
    const s = this.spec;
    const pixels = new ImageData(s.cols, s.rows);
    for (let r = 0; r < s.rows; r += 1) {
      for (let c = 0; c < s.cols; c += 1) {
        const colour = colourOf(this.kind, this.value(r, c), s.range);
        const at = (r * s.cols + c) * 4;
        pixels.data[at] = colour[0];
        pixels.data[at + 1] = colour[1];
        pixels.data[at + 2] = colour[2];
        pixels.data[at + 3] = this.masked(r, c) ? 0 : 255;
      }
    }
    this.image = document.createElement("canvas");
    this.image.width = s.cols;
    this.image.height = s.rows;
    this.image.getContext("2d").putImageData(pixels, 0, 0);
    return this.image;
  }

  drawCellText(ctx, { left, top, cellW, cellH, font }) {
    const s = this.spec;
    const small = Math.max(9, Math.round(font * 0.85));
    const numbers = s.numbers && cellW >= small * 3.3 && cellH >= small + 4;
    const maskText = s.maskText && cellW >= small * 2 && cellH >= small + 2;
    if (!numbers && !maskText) return;
    ctx.font = `${small}px ${MONO}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let r = 0; r < s.rows; r += 1) {
      for (let c = 0; c < s.cols; c += 1) {
        const cx = left + (c + 0.5) * cellW;
        const cy = top + (r + 0.5) * cellH;
        if (this.masked(r, c)) {
          if (!maskText) continue;
          ctx.fillStyle = "#3d4450";
          ctx.fillText(s.maskText, cx, cy);
        } else if (numbers) {
          const v = this.value(r, c);
          ctx.fillStyle = inkOn(colourOf(this.kind, v, s.range));
          ctx.fillText(fixed(v, Math.abs(v) >= 10 ? 1 : 2), cx, cy);
        }
      }
    }
  }

  drawLabels(ctx, { left, top, cellW, cellH, font, tokenCols }) {
    const s = this.spec;
    ctx.font = `${font}px ${MONO}`;
    ctx.fillStyle = INK;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    if (s.rowLabels && cellH >= font * 0.95) {
      s.rowLabels.forEach((text, r) => {
        ctx.fillStyle = r === s.picked ? ACCENT : INK;
        ctx.fillText(text, left - 6, top + (r + 0.5) * cellH);
      });
    } else {
      ctx.fillStyle = MUTED;
      const step = labelStep(cellH, font * 1.4, [1, 2, 5, 10, 20, 50, 100]);
      for (let r = 0; r < s.rows; r += step) ctx.fillText(String(r), left - 6, top + (r + 0.5) * cellH);
    }
    if (s.colLabels && tokenCols) {
      ctx.textAlign = "left";
      s.colLabels.forEach((text, c) => {
        ctx.save();
        ctx.translate(left + (c + 0.5) * cellW, top - 5);
        ctx.rotate(-Math.PI / 2);
        ctx.fillStyle = INK;
        ctx.fillText(text, 0, 0);
        ctx.restore();
      });
    } else if (s.colLabels || s.colNumbers) {
      ctx.fillStyle = MUTED;
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      const step = labelStep(cellW, font * 2.4);
      for (let c = 0; c < s.cols; c += step) ctx.fillText(String(c), left + (c + 0.5) * cellW, top - 3);
    }
    if (s.sums) {
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillStyle = MUTED;
      const sx = left + s.cols * cellW + 6;
      ctx.fillText("Σ", sx, top - font * 0.7);
      if (cellH >= font * 0.95) s.sums.forEach((sum, r) => ctx.fillText(fixed(sum, 3), sx, top + (r + 0.5) * cellH));
    }
  }

  cellAt(event) {
    const layout = this.layout;
    if (!layout || !this.spec) return null;
    const box = this.canvas.getBoundingClientRect();
    const c = Math.floor((event.clientX - box.left - layout.left) / layout.cellW);
    const r = Math.floor((event.clientY - box.top - layout.top) / layout.cellH);
    return r >= 0 && c >= 0 && r < this.spec.rows && c < this.spec.cols ? { r, c } : null;
  }

  /** Put the cursor on a cell (or take it away), say what is there, tell about a row change. */
  moveTo(cell) {
    const same = cell && this.cursor && cell.r === this.cursor.r && cell.c === this.cursor.c;
    if (same || (!cell && !this.cursor)) return;
    this.cursor = cell ? { ...cell } : null;
    this.draw();
    this.read(this.cursor);
    const row = this.cursor ? this.cursor.r : null;
    if (row !== this.hoverRow) {
      this.hoverRow = row;
      if (this.onRow) this.onRow(row);
    }
  }

  read(cell) {
    if (!cell || !this.spec) {
      setText(this.readout, this.help);
      return;
    }
    const { r, c } = cell;
    setText(this.readout, this.describe(r, c, this.value(r, c), this.masked(r, c)));
  }

  onKey(event) {
    if (!this.spec) return;
    const cell = this.cursor ? { ...this.cursor } : { r: 0, c: 0 };
    const big = event.shiftKey ? 8 : 1;
    switch (event.key) {
      case "ArrowLeft": cell.c -= big; break;
      case "ArrowRight": cell.c += big; break;
      case "ArrowUp": cell.r -= big; break;
      case "ArrowDown": cell.r += big; break;
      case "Home": cell.c = 0; break;
      case "End": cell.c = this.spec.cols - 1; break;
      case "Enter":
      case " ":
        if (!this.onPick) return;
        event.preventDefault();
        this.onPick(cell.r);
        return;
      default: return;
    }
    event.preventDefault();
    cell.r = Math.max(0, Math.min(this.spec.rows - 1, cell.r));
    cell.c = Math.max(0, Math.min(this.spec.cols - 1, cell.c));
    this.moveTo(cell);
  }
}
