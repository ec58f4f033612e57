// Drawing for the "inside the model" page: a diverging colour scale, vector strips (one
// canvas cell per dimension), T×S maps for scores and attention, and plain HTML bar lists
// and tables. Each canvas view reads out the value under the pointer or the keyboard cursor.

import { percent, visibleText } from "./format.js";
import { attentionRgb, fitCanvas } from "./heatmap.js";

// blue – near-white – orange: stays apart for the common colour-vision deficiencies
const DIVERGING = [
  [-1, [8, 69, 148]],
  [-0.5, [107, 174, 214]],
  [0, [247, 247, 247]],
  [0.5, [253, 174, 97]],
  [1, [179, 88, 6]],
];

/** A value in −1 … 1 (clamped) as [r, g, b] on the diverging scale. */
export function divergingRgb(t) {
  const x = Number.isFinite(t) ? Math.max(-1, Math.min(1, t)) : 0;
  for (let i = 1; i < DIVERGING.length; i += 1) {
    const [t1, c1] = DIVERGING[i];
    const [t0, c0] = DIVERGING[i - 1];
    if (x <= t1) {
      const f = (x - t0) / (t1 - t0);
      return c0.map((v, j) => Math.round(v + (c1[j] - v) * f));
    }
  }
  return DIVERGING[DIVERGING.length - 1][1];
}

const rgb = ([r, g, b]) => `rgb(${r} ${g} ${b})`;

/** A number for a readout: 4 significant digits, no exponent for everyday sizes. */
export function num(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "+∞" : "−∞";
  const a = Math.abs(value);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return value.toExponential(2);
  return value.toPrecision(4).replace(/\.?0+$/, "") || "0";
}

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Text of a token, whitespace made visible, in quotes. */
export function quoted(text) {
  return `“${visibleText(text)}”`;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

let hatchTile = null;
function hatch(ctx) {
  if (!hatchTile) {
    hatchTile = document.createElement("canvas");
    hatchTile.width = hatchTile.height = 6;
    const t = hatchTile.getContext("2d");
    t.fillStyle = "#e4e7eb";
    t.fillRect(0, 0, 6, 6);
    t.strokeStyle = "#b9c0c9";
    t.beginPath();
    t.moveTo(0, 6);
    t.lineTo(6, 0);
    t.stroke();
  }
  return ctx.createPattern(hatchTile, "repeat");
}

// -- strips -------------------------------------------------------------------------------------

/**
 * One vector as a row of cells on the diverging scale, ±`scale` at the ends. Hover or the
 * arrow keys (when focused) name a cell's dimension and value in `readout`.
 */
export class StripView {
  constructor(canvas, readout, name) {
    this.canvas = canvas;
    this.readout = readout;
    this.name = name;
    this.vector = null;
    this.scale = 1;
    this.cursor = null;
    canvas.addEventListener("pointermove", (event) => this.read(this.cellAt(event)));
    canvas.addEventListener("pointerleave", () => this.read(this.cursor));
    canvas.addEventListener("keydown", (event) => this.onKey(event));
    canvas.addEventListener("blur", () => {
      this.cursor = null;
      this.draw();
    });
  }

  set(vector, scale) {
    this.vector = vector;
    this.scale = scale > 0 ? scale : 1;
    if (this.cursor !== null && (!vector || this.cursor >= vector.length)) this.cursor = null;
    this.draw();
  }

  cellAt(event) {
    if (!this.vector) return null;
    const box = this.canvas.getBoundingClientRect();
    const i = Math.floor(((event.clientX - box.left) / box.width) * this.vector.length);
    return i >= 0 && i < this.vector.length ? i : null;
  }

  read(i) {
    if (i === null || !this.vector) {
      this.canvas.title = "";
      return;
    }
    const text = `${this.name}, dimension ${i}: ${num(this.vector[i])}`;
    this.canvas.title = text;
    setText(this.readout, text);
  }

  onKey(event) {
    if (!this.vector) return;
    const n = this.vector.length;
    let i = this.cursor ?? 0;
    if (event.key === "ArrowLeft") i -= 1;
    else if (event.key === "ArrowRight") i += 1;
    else if (event.key === "Home") i = 0;
    else if (event.key === "End") i = n - 1;
    else return;
    event.preventDefault();
    this.cursor = Math.max(0, Math.min(n - 1, i));
    this.read(this.cursor);
    this.draw();
  }

  draw() {
    const width = this.canvas.clientWidth || 300;
    const height = this.canvas.clientHeight || 24;
    const ctx = fitCanvas(this.canvas, width, height);
    ctx.clearRect(0, 0, width, height);
    const v = this.vector;
    if (!v || !v.length) {
      ctx.fillStyle = hatch(ctx);
      ctx.fillRect(0, 0, width, height);
      this.canvas.dataset.cells = "0";
      return;
    }
    const cell = width / v.length;
    for (let i = 0; i < v.length; i += 1) {
      ctx.fillStyle = rgb(divergingRgb(v[i] / this.scale));
      // whole pixels, one wider than needed, so that no hairline gaps show between cells
      ctx.fillRect(Math.floor(i * cell), 0, Math.ceil(cell) + 1, height);
    }
    if (this.cursor !== null) {
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 2;
      ctx.strokeRect(this.cursor * cell + 1, 1, Math.max(cell - 2, 2), height - 2);
    }
    this.canvas.dataset.cells = String(v.length);
  }
}

// -- maps ---------------------------------------------------------------------------------------

/**
 * A T×S map (rows: query positions, columns: key positions). kind "diverging" (scores,
 * symmetric about 0) or "weights" (attention, 0 … 1). Future cells (key after query) are
 * hatched. `onPick(position)` runs when a row is clicked or Enter is pressed on it.
 */
export class MapView {
  constructor(canvas, readout, { kind, describe, onPick }) {
    this.canvas = canvas;
    this.readout = readout;
    this.kind = kind;
    this.describe = describe;
    this.onPick = onPick;
    this.map = null;
    this.focusRow = null;
    this.cursor = null;
    this.layout = null;
    canvas.addEventListener("pointermove", (event) => this.read(this.cellAt(event)));
    canvas.addEventListener("pointerleave", () => this.read(this.cursor));
    canvas.addEventListener("click", (event) => {
      const cell = this.cellAt(event);
      if (cell) this.onPick(this.map.positions[cell.r]);
    });
    canvas.addEventListener("keydown", (event) => this.onKey(event));
  }

  /** map: {rows, cols, data, positions} from headMap(); focusPosition: the row to outline. */
  set(map, focusPosition) {
    this.map = map;
    this.focusRow = map ? map.positions.indexOf(focusPosition) : null;
    if (this.cursor && (!map || this.cursor.r >= map.rows || this.cursor.c >= map.cols)) this.cursor = null;
    this.draw();
  }

  masked(r, c) {
    return c > this.map.positions[r];
  }

  value(r, c) {
    return this.map.data[r * this.map.cols + c];
  }

  cellAt(event) {
    const layout = this.layout;
    if (!layout || !this.map) return null;
    const box = this.canvas.getBoundingClientRect();
    const c = Math.floor((event.clientX - box.left - layout.x0) / layout.cell);
    const r = Math.floor((event.clientY - box.top - layout.y0) / layout.cell);
    return r >= 0 && c >= 0 && r < this.map.rows && c < this.map.cols ? { r, c } : null;
  }

  read(cell) {
    if (!cell || !this.map) return;
    const { r, c } = cell;
    setText(this.readout, this.describe(this.map.positions[r], c, this.value(r, c), this.masked(r, c)));
  }

  onKey(event) {
    if (!this.map) return;
    const cursor = this.cursor ? { ...this.cursor } : { r: Math.max(0, this.focusRow ?? 0), c: 0 };
    switch (event.key) {
      case "ArrowUp": cursor.r -= 1; break;
      case "ArrowDown": cursor.r += 1; break;
      case "ArrowLeft": cursor.c -= 1; break;
      case "ArrowRight": cursor.c += 1; break;
      case "Home": cursor.c = 0; break;
      case "End": cursor.c = this.map.cols - 1; break;
      case "Enter":
      case " ":
        event.preventDefault();
        this.onPick(this.map.positions[cursor.r]);
        return;
      default: return;
    }
    event.preventDefault();
    cursor.r = Math.max(0, Math.min(this.map.rows - 1, cursor.r));
    cursor.c = Math.max(0, Math.min(this.map.cols - 1, cursor.c));
    this.cursor = cursor;
    this.read(cursor);
    this.draw();
  }

  /** The symmetric range of the scores' scale: the largest |value| the model can see. */
  range() {
    const { rows, cols } = this.map;
    let max = 0;
    for (let r = 0; r < rows; r += 1) {
      for (let c = 0; c < cols; c += 1) {
        const a = Math.abs(this.value(r, c));
        if (!this.masked(r, c) && Number.isFinite(a) && a > max) max = a;
      }
    }
    return max || 1;
  }

  draw() {
    const size = this.canvas.clientWidth || 320;
    const ctx = fitCanvas(this.canvas, size, size);
    ctx.clearRect(0, 0, size, size);
    const map = this.map;
    if (!map) {
      this.layout = null;
      ctx.fillStyle = hatch(ctx);
      ctx.fillRect(0, 0, size, size);
      this.canvas.dataset.rows = "0";
      return;
    }
    const { rows, cols } = map;
    const margin = 28;
    const right = 14; // room for the last column's number
    const cell = (size - margin - right) / Math.max(rows, cols);
    const x0 = margin;
    const y0 = margin;
    this.layout = { x0, y0, cell };

    // one pixel per cell, then scaled up without smoothing
    const image = new ImageData(cols, rows);
    const range = this.kind === "diverging" ? this.range() : 1;
    this.scaleRange = range;
    for (let r = 0; r < rows; r += 1) {
      for (let c = 0; c < cols; c += 1) {
        const v = this.value(r, c);
        const colour = this.kind === "diverging" ? divergingRgb(v / range) : attentionRgb(v);
        image.data.set([...colour, this.masked(r, c) ? 0 : 255], (r * cols + c) * 4);
      }
    }
    const raster = document.createElement("canvas");
    raster.width = cols;
    raster.height = rows;
    raster.getContext("2d").putImageData(image, 0, 0);
    ctx.fillStyle = hatch(ctx); // shows through the transparent (masked) cells
    ctx.fillRect(x0, y0, cols * cell, rows * cell);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(raster, x0, y0, cols * cell, rows * cell);
    ctx.strokeStyle = "#adb5bd";
    ctx.lineWidth = 1;
    ctx.strokeRect(x0 - 0.5, y0 - 0.5, cols * cell + 1, rows * cell + 1);

    // position numbers along both axes, as often as they fit (columns need room for 3 digits)
    const every = (pixels) => [1, 2, 5, 10, 20, 25, 50, 100].find((s) => s * cell >= pixels) || 100;
    ctx.fillStyle = "#58616e";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (let r = 0; r < rows; r += every(14)) ctx.fillText(String(map.positions[r]), x0 - 4, y0 + (r + 0.5) * cell);
    ctx.textAlign = "center";
    const columnStep = every(cols > 99 ? 24 : 16);
    for (let c = 0; c < cols; c += columnStep) ctx.fillText(String(c), x0 + (c + 0.5) * cell, y0 - 9);

    if (this.focusRow !== null && this.focusRow >= 0) {
      ctx.strokeStyle = "#3451c6";
      ctx.lineWidth = 2;
      ctx.strokeRect(x0 - 1, y0 + this.focusRow * cell - 1, cols * cell + 2, cell + 2);
    }
    if (this.cursor) {
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 2;
      ctx.strokeRect(x0 + this.cursor.c * cell, y0 + this.cursor.r * cell, Math.max(cell, 2), Math.max(cell, 2));
    }
    this.canvas.dataset.rows = String(rows);
    this.canvas.dataset.cols = String(cols);
  }
}

// -- bars and tables --------------------------------------------------------------------------------

/**
 * A bar list: items [{label, value, text, id}] as <li>s, bars relative to `max` (default:
 * the largest |value|; pass one to put several lists on the same scale).
 * `kind` picks the bar colour ("final": the accent, "raw": grey). Labels are token text
 * when `tokens` is set (shown in monospace with whitespace visible).
 */
export function renderBars(list, items, { kind = "final", tokens = false, max = null, emptyText = "Nothing to show." } = {}) {
  list.replaceChildren();
  if (!items || !items.length) {
    list.append(el("li", "value-bar empty", emptyText));
    return;
  }
  const top = max ?? Math.max(...items.map((item) => Math.abs(item.value)), 0);
  for (const item of items) {
    const row = el("li", "value-bar");
    if (item.id !== undefined) row.dataset.tokenId = String(item.id);
    const label = el(tokens ? "code" : "span", tokens ? "bar-label token-text" : "bar-label", tokens ? visibleText(item.label) : item.label);
    const track = el("span", `bar-track ${kind}`);
    const fill = el("span", "bar-fill");
    fill.style.width = `${top > 0 ? Math.min(100, (Math.abs(item.value) / top) * 100) : 0}%`;
    track.append(fill, el("span", "bar-value", item.text));
    row.append(label, track);
    row.setAttribute("aria-label", `${tokens ? quoted(item.label) : item.label}: ${item.text}`);
    list.append(row);
  }
}

/** Probability items for renderBars from [{id, text, prob}]. */
export function probabilityItems(candidates) {
  return (candidates || []).map((c) => ({ id: c.id, label: c.text, value: c.prob, text: percent(c.prob) }));
}

/** Fill a table's head and body: header [text], rows [[cell]], a cell being text or a Node. */
export function fillTable(table, header, rows) {
  const headRow = el("tr");
  header.forEach((text) => {
    const th = el("th", "", text);
    th.scope = "col";
    headRow.append(th);
  });
  table.tHead.replaceChildren(headRow);
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const cells of rows) {
    const tr = el("tr");
    cells.forEach((cell, i) => {
      const td = el(i === 0 ? "th" : "td");
      if (i === 0) td.scope = "row";
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell;
      tr.append(td);
    });
    body.append(tr);
  }
}
