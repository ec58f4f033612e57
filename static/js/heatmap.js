// Attention pictures on canvas: the colour scale, a raster cache holding one image per
// (layer, head) that gains a row of pixels per arriving row, and the main heatmap with
// its axes, token labels, hover cursor and focused row. The small multiples reuse the cache.

import { visibleText } from "./format.js";

// weight 0 … 1 → colour; white for nothing, through orange to a dark brown for everything
const STOPS = [
  [0, [255, 255, 255]],
  [0.15, [255, 236, 210]],
  [0.4, [255, 168, 77]],
  [0.65, [232, 89, 12]],
  [0.85, [166, 48, 8]],
  [1, [92, 26, 4]],
];

function interpolate(t) {
  for (let i = 1; i < STOPS.length; i += 1) {
    const [t1, c1] = STOPS[i];
    const [t0, c0] = STOPS[i - 1];
    if (t <= t1) {
      const f = (t - t0) / (t1 - t0 || 1);
      return c0.map((v, j) => Math.round(v + (c1[j] - v) * f));
    }
  }
  return STOPS[STOPS.length - 1][1];
}

/** The colour of a weight 0 … 1 as [r, g, b] (for pictures built pixel by pixel). */
export function attentionRgb(weight) {
  return interpolate(Math.min(1, Math.max(0, weight)));
}

/** Map a weight 0 … 1 to a colour position 0 … 1 for the chosen scale. */
export function scaled(weight, scale) {
  return scale === "sqrt" ? Math.sqrt(weight) : weight;
}

/** A CSS colour for a weight, for chips and legends. */
export function attentionColor(weight, scale) {
  const [r, g, b] = interpolate(scaled(weight, scale));
  return `rgb(${r} ${g} ${b})`;
}

/** One image per (layer, head), `capacity` pixels square; masked and pending cells are transparent. */
export class AttentionRaster {
  constructor(store, scale = "linear") {
    this.store = store;
    this.images = new Map();
    this.capacity = store.capacity;
    this.setScale(scale);
  }

  setScale(scale) {
    this.scale = scale;
    this.lut = new Uint8ClampedArray(256 * 4);
    for (let b = 0; b < 256; b += 1) {
      const [r, g, bl] = interpolate(scaled(b / 255, scale));
      this.lut.set([r, g, bl, 255], b * 4);
    }
    this.repaintAll();
  }

  repaintAll() {
    this.images.clear();
    this.capacity = this.store.capacity;
    for (let layer = 0; layer < this.store.nLayer; layer += 1) {
      for (let head = 0; head < this.store.nHead; head += 1) {
        if (this.store.hasMap(layer, head)) this.paintAll(layer, head);
      }
    }
  }

  canvasFor(layer, head) {
    const key = this.store.key(layer, head);
    let canvas = this.images.get(key);
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.width = canvas.height = this.capacity;
      this.images.set(key, canvas);
    }
    return canvas;
  }

  paintAll(layer, head) {
    const cap = this.capacity;
    const canvas = this.canvasFor(layer, head);
    const image = new ImageData(cap, cap);
    for (let q = 0; q < cap; q += 1) this.fillRow(image.data, q * cap * 4, layer, head, q);
    canvas.getContext("2d").putImageData(image, 0, 0);
  }

  fillRow(pixels, offset, layer, head, query) {
    if (!this.store.hasRow(layer, head, query)) return;
    const entry = this.store.map(layer, head);
    const start = query * this.store.capacity;
    for (let k = 0; k <= query; k += 1) {
      const b = entry.weights[start + k];
      pixels.set(this.lut.subarray(b * 4, b * 4 + 4), offset + k * 4);
    }
  }

  /** Bring one row's pixels up to date after the store received it. */
  paintRow(layer, head, query) {
    if (this.capacity !== this.store.capacity) {
      this.repaintAll();
      return;
    }
    if (!this.images.has(this.store.key(layer, head))) {
      this.paintAll(layer, head);
      return;
    }
    const row = new ImageData(this.capacity, 1);
    this.fillRow(row.data, 0, layer, head, query);
    this.canvasFor(layer, head).getContext("2d").putImageData(row, 0, query);
  }

  image(layer, head) {
    return this.images.get(this.store.key(layer, head)) || null;
  }
}

/** Size a canvas's backing store to its CSS box × devicePixelRatio; returns the 2D context. */
export function fitCanvas(canvas, cssWidth, cssHeight) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(cssWidth * dpr));
  const h = Math.max(1, Math.round(cssHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

let hatchPattern = null;
function hatch(ctx) {
  if (!hatchPattern) {
    const tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    const t = tile.getContext("2d");
    t.fillStyle = "#f1f3f5";
    t.fillRect(0, 0, 8, 8);
    t.strokeStyle = "#d5d9de";
    t.lineWidth = 1;
    t.beginPath();
    t.moveTo(0, 8);
    t.lineTo(8, 0);
    t.stroke();
    hatchPattern = tile;
  }
  return ctx.createPattern(hatchPattern, "repeat");
}

function shortLabel(text, max) {
  const visible = visibleText(text);
  const chars = Array.from(visible);
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : visible;
}

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

/**
 * Draw the main heatmap for one (layer, head).
 * options: raster, layer, head, tokens ([{text}]), focusQuery, cursor ({q, k}), message.
 * Returns the layout {x0, y0, plot, cell, n} for hit testing.
 */
export function drawHeatmap(canvas, options) {
  const cssWidth = canvas.clientWidth || 400;
  const ctx = fitCanvas(canvas, cssWidth, cssWidth);
  const { raster, layer, head, tokens, focusQuery, cursor } = options;
  const n = tokens.length;
  const text = cssVar("--text", "#1b1f24");
  const muted = cssVar("--muted", "#5a6472");
  const fontSize = Math.max(11, Math.round(cssWidth / 40));
  ctx.clearRect(0, 0, cssWidth, cssWidth);

  const image = raster ? raster.image(layer, head) : null;
  if (!n || !image) {
    ctx.fillStyle = hatch(ctx);
    ctx.fillRect(0, 0, cssWidth, cssWidth);
    ctx.fillStyle = muted;
    ctx.font = `${fontSize + 2}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const message = options.message || "Generate some text to see its attention here.";
    wrapText(ctx, message, cssWidth / 2, cssWidth / 2, cssWidth * 0.8, (fontSize + 2) * 1.4);
    return null;
  }

  const labelled = (cssWidth - fontSize * 9) / n >= fontSize + 2;
  const margin = labelled ? Math.round(fontSize * 6.5) : Math.round(fontSize * 3.2);
  // rotated column labels lean right: leave room for the last ones
  const right = labelled ? Math.round(fontSize * 2.2) : 6;
  const plot = cssWidth - margin - right;
  const cell = plot / n;
  const x0 = margin;
  const y0 = margin;

  ctx.fillStyle = hatch(ctx);
  ctx.fillRect(x0, y0, plot, plot);
  ctx.imageSmoothingEnabled = cell < 1;
  const src = Math.min(n, image.width); // the image may lag a token behind when it must grow
  ctx.drawImage(image, 0, 0, src, src, x0, y0, src * cell, src * cell);

  if (cell >= 7) {
    ctx.strokeStyle = "rgba(255,255,255,0.55)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let i = 1; i < n; i += 1) {
      const p = Math.round(x0 + i * cell) + 0.5;
      ctx.moveTo(p, y0);
      ctx.lineTo(p, y0 + plot);
      ctx.moveTo(x0, p);
      ctx.lineTo(x0 + plot, p);
    }
    ctx.stroke();
  }
  ctx.strokeStyle = "#adb5bd";
  ctx.lineWidth = 1;
  ctx.strokeRect(x0 - 0.5, y0 - 0.5, plot + 1, plot + 1);

  // labels: tokens when they fit, else every tenth (or fiftieth) position
  ctx.fillStyle = text;
  ctx.font = `${fontSize}px ui-monospace, "DejaVu Sans Mono", monospace`;
  if (labelled) {
    const maxChars = 7;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let i = 0; i < n; i += 1) {
      ctx.fillStyle = i === focusQuery ? cssVar("--accent", "#3b5bdb") : text;
      ctx.fillText(shortLabel(tokens[i].text, maxChars), x0 - 6, y0 + (i + 0.5) * cell);
    }
    ctx.save();
    ctx.textAlign = "left";
    for (let i = 0; i < n; i += 1) {
      ctx.save();
      ctx.translate(x0 + (i + 0.5) * cell, y0 - 6);
      ctx.rotate(-Math.PI / 3);
      ctx.fillStyle = text;
      ctx.fillText(shortLabel(tokens[i].text, maxChars), 0, 0);
      ctx.restore();
    }
    ctx.restore();
  } else {
    const step = n > 150 ? 50 : n > 40 ? 20 : n > 15 ? 10 : 5;
    ctx.fillStyle = muted;
    ctx.textBaseline = "middle";
    for (let i = 0; i < n; i += step) {
      ctx.textAlign = "right";
      ctx.fillText(String(i), x0 - 4, y0 + (i + 0.5) * cell);
      ctx.textAlign = "center";
      ctx.fillText(String(i), x0 + (i + 0.5) * cell, y0 - fontSize * 0.8);
    }
  }

  if (focusQuery !== null && focusQuery !== undefined && focusQuery < n) {
    ctx.strokeStyle = cssVar("--accent", "#3b5bdb");
    ctx.lineWidth = 2;
    ctx.strokeRect(x0 - 1, y0 + focusQuery * cell - 1, (focusQuery + 1) * cell + 2, cell + 2);
  }
  if (cursor && cursor.q < n && cursor.k < n) {
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 2;
    ctx.strokeRect(x0 + cursor.k * cell, y0 + cursor.q * cell, Math.max(cell, 2), Math.max(cell, 2));
  }
  return { x0, y0, plot, cell, n };
}

function wrapText(ctx, message, cx, cy, width, lineHeight) {
  const words = message.split(" ");
  const lines = [];
  let line = "";
  for (const word of words) {
    const next = line ? `${line} ${word}` : word;
    if (ctx.measureText(next).width > width && line) {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  lines.push(line);
  const top = cy - ((lines.length - 1) * lineHeight) / 2;
  lines.forEach((l, i) => ctx.fillText(l, cx, top + i * lineHeight));
}

/** Which cell (query row q, key column k) a point in CSS pixels falls on, or null. */
export function cellAt(layout, x, y) {
  if (!layout) return null;
  const k = Math.floor((x - layout.x0) / layout.cell);
  const q = Math.floor((y - layout.y0) / layout.cell);
  if (q < 0 || k < 0 || q >= layout.n || k >= layout.n) return null;
  return { q, k };
}

/** Draw the colour scale as a horizontal bar with ticks. */
export function drawLegend(canvas, scale) {
  const cssWidth = canvas.clientWidth || 200;
  const cssHeight = canvas.clientHeight || 34;
  const ctx = fitCanvas(canvas, cssWidth, cssHeight);
  ctx.clearRect(0, 0, cssWidth, cssHeight);
  const barH = Math.round(cssHeight * 0.4);
  const pad = 10;
  const width = cssWidth - 2 * pad;
  for (let x = 0; x < width; x += 1) {
    const [r, g, b] = interpolate(x / (width - 1));
    ctx.fillStyle = `rgb(${r} ${g} ${b})`;
    ctx.fillRect(pad + x, 0, 1, barH);
  }
  ctx.strokeStyle = "#adb5bd";
  ctx.strokeRect(pad + 0.5, 0.5, width - 1, barH - 1);
  ctx.fillStyle = cssVar("--muted", "#5a6472");
  const fontSize = Math.max(11, Math.round(cssHeight * 0.36));
  ctx.font = `${fontSize}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  const ticks = scale === "sqrt" ? [0, 0.05, 0.25, 0.5, 1] : [0, 0.25, 0.5, 0.75, 1];
  for (const t of ticks) {
    const x = pad + scaled(t, scale) * (width - 1);
    ctx.textAlign = t === 0 ? "left" : t === 1 ? "right" : "center";
    ctx.fillText(String(t), x, barH + 3);
    ctx.fillRect(Math.round(x), barH, 1, 3);
  }
}
