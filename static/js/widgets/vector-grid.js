// A canvas grid of numbers for the vector lessons' widgets: rows × cols cells on the
// diverging colour scale, row labels, column numbers, and a cursor that the pointer or the
// arrow keys move, so that every number can be read out. The heatmaps of the embeddings and
// positions widgets and the position-cosine maps are all one of these.

import { fitCanvas } from "../heatmap.js";
import { canvasFont, colourOf, el, reducedMotion } from "./vector-kit.js";

function niceStep(minimum) {
  for (const step of [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]) if (step >= minimum) return step;
  return 1000;
}

/**
 * rows × cols numbers as coloured cells on a canvas, ±range at the ends of the scale.
 * Row labels on the left (texts, or row numbers when there are many rows), column numbers
 * below. The pointer or the arrow keys (when focused) move a cursor; `onCursor({r, c})`
 * lets the widget say what is there, and `showCursor` mirrors a sibling grid's cursor.
 * `square: true` makes square cells (an n × n map); `highlight: n` outlines the first n
 * rows and columns of a square map, or the first n rows otherwise.
 */
export class Grid {
  constructor({ label, rowHeight = 18, maxHeight = 300, square = false, onCursor = () => {} }) {
    this.canvas = el("canvas", "vk-grid");
    this.canvas.vkGrid = this; // the numbers drawn, for the browser tests
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", `${label}. Arrow keys move a cursor over the numbers.`);
    this.rowHeight = rowHeight;
    this.maxHeight = maxHeight;
    this.square = square;
    this.onCursor = onCursor;
    this.data = null;
    this.cursor = null;
    this.layout = null;
    this.motion = null;
    const point = (event) => {
      const cell = this.cellAt(event);
      if (cell) this.moveTo(cell);
    };
    this.canvas.addEventListener("pointermove", point);
    this.canvas.addEventListener("pointerdown", point); // a tap on a phone
    this.canvas.addEventListener("keydown", (event) => this.onKey(event));
    this.canvas.addEventListener("focus", () => {
      if (!this.cursor && this.data) this.moveTo({ r: 0, c: 0 });
    });
  }

  /** rows, cols, data (Float32Array, row-major), range, rowLabels (strings) or null;
   *  labelChars: the least room for labels, in characters. */
  set({ rows, cols, data, range, rowLabels = null, highlight = 0, moveFrom = null, labelChars = 0 }) {
    this.data = { rows, cols, data, range: range || 1, rowLabels, highlight, labelChars };
    this.canvas.dataset.rows = String(rows);
    this.canvas.dataset.cols = String(cols);
    if (this.cursor && (this.cursor.r >= rows || this.cursor.c >= cols)) this.cursor = null;
    this.raster = this.paint();
    if (moveFrom && !reducedMotion()) this.animate(moveFrom);
    else this.draw();
  }

  value(r, c) {
    return this.data.data[r * this.data.cols + c];
  }

  paint() {
    const { rows, cols, data, range } = this.data;
    const image = new ImageData(cols, rows);
    for (let i = 0; i < rows * cols; i += 1) image.data.set([...colourOf(data[i], range), 255], i * 4);
    const raster = document.createElement("canvas");
    raster.width = cols;
    raster.height = rows;
    raster.getContext("2d").putImageData(image, 0, 0);
    return raster;
  }

  measure(ctx, font) {
    const { rows, cols, rowLabels, labelChars } = this.data;
    ctx.font = `${font}px ui-monospace, "DejaVu Sans Mono", monospace`;
    // labelChars: room for at least that many characters, so that stacked grids line up
    const labels = [...(rowLabels || [String(rows - 1)]), "0".repeat(labelChars)];
    const left = Math.ceil(Math.max(...labels.map((t) => ctx.measureText(t).width), 0)) + 8;
    const width = this.canvas.clientWidth || 320;
    const plot = Math.max(10, width - left - 10);
    const cellW = plot / cols;
    const scale = font / 12;
    const rowH = this.square ? cellW : Math.max(0.5, Math.min(this.rowHeight * scale, (this.maxHeight * scale) / rows));
    // numbered rows put half a line of text above the first row: leave room for it
    const top = rowLabels && rowH >= font ? 4 : Math.ceil(font / 2) + 2;
    return { left, top, cellW, rowH, width, height: Math.ceil(top + rows * rowH + font + 8), font };
  }

  draw(offsets = null) {
    if (!this.data) return;
    const font = canvasFont(this.canvas);
    const probe = this.canvas.getContext("2d");
    const layout = this.measure(probe, font);
    this.layout = layout;
    this.canvas.style.height = `${layout.height}px`;
    const ctx = fitCanvas(this.canvas, layout.width, layout.height);
    const { rows, cols, rowLabels, highlight } = this.data;
    const { left, top, cellW, rowH } = layout;
    ctx.clearRect(0, 0, layout.width, layout.height);
    ctx.imageSmoothingEnabled = false;
    const rowY = (r) => top + (offsets ? offsets[r] : r) * rowH;
    if (offsets) {
      for (let r = 0; r < rows; r += 1) ctx.drawImage(this.raster, 0, r, cols, 1, left, rowY(r), cols * cellW, rowH);
    } else {
      ctx.drawImage(this.raster, left, top, cols * cellW, rows * rowH);
    }
    ctx.strokeStyle = "#adb5bd";
    ctx.lineWidth = 1;
    ctx.strokeRect(left - 0.5, top - 0.5, cols * cellW + 1, rows * rowH + 1);

    // row labels: every row's text when they fit, else position numbers at a readable step
    ctx.font = `${font}px ui-monospace, "DejaVu Sans Mono", monospace`;
    ctx.fillStyle = "#1b1f24";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    if (rowLabels && rowH >= font) {
      rowLabels.forEach((text, r) => ctx.fillText(text, left - 6, rowY(r) + rowH / 2));
    } else {
      const step = niceStep(Math.ceil((font * 1.5) / rowH));
      for (let r = 0; r < rows; r += step) ctx.fillText(String(r), left - 6, top + (r + 0.5) * rowH);
    }
    // column numbers along the bottom
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillStyle = "#58616e";
    const colStep = niceStep(Math.ceil((font * 2.6) / cellW));
    for (let c = 0; c < cols; c += colStep) ctx.fillText(String(c), left + (c + 0.5) * cellW, top + rows * rowH + 4);

    if (highlight > 0) {
      ctx.strokeStyle = "#3451c6";
      ctx.lineWidth = 2;
      const w = this.square ? highlight * cellW : cols * cellW;
      ctx.strokeRect(left - 1, top - 1, w + 2, highlight * rowH + 2);
    }
    if (this.cursor) {
      const { r, c } = this.cursor;
      const x = left + c * cellW;
      const y = top + r * rowH;
      if (this.square || rowH < 4) {
        // a crosshair: one cell of a dense map is too small to see
        ctx.fillStyle = "rgb(17 17 17 / 0.18)";
        ctx.fillRect(left, y, cols * cellW, Math.max(rowH, 1));
        ctx.fillRect(x, top, Math.max(cellW, 1), rows * rowH);
      }
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 3;
      ctx.strokeRect(x - 1, y - 1, Math.max(cellW, 2) + 2, Math.max(rowH, 2) + 2);
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(x - 1, y - 1, Math.max(cellW, 2) + 2, Math.max(rowH, 2) + 2);
    }
  }

  /** Slide the rows from where they were (moveFrom[r]: the old row of new row r, or null). */
  animate(moveFrom) {
    const start = performance.now();
    const duration = 650;
    const frame = (now) => {
      const t = Math.min(1, (now - start) / duration);
      const ease = t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2;
      const offsets = moveFrom.map((from, r) => (from === null ? r : from + (r - from) * ease));
      this.draw(t < 1 ? offsets : null);
      if (t < 1) this.motion = requestAnimationFrame(frame);
    };
    cancelAnimationFrame(this.motion);
    this.motion = requestAnimationFrame(frame);
  }

  cellAt(event) {
    if (!this.layout || !this.data) return null;
    const box = this.canvas.getBoundingClientRect();
    const c = Math.floor((event.clientX - box.left - this.layout.left) / this.layout.cellW);
    const r = Math.floor((event.clientY - box.top - this.layout.top) / this.layout.rowH);
    return r >= 0 && c >= 0 && r < this.data.rows && c < this.data.cols ? { r, c } : null;
  }

  moveTo(cell) {
    this.showCursor(cell);
    this.onCursor(cell);
  }

  showCursor(cell) {
    this.cursor = cell && this.data && cell.r < this.data.rows && cell.c < this.data.cols ? { ...cell } : null;
    this.draw();
  }

  onKey(event) {
    if (!this.data) return;
    const { rows, cols } = this.data;
    const cell = this.cursor ? { ...this.cursor } : { r: 0, c: 0 };
    const big = event.shiftKey ? 10 : 1;
    switch (event.key) {
      case "ArrowLeft": cell.c -= big; break;
      case "ArrowRight": cell.c += big; break;
      case "ArrowUp": cell.r -= big; break;
      case "ArrowDown": cell.r += big; break;
      case "PageUp": cell.r -= 10; break;
      case "PageDown": cell.r += 10; break;
      case "Home": cell.c = 0; break;
      case "End": cell.c = cols - 1; break;
      default: return;
    }
    event.preventDefault();
    cell.r = Math.max(0, Math.min(rows - 1, cell.r));
    cell.c = Math.max(0, Math.min(cols - 1, cell.c));
    this.moveTo(cell);
  }
}
