// The embedding explorer's map: tokens placed on the plane of the embedding table's first
// two principal components (the coordinates come from the server, which has the whole
// table), the student's tokens joined to their nearest neighbours. An SVG, with equal
// scales on both axes so that the picture adds no stretch of its own. The pointer or the
// arrow keys (when the map is focused) choose a point; `onRead(point)` says what it is.

import { canvasFont, el, fixed } from "./vector-kit.js";

const NS = "http://www.w3.org/2000/svg";
const SHAPES = {
  prompt: { r: 7, fill: "#2166ac" },
  neighbour: { r: 4.5, fill: "#d66012" },
  analogy: { r: 6, fill: "#3d3d3d" },
};

function node(tag, attributes = {}, text) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function marker(kind, x, y) {
  const { r, fill } = SHAPES[kind];
  if (kind === "analogy") {
    // a diamond: the shape, not only the colour, tells the kinds apart
    return node("path", { d: `M${x} ${y - r}L${x + r} ${y}L${x} ${y + r}L${x - r} ${y}Z`, fill, stroke: "#fff", "stroke-width": 1.5 });
  }
  return node("circle", { cx: x, cy: y, r, fill, stroke: "#fff", "stroke-width": 1.5 });
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export class EmbeddingMap {
  constructor(onRead) {
    this.svg = node("svg", { class: "em-map", tabindex: 0, role: "img" });
    this.svg.setAttribute(
      "aria-label",
      "Map of the tokens on the embedding table's two main directions. Arrow keys step through the points.",
    );
    this.onRead = onRead;
    this.points = [];
    this.links = [];
    this.current = null;
    const point = (event) => {
      const target = event.target.closest && event.target.closest(".em-point");
      if (target) this.choose(Number(target.dataset.index));
    };
    this.svg.addEventListener("pointermove", point);
    this.svg.addEventListener("pointerdown", point); // a tap on a phone
    this.svg.addEventListener("focus", () => {
      if (this.current === null && this.points.length) this.choose(0);
    });
    this.svg.addEventListener("keydown", (event) => this.onKey(event));
  }

  /** points: [{id, x, y, kind, label}]; links: [[fromId, toId]] (a token to its neighbour). */
  set(points, links) {
    const keep = this.current !== null ? this.points[this.current]?.id : null;
    this.points = points;
    this.links = links;
    const again = points.findIndex((p) => p.id === keep);
    this.current = again >= 0 ? again : null;
    this.draw();
  }

  choose(index) {
    if (index === this.current) return;
    this.current = index;
    this.draw();
    this.onRead(this.points[index]);
  }

  onKey(event) {
    const n = this.points.length;
    if (!n) return;
    let i = this.current ?? -1;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") i += 1;
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") i -= 1;
    else if (event.key === "Home") i = 0;
    else if (event.key === "End") i = n - 1;
    else return;
    event.preventDefault();
    this.choose((i + n) % n);
  }

  draw() {
    const width = this.svg.clientWidth || this.svg.parentElement?.clientWidth || 600;
    const font = canvasFont(this.svg);
    this.svg.replaceChildren();
    this.svg.dataset.points = String(this.points.length);
    if (!this.points.length) {
      this.svg.style.height = "0px";
      return;
    }

    // equal scales on both axes, room around the edges for the labels; as tall as the
    // points' spread needs, within limits
    const margin = { x: Math.min(font * 5, width * 0.12), y: font * 2 };
    const xs = this.points.map((p) => p.x);
    const ys = this.points.map((p) => p.y);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    const aspect = (y1 - y0) / (x1 - x0 || 1);
    const height = Math.round(Math.max(240, Math.min(520, (width - 2 * margin.x) * aspect + 2 * margin.y)));
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.style.height = `${height}px`;
    const scale = Math.min((width - 2 * margin.x) / (x1 - x0 || 1), (height - 2 * margin.y) / (y1 - y0 || 1));
    const cx = width / 2 - ((x0 + x1) / 2) * scale;
    const cy = height / 2 + ((y0 + y1) / 2) * scale;
    const at = (p) => [cx + p.x * scale, cy - p.y * scale]; // y grows upwards, as in math

    const frame = node("g", { class: "em-axes" });
    frame.append(node("rect", { x: 0.5, y: 0.5, width: width - 1, height: height - 1, fill: "none", stroke: "#d9dde3" }));
    if (cx > 0 && cx < width) frame.append(node("line", { x1: cx, y1: 0, x2: cx, y2: height, stroke: "#e4e7eb" }));
    if (cy > 0 && cy < height) frame.append(node("line", { x1: 0, y1: cy, x2: width, y2: cy, stroke: "#e4e7eb" }));
    this.svg.append(frame);

    const where = new Map(this.points.map((p, i) => [p.id, { xy: at(p), i }]));
    const chosen = this.current !== null ? this.points[this.current].id : null;
    const lines = node("g", { class: "em-links" });
    for (const [from, to] of this.links) {
      const a = where.get(from);
      const b = where.get(to);
      if (!a || !b) continue;
      const bold = from === chosen || to === chosen;
      lines.append(node("line", { x1: a.xy[0], y1: a.xy[1], x2: b.xy[0], y2: b.xy[1], stroke: bold ? "#1b1f24" : "#adb5bd", "stroke-width": bold ? 2 : 1 }));
    }
    this.svg.append(lines);

    // markers, the student's tokens last so that they sit on top
    const order = this.points.map((p, i) => i).sort((i, j) => (this.points[i].kind === "prompt") - (this.points[j].kind === "prompt"));
    const markers = node("g");
    const boxes = [];
    for (const i of order) {
      const p = this.points[i];
      const [x, y] = at(p);
      const group = node("g", { class: `em-point em-${p.kind}`, "data-index": i, "data-id": p.id });
      if (i === this.current) group.append(node("circle", { cx: x, cy: y, r: SHAPES[p.kind].r + 5, fill: "none", stroke: "#111", "stroke-width": 2 }));
      group.append(marker(p.kind, x, y), node("title", {}, p.label));
      markers.append(group);
      const r = SHAPES[p.kind].r;
      boxes.push({ x: x - r, y: y - r, w: 2 * r, h: 2 * r });
    }
    this.svg.append(markers);

    // labels: the student's tokens first, always shown; the others where they fit
    const labels = node("g", { class: "em-labels" });
    const labelOrder = [...order].reverse();
    for (const i of labelOrder) {
      const p = this.points[i];
      const [x, y] = at(p);
      const size = p.kind === "prompt" ? font * 1.1 : font * 0.95;
      const w = Array.from(p.label).length * size * 0.62 + 4;
      const h = size * 1.2;
      const r = SHAPES[p.kind].r + 3;
      // candidate places around the point, nearest first; the first free one wins
      const spots = [];
      for (const d of [1, 2.4]) {
        const o = r * d;
        const q = o * 0.7;
        spots.push(
          { x: x + o, y: y - h / 2, anchor: "start" },
          { x: x - o - w, y: y - h / 2, anchor: "end" },
          { x: x - w / 2, y: y - o - h, anchor: "middle" },
          { x: x - w / 2, y: y + o, anchor: "middle" },
          { x: x + q, y: y - q - h, anchor: "start" },
          { x: x + q, y: y + q, anchor: "start" },
          { x: x - q - w, y: y - q - h, anchor: "end" },
          { x: x - q - w, y: y + q, anchor: "end" },
        );
      }
      spots.forEach((spot) => Object.assign(spot, { w, h }));
      const inside = (s) => s.x >= 0 && s.y >= 0 && s.x + s.w <= width && s.y + s.h <= height;
      let spot = spots.find((s) => inside(s) && !boxes.some((b) => overlaps(s, b)));
      if (!spot && (p.kind === "prompt" || i === this.current)) spot = spots.find(inside) || spots[0];
      if (!spot) continue;
      boxes.push(spot);
      const tx = spot.anchor === "start" ? spot.x : spot.anchor === "end" ? spot.x + w : spot.x + w / 2;
      const text = node("text", {
        x: tx,
        y: spot.y + h / 2,
        "text-anchor": spot.anchor,
        "dominant-baseline": "central",
        class: `em-label em-label-${p.kind}`,
        "font-size": size,
      }, p.label);
      labels.append(text);
    }
    this.svg.append(labels);
  }
}

/** The map's caption: the variance each axis holds, and what a flat picture cannot show. */
export function mapCaption(explained, width, vocab) {
  const [first, second] = explained;
  const rest = Math.max(0, 1 - first - second);
  const pct = (r) => `${(r * 100).toFixed(1)}%`;
  const caption = el("p", "em-caption");
  caption.textContent =
    `Across: the direction along which the ${vocab.toLocaleString("en-US")} token vectors vary most ` +
    `(it holds ${pct(first)} of their variance); up: the next one (${pct(second)}). The other ` +
    `${width - 2} directions hold the remaining ${pct(rest)}, and this picture cannot show them: ` +
    "two tokens that look close here may be far apart in the model, and the other way round. " +
    "Trust the cosines more than the picture.";
  caption.dataset.explained = explained.map((r) => fixed(r, 6)).join(" ");
  return caption;
}
