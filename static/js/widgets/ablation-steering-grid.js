// The Δ log p grid of lesson 14: one button per attention head (rows = layers, columns =
// heads), coloured on the diverging scale by how much zeroing that head changed ln p of the
// target token. Keyboard: the grid is one tab stop; arrow keys, Home and End move between
// heads; Enter or Space picks one. Pointing at or focusing a cell writes its numbers in the
// readout line. The numbers are the reply's; nothing here is computed from the model.

import { css, divergingRgb, inkOn } from "../colour-scales.js";
import { el, fixed, headName, percentText, quoted } from "./ablation-steering-kit.js";

export class DeltaGrid {
  /** onPick(layer, head) runs when a cell is clicked or chosen with Enter / Space. */
  constructor(onPick) {
    this.onPick = onPick;
    this.element = el("div", "as-grid-wrap");
    this.table = el("table", "as-grid");
    this.readout = el("p", "as-readout", "Point at a head, or focus the grid and use the arrow keys, to read its number.");
    this.readout.setAttribute("aria-live", "polite");
    this.element.append(this.table, this.readout);
    this.cells = [];
    this.focus = { layer: 0, head: 0 };
    this.selected = new Set();
    this.table.addEventListener("keydown", (event) => this.onKey(event));
  }

  /** Draw from a `head_ablation` reply: delta (n_layer × n_head, Float32Array), log_prob, target text. */
  set({ delta, nLayer, nHead, logProb, targetText }) {
    this.nLayer = nLayer;
    this.nHead = nHead;
    this.delta = delta;
    this.logProb = logProb;
    this.targetText = targetText;
    let range = 0;
    for (const value of delta) range = Math.max(range, Math.abs(value));
    this.range = range || 1;
    this.focus = { layer: Math.min(this.focus.layer, nLayer - 1), head: Math.min(this.focus.head, nHead - 1) };

    const head = el("tr");
    head.append(el("th", "as-corner", ""));
    for (let h = 0; h < nHead; h += 1) {
      const th = el("th", "as-col", `H${h}`);
      th.scope = "col";
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    this.cells = [];
    for (let l = 0; l < nLayer; l += 1) {
      const row = el("tr");
      const th = el("th", "as-row", `L${l}`);
      th.scope = "row";
      row.append(th);
      const cellsOfRow = [];
      for (let h = 0; h < nHead; h += 1) {
        const value = delta[l * nHead + h];
        const rgb = divergingRgb(value / this.range);
        const td = el("td");
        const cell = el("button", "as-cell");
        cell.type = "button";
        cell.style.background = css(rgb);
        cell.style.color = inkOn(rgb);
        cell.dataset.layer = String(l);
        cell.dataset.head = String(h);
        cell.dataset.delta = String(value);
        cell.tabIndex = l === this.focus.layer && h === this.focus.head ? 0 : -1;
        cell.setAttribute("aria-label", this.describe(l, h));
        cell.setAttribute("aria-pressed", String(this.selected.has(`${l}:${h}`)));
        cell.addEventListener("click", () => {
          this.moveTo(l, h, false);
          this.onPick(l, h);
        });
        cell.addEventListener("pointerenter", () => this.show(l, h));
        cell.addEventListener("focus", () => this.show(l, h));
        td.append(cell);
        row.append(td);
        cellsOfRow.push(cell);
      }
      this.cells.push(cellsOfRow);
      tbody.append(row);
    }
    this.table.replaceChildren(thead, tbody);
    this.table.setAttribute("aria-label", `Δ ln p of ${quoted(targetText)} for each head zeroed alone: rows are layers, columns heads`);
  }

  /** The sentence for one head: its Δ and the probability before and after. */
  describe(l, h) {
    const value = this.delta[l * this.nHead + h];
    const before = Math.exp(this.logProb);
    const after = Math.exp(this.logProb + value);
    return (
      `${headName(l, h)} zeroed: Δ ln p = ${fixed(value, 3)}, so p(${quoted(this.targetText)}) goes from ` +
      `${percentText(before)} to ${percentText(after)}` +
      (this.selected.has(`${l}:${h}`) ? " (in the ablated set)" : "")
    );
  }

  show(l, h) {
    this.readout.textContent = this.describe(l, h);
  }

  /** Mark the heads of the ablated set (keys "l:h"). */
  mark(selected) {
    this.selected = new Set(selected);
    this.cells.forEach((row, l) =>
      row.forEach((cell, h) => {
        cell.setAttribute("aria-pressed", String(this.selected.has(`${l}:${h}`)));
        cell.setAttribute("aria-label", this.describe(l, h));
      }),
    );
  }

  moveTo(l, h, focus = true) {
    if (!this.cells.length) return;
    const layer = Math.max(0, Math.min(this.nLayer - 1, l));
    const head = Math.max(0, Math.min(this.nHead - 1, h));
    this.cells[this.focus.layer][this.focus.head].tabIndex = -1;
    this.focus = { layer, head };
    const cell = this.cells[layer][head];
    cell.tabIndex = 0;
    if (focus) cell.focus();
  }

  onKey(event) {
    const { layer, head } = this.focus;
    const moves = {
      ArrowUp: [layer - 1, head],
      ArrowDown: [layer + 1, head],
      ArrowLeft: [layer, head - 1],
      ArrowRight: [layer, head + 1],
      Home: [layer, 0],
      End: [layer, this.nHead - 1],
    };
    const to = moves[event.key];
    if (!to) return;
    event.preventDefault();
    this.moveTo(to[0], to[1]);
  }
}
