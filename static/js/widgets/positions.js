// Lesson 5's widget, "Position explorer": what the first block of the model receives for the
// student's text, as three stacked heatmaps (one row per token): the token embeddings, the
// position embeddings, and their sum, which is the reply's residuals[0] (checked here, number
// by number, within float16 rounding). "Shuffle words" reorders the text: the token rows move
// with their words while the position rows stay where they are. Below, the model's whole
// learned position table and its cosine map, beside the sinusoidal table of 2017 that this
// model does not use (positions-tables.js).

import { visibleText } from "../format.js";
import { debounce } from "../lessons/lesson-client.js";
import { PositionTables } from "./positions-tables.js";
import { Grid } from "./vector-grid.js";
import { el, fixed, legend, maxAbsOf, onResize, promptBox, rowsOf, showFailure, tokenLabel } from "./vector-kit.js";

const DEFAULT_TEXT = "Dog chases cat";
const HALF_ULP = 2 ** -11; // float16 keeps 11 significant bits: rounding moves a number by at most this, relatively

function flat(rows) {
  const width = rows[0].length;
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, r) => out.set(row, r * width));
  return out;
}

/** token + position against the sum the model sent: the largest difference, and whether
 *  every number is within what rounding the three to float16 can explain. */
export function checkSum(tokenRows, positionRows, sumRows) {
  let largest = 0;
  let allowed = 0;
  let within = true;
  tokenRows.forEach((t, r) => {
    const p = positionRows[r];
    const s = sumRows[r];
    for (let c = 0; c < t.length; c += 1) {
      const difference = Math.abs(t[c] + p[c] - s[c]);
      const bound = HALF_ULP * (Math.abs(t[c]) + Math.abs(p[c]) + Math.abs(s[c])) + 2 ** -24;
      largest = Math.max(largest, difference);
      allowed = Math.max(allowed, bound);
      if (difference > bound) within = false;
    }
  });
  return { largest, allowed, within };
}

/** Which old row each new row came from: the same token, first unused match; else null. */
function movedFrom(oldIds, newIds) {
  const used = new Set();
  return newIds.map((id) => {
    const from = oldIds.findIndex((old, i) => old === id && !used.has(i));
    if (from < 0) return null;
    used.add(from);
    return from;
  });
}

function shuffled(words) {
  const out = [...words];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function mount(root, lesson) {
  const state = { trace: null, table: null, tableModel: null, before: null, seq: 0 };
  root.classList.add("pe");
  root.append(el("h3", "pe-title", "Position explorer"));
  lesson.status(root, "running", "Asking the model…");

  const { label, input } = promptBox("Your text", DEFAULT_TEXT, "pe-prompt");
  const shuffle = el("button", "button pe-shuffle", "Shuffle words");
  shuffle.type = "button";
  const controls = el("div", "widget-controls pe-controls");
  controls.append(label, shuffle);

  const readout = el("p", "pe-readout", "Point at a heatmap, or focus one and use the arrow keys: the same cell is read out in all three.");
  readout.setAttribute("aria-live", "polite");
  const grids = {};
  const titles = {
    token: "Token embeddings E[token]: one row per token, moving with its word",
    position: "Position embeddings P[position]: one row per position, whatever token sits there",
    sum: "Their sum E[token] + P[position]: the residual stream entering block 1 (residuals[0] in the reply)",
  };
  const stack = el("div", "pe-stack");
  for (const name of ["token", "position", "sum"]) {
    grids[name] = new Grid({ label: titles[name], rowHeight: 20, maxHeight: 260, onCursor: (cell) => readCell(cell) });
    grids[name].canvas.classList.add(`pe-grid-${name}`);
    stack.append(el("h4", "pe-subtitle", titles[name]), grids[name].canvas);
  }
  const stackLegend = el("div", "pe-legend");
  const check = el("p", "pe-check");
  const moved = el("p", "pe-moved");
  moved.setAttribute("aria-live", "polite");
  const tables = new PositionTables();
  root.append(controls, stack, stackLegend, readout, check, moved, el("h4", "pe-subtitle", "The whole position table"), tables.element);

  async function request() {
    state.seq += 1;
    const seq = state.seq;
    lesson.status(root, "running", "Asking the model…");
    // the whole table is the same for every prompt: asked for once per model
    const needTable = !state.table || state.tableModel !== lesson.model.slug;
    const parts = ["token_embeddings", "position_embeddings", "residuals"];
    if (needTable) parts.push("position_table");
    try {
      const trace = await lesson.trace({ prompt: input.value, parts }, { key: "positions" });
      if (seq !== state.seq) return; // a newer request is on its way
      if (trace.tensors.position_table) {
        state.table = trace.tensors.position_table;
        state.tableModel = lesson.model.slug;
      }
      root.lastTrace = trace; // for the browser tests and the curious
      const before = state.before;
      state.before = null;
      state.trace = trace;
      draw(before);
    } catch (err) {
      if (seq === state.seq) showFailure(lesson, root, err);
    }
  }

  function draw(before) {
    const trace = state.trace;
    const tokens = trace.tokens;
    const tokenRows = rowsOf(trace.tensors.token_embeddings);
    const positionRows = rowsOf(trace.tensors.position_embeddings);
    const sumRows = rowsOf(trace.tensors.residuals, 0);
    const range = maxAbsOf([...tokenRows, ...positionRows, ...sumRows]);
    const width = tokenRows[0].length;
    const words = tokens.map((t, i) => `${i} ${tokenLabel(t.text, 8)}`);
    const ids = tokens.map((t) => t.id);
    const from = before ? movedFrom(before.ids, ids) : null;
    const places = tokens.map((_, i) => `P[${i}]`);
    const labelChars = Math.max(...[...words, ...places].map((l) => Array.from(l).length)); // one column for all three
    const common = { rows: tokens.length, cols: width, range, labelChars };
    grids.token.set({ ...common, data: flat(tokenRows), rowLabels: words, moveFrom: from });
    grids.position.set({ ...common, data: flat(positionRows), rowLabels: places });
    grids.sum.set({ ...common, data: flat(sumRows), rowLabels: words });
    stackLegend.replaceChildren(legend(range, "one colour scale for all three heatmaps, one cell per dimension"));
    const cursor = grids.sum.cursor || grids.token.cursor || grids.position.cursor;
    if (cursor) readCell(cursor); // the numbers under the cursor are new

    const sum = checkSum(tokenRows, positionRows, sumRows);
    check.dataset.largest = String(sum.largest);
    check.dataset.within = String(sum.within);
    check.textContent =
      `Checked in this page for all ${tokens.length} × ${width} numbers: token + position = sum, ` +
      `largest difference ${sum.largest.toExponential(1)}` +
      (sum.within ? ", no more than rounding to float16 explains. ✓" : `, more than rounding to float16 explains (up to ${sum.allowed.toExponential(1)}). ✗`);
    moved.textContent = before ? describeMove(before, tokens, positionRows, from) : "";

    if (state.table) tables.set(state.table, tokens.length);
    lesson.status(root, "idle", `${tokens.length} tokens, ${width} numbers per row (model “${trace.model}”).`);
    lesson.drawn(root);
  }

  function describeMove(before, tokens, positionRows, from) {
    const moves = from
      .map((old, r) => (old !== null && old !== r ? `“${visibleText(tokens[r].text)}” ${old}→${r}` : null))
      .filter(Boolean);
    const parts = [moves.length ? `Token rows moved with their words: ${moves.join(", ")}.` : "No token row moved."];
    const fresh = from.filter((old) => old === null).length;
    if (fresh) parts.push(`${fresh} token${fresh === 1 ? " is" : "s are"} new: a word at the start has no space in front, so it can split into other tokens.`);
    const shared = Math.min(before.positions.length, positionRows.length);
    let change = 0;
    for (let r = 0; r < shared; r += 1) {
      for (let c = 0; c < positionRows[r].length; c += 1) change = Math.max(change, Math.abs(positionRows[r][c] - before.positions[r][c]));
    }
    parts.push(`The position rows stayed put: P[0] to P[${shared - 1}] are the same numbers as before (largest change ${fixed(change)}).`);
    if (before.positions.length !== positionRows.length) parts.push(`The text now has ${positionRows.length} tokens instead of ${before.positions.length}.`);
    return parts.join(" ");
  }

  function readCell({ r, c }) {
    for (const grid of Object.values(grids)) grid.showCursor({ r, c });
    const t = grids.token.value(r, c);
    const p = grids.position.value(r, c);
    const s = grids.sum.value(r, c);
    const text = visibleText(state.trace.tokens[r].text);
    readout.textContent = `Position ${r} (“${text}”), dimension ${c}: token ${fixed(t)} + position ${fixed(p)} = ${fixed(t + p)}; the sum the model sent: ${fixed(s)}.`;
  }

  shuffle.addEventListener("click", () => {
    const words = input.value.trim().split(/\s+/).filter(Boolean);
    if (words.length < 2 || new Set(words).size < 2) {
      moved.textContent = "Type at least two different words to shuffle.";
      return;
    }
    let order = shuffled(words);
    for (let tries = 0; tries < 20 && order.join(" ") === words.join(" "); tries += 1) order = shuffled(words);
    if (state.trace) {
      state.before = {
        ids: state.trace.tokens.map((t) => t.id),
        positions: rowsOf(state.trace.tensors.position_embeddings).map((row) => Float32Array.from(row)),
      };
    }
    input.value = order.join(" ");
    request();
  });
  input.addEventListener("input", debounce(() => {
    state.before = null;
    request();
  }, 150));
  onResize(root, () => {
    if (!state.trace) return;
    for (const grid of Object.values(grids)) grid.draw();
    tables.draw();
  });
  request();
}
