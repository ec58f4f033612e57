// The position explorer's second half: the model's whole learned position table P
// (block_size × C, from the reply) beside the sinusoidal table of the 2017 Transformer,
// computed here for the same size and labelled as not used by this model; under each, the
// block_size × block_size map of the cosine between every pair of positions, computed in
// the page. The pointer or the arrow keys read any cell out.

import { Grid } from "./vector-grid.js";
import { cosineMatrix, el, fixed, legend, maxAbsOf, quantileAbs, rowsOf } from "./vector-kit.js";

/** PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i + 1) = cos(pos / 10000^(2i/d)). */
export function sinusoidalTable(positions, d) {
  const table = new Float32Array(positions * d);
  for (let pos = 0; pos < positions; pos += 1) {
    for (let c = 0; c < d; c += 1) {
      const pair = Math.floor(c / 2);
      const angle = pos / 10000 ** ((2 * pair) / d);
      table[pos * d + c] = c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return table;
}

function rowsFromFlat(data, n, d) {
  return Array.from({ length: n }, (_, r) => data.subarray(r * d, (r + 1) * d));
}

function column(title, note) {
  const box = el("section", "pe-column");
  box.append(el("h4", "pe-column-title", title));
  if (note) box.append(el("p", "pe-note", note));
  return box;
}

export class PositionTables {
  constructor() {
    this.element = el("div", "pe-tables");
    this.learnedReadout = el("p", "pe-readout", "Point at a map, or focus it and use the arrow keys.");
    this.sineReadout = el("p", "pe-readout", "Point at a map, or focus it and use the arrow keys.");
    for (const readout of [this.learnedReadout, this.sineReadout]) readout.setAttribute("aria-live", "polite");
    this.promptLength = 0;
    this.source = null;

    const learned = column("Learned by this model: the position table P", "Each row is the vector added at one position; the model learned these numbers in training.");
    this.learnedTable = new Grid({
      label: "The learned position table, one row per position",
      maxHeight: 200,
      onCursor: ({ r, c }) => {
        this.learnedReadout.textContent = `P[${r}], dimension ${c}: ${fixed(this.learnedTable.value(r, c))}`;
      },
    });
    this.learnedCosine = new Grid({
      label: "Cosine between every pair of learned position vectors",
      square: true,
      onCursor: ({ r, c }) => {
        const inside = r < this.promptLength && c < this.promptLength ? " (both inside your text)" : "";
        this.learnedReadout.textContent = `cos(P[${r}], P[${c}]) = ${fixed(this.learnedCosine.value(r, c))}${inside}`;
      },
    });
    this.learnedLegend = el("div", "pe-legend");
    learned.append(this.learnedTable.canvas, this.learnedLegend, el("p", "pe-map-title", "cos(P[i], P[j]) for every pair of positions i (down) and j (across); your text's positions are outlined."), this.learnedCosine.canvas, this.learnedReadout);
    this.learnedCosine.canvas.classList.add("pe-cosine-learned");

    const sine = column("Sinusoidal positions of the 2017 Transformer: not used by this model", "PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)), computed in this page for the same size.");
    sine.classList.add("pe-not-used");
    this.sineTable = new Grid({
      label: "The sinusoidal position table (not used by this model)",
      maxHeight: 200,
      onCursor: ({ r, c }) => {
        const pair = Math.floor(c / 2);
        const f = c % 2 === 0 ? "sin" : "cos";
        this.sineReadout.textContent = `PE(${r}, ${c}) = ${f}(${r} / 10000^(${2 * pair}/${this.width})) = ${fixed(this.sineTable.value(r, c))}`;
      },
    });
    this.sineCosine = new Grid({
      label: "Cosine between every pair of sinusoidal position vectors (not used by this model)",
      square: true,
      onCursor: ({ r, c }) => {
        this.sineReadout.textContent = `cos(PE[${r}], PE[${c}]) = ${fixed(this.sineCosine.value(r, c))}`;
      },
    });
    this.sineLegend = el("div", "pe-legend");
    sine.append(this.sineTable.canvas, this.sineLegend, el("p", "pe-map-title", "cos(PE[i], PE[j]) for every pair of positions."), this.sineCosine.canvas, this.sineReadout);
    this.sineCosine.canvas.classList.add("pe-cosine-sine");

    this.cosineLegend = el("div", "pe-legend pe-cosine-legend");
    this.cosineLegend.append(legend(1, "cosine: 1 same direction, 0 unrelated, −1 opposite (both maps)"));
    this.element.append(learned, sine, this.cosineLegend);
  }

  /** table: the decoded position_table (block_size, C); promptLength: positions in use. */
  set(table, promptLength) {
    this.promptLength = promptLength;
    if (table !== this.source) {
      // the expensive part, once per table: block_size² cosines of C numbers
      this.source = table;
      const [n, d] = table.shape;
      this.width = d;
      // most of P is small next to a few large numbers: scale the colours to the 99th
      // percentile so that its structure shows, and say so in the legend
      const largest = maxAbsOf(rowsOf(table));
      this.learned = { n, d, data: table.data, range: quantileAbs(table.data, 0.99), largest, cosine: cosineMatrix(rowsOf(table)) };
      const sine = sinusoidalTable(n, d);
      this.sine = { data: sine, cosine: cosineMatrix(rowsFromFlat(sine, n, d)) };
      this.learnedLegend.replaceChildren(
        legend(this.learned.range, `P, one row per position (${n}), one cell per dimension (${d}); the 1% of numbers beyond ±${fixed(this.learned.range)} (up to ${fixed(this.learned.largest)}) get the full colour`),
      );
      this.sineLegend.replaceChildren(legend(1, `PE, the same ${n} × ${d} size, values from −1 to 1`));
      this.learnedTable.set({ rows: n, cols: d, data: table.data, range: this.learned.range });
      this.sineTable.set({ rows: n, cols: d, data: sine, range: 1 });
      this.sineCosine.set({ rows: n, cols: n, data: this.sine.cosine, range: 1 });
    }
    const { n } = this.learned;
    this.learnedCosine.set({ rows: n, cols: n, data: this.learned.cosine, range: 1, highlight: Math.min(promptLength, n) });
  }

  draw() {
    for (const grid of [this.learnedTable, this.learnedCosine, this.sineTable, this.sineCosine]) grid.draw();
  }
}
