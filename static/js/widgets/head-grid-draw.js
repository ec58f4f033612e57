// The head-grid widget's own pictures: the n_layer × n_head grid of small attention maps
// (each a button with its three pattern scores; the arrow keys move across the grid, Enter
// or a click opens a head), and the "heads add up" bars. The large map and the line view
// are attention-head-views.js's MatrixView and LineView.

import { css, sequentialRgb } from "../colour-scales.js";
import { fitCanvas } from "../heatmap.js";
import { el, fixed } from "./attention-head-kit.js";

export const PATTERNS = {
  previous: { name: "previous-token", short: "prev", what: "mean weight on the token just before" },
  first: { name: "first-token", short: "first", what: "mean weight on the first token" },
  self: { name: "self", short: "self", what: "mean weight on the token itself" },
};

let raster = null; // one scratch canvas for every thumbnail

/** An n × n attention map as a small square picture (`size` CSS pixels); the masked future stays pale grey. */
export function paintThumb(canvas, map, n, size) {
  const ctx = fitCanvas(canvas, size, size);
  const image = new ImageData(n, n);
  for (let r = 0; r < n; r += 1) {
    for (let c = 0; c < n; c += 1) {
      const colour = c > r ? [236, 238, 241] : sequentialRgb(map[r * n + c]);
      image.data.set([colour[0], colour[1], colour[2], 255], (r * n + c) * 4);
    }
  }
  raster = raster || document.createElement("canvas");
  if (raster.width !== n) raster.width = raster.height = n;
  raster.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, size, size);
  ctx.drawImage(raster, 0, 0, size, size);
}

/**
 * The grid: one button per (layer, head), a roving tab stop (the arrow keys move it, Home
 * and End go to the ends of a row), Enter, Space or a click choose: onSelect(layer, head).
 */
export class HeadGrid {
  constructor(nLayer, nHead, onSelect) {
    this.nLayer = nLayer;
    this.nHead = nHead;
    this.onSelect = onSelect;
    this.element = el("div", "hg-grid");
    this.element.style.setProperty("--hg-heads", String(nHead));
    this.element.setAttribute("role", "group");
    this.element.setAttribute("aria-label", "Every head of every layer; arrow keys move, Enter opens a head");
    this.element.append(el("span", "hg-corner", ""));
    for (let h = 0; h < nHead; h += 1) this.element.append(el("span", "hg-col-head", `head ${h}`));
    this.buttons = [];
    for (let l = 0; l < nLayer; l += 1) {
      this.element.append(el("span", "hg-row-head", `layer ${l}`));
      for (let h = 0; h < nHead; h += 1) {
        const button = el("button", "hg-thumb");
        button.type = "button";
        button.dataset.layer = String(l);
        button.dataset.head = String(h);
        button.tabIndex = l === 0 && h === 0 ? 0 : -1;
        const canvas = el("canvas", "hg-thumb-map");
        const name = el("span", "hg-thumb-name", `L${l} H${h}`);
        const scores = el("span", "hg-thumb-scores");
        button.append(canvas, name, scores);
        button.addEventListener("click", () => this.onSelect(l, h));
        button.addEventListener("keydown", (event) => this.onKey(event, l, h));
        this.element.append(button);
        this.buttons.push({ button, canvas, scores });
      }
    }
  }

  at(l, h) {
    return this.buttons[l * this.nHead + h];
  }

  onKey(event, l, h) {
    let [nl, nh] = [l, h];
    if (event.key === "ArrowLeft") nh -= 1;
    else if (event.key === "ArrowRight") nh += 1;
    else if (event.key === "ArrowUp") nl -= 1;
    else if (event.key === "ArrowDown") nl += 1;
    else if (event.key === "Home") nh = 0;
    else if (event.key === "End") nh = this.nHead - 1;
    else return; // Enter and Space click the button
    event.preventDefault();
    nl = Math.max(0, Math.min(this.nLayer - 1, nl));
    nh = Math.max(0, Math.min(this.nHead - 1, nh));
    this.moveFocus(nl, nh);
  }

  moveFocus(l, h) {
    for (const { button } of this.buttons) button.tabIndex = -1;
    const { button } = this.at(l, h);
    button.tabIndex = 0;
    button.focus();
  }

  /**
   * maps[l][h]: n × n weights; scores[l][h]: {previous, first, self}; selected: {layer,
   * head}; pattern: the key of PATTERNS to highlight; best: {layer, head} of its strongest.
   */
  set({ maps, scores, n, selected, pattern, best }) {
    const focused = this.element.contains(document.activeElement);
    // every thumbnail has the same size: read it once, before any change asks for a new layout
    const size = this.buttons[0].canvas.clientWidth || 64;
    for (let l = 0; l < this.nLayer; l += 1) {
      for (let h = 0; h < this.nHead; h += 1) {
        const { button, canvas, scores: line } = this.at(l, h);
        paintThumb(canvas, maps[l][h], n, size);
        const s = scores[l][h];
        line.replaceChildren(
          ...Object.entries(PATTERNS).map(([key, p]) => {
            const part = el("span", key === pattern ? "hg-score is-pattern" : "hg-score", `${p.short} ${fixed(s[key], 2)}`);
            part.dataset.pattern = key;
            part.dataset.value = String(s[key]);
            return part;
          }),
        );
        const isSelected = l === selected.layer && h === selected.head;
        const isBest = l === best.layer && h === best.head;
        button.setAttribute("aria-pressed", String(isSelected));
        button.classList.toggle("is-best", isBest);
        // how strongly this head shows the pattern, as the strength of its frame
        button.style.setProperty("--hg-strength", String(Math.max(0, Math.min(1, s[pattern] ?? 0))));
        button.setAttribute(
          "aria-label",
          `Layer ${l}, head ${h}: previous-token ${fixed(s.previous, 2)}, first-token ${fixed(s.first, 2)}, self ${fixed(s.self, 2)}` +
            `${isBest ? `; the strongest ${PATTERNS[pattern].name} head` : ""}`,
        );
      }
    }
    if (!focused) {
      for (const { button } of this.buttons) button.tabIndex = -1;
      this.at(selected.layer, selected.head).button.tabIndex = 0;
    }
  }
}

/** The "heads add up" bars: items [{label, value, kind}] with bars relative to the largest. */
export function renderNormBars(list, items) {
  const top = Math.max(...items.map((item) => item.value), 1e-9);
  list.replaceChildren(
    ...items.map((item) => {
      const row = el("li", `hg-bar ${item.kind || ""}`.trim());
      row.dataset.value = String(item.value);
      const track = el("span", "hg-bar-track");
      const fill = el("span", "hg-bar-fill");
      fill.style.width = `${Math.min(100, (item.value / top) * 100)}%`;
      fill.style.background = item.kind === "is-total" ? css(sequentialRgb(0.85)) : item.kind === "is-bias" ? "#8a94a3" : css(sequentialRgb(0.55));
      track.append(fill);
      row.append(el("span", "hg-bar-label", item.label), track, el("span", "hg-bar-value", fixed(item.value, 3)));
      return row;
    }),
  );
}
