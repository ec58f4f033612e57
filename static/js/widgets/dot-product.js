// Lesson 3's widget, "Dot-product lab on real vectors": the student's text goes to the model,
// the student picks two of its tokens, and the page takes the two embedding rows the reply
// carried and does the lesson's arithmetic on them in front of the student: the products
// dimension by dimension, their running sum ending at the dot product, the two lengths, the
// cosine, the same with unit vectors ("normalize first"), and each token's nearest tokens by
// cosine (those come from the server, which has the whole table).

import { visibleText } from "../format.js";
import { debounce } from "../lessons/lesson-client.js";
import { decodeTensor } from "../protocol.js";
import { tokenText } from "../trace-decode.js";
import { DotProductFigure } from "./dot-product-draw.js";
import {
  dot,
  el,
  fixed,
  legend,
  length,
  maxAbsOf,
  onResize,
  promptBox,
  rowsOf,
  showFailure,
  tokenLabel,
} from "./vector-kit.js";
import { TokenChips } from "./token-chips.js";

// the vector widgets choose on Enter or a click: a choice asks the model again
const VECTOR_CHIPS = { prefix: "vk", chipClass: "token vk-chip", pickOnArrow: false };

const DEFAULT_TEXT = "the king and the queen";
const NEIGHBOURS = 10;

/** Where a picked token is in new tokens: the same place if it still holds the same text,
 *  else the first token with that text, else the fallback. */
function keepPick(tokens, position, text, fallback) {
  if (text === null) return fallback;
  if (tokens[position] && tokens[position].text === text) return position;
  const found = tokens.findIndex((token) => token.text === text);
  return found >= 0 ? found : fallback;
}

function numberSpan(className, value) {
  const span = el("b", className, fixed(value));
  span.dataset.value = String(value);
  return span;
}

function line(...parts) {
  const p = el("p", "dp-line");
  for (const part of parts) p.append(typeof part === "string" ? document.createTextNode(part) : part);
  return p;
}

export function mount(root, lesson) {
  const state = { trace: null, a: 0, b: 0, aText: null, bText: null, normalised: false, seq: 0 };
  root.classList.add("dp");
  root.append(el("h3", "dp-title", "Dot-product lab on real vectors"));
  lesson.status(root, "running", "Asking the model…");

  const { label, input } = promptBox("Your text", DEFAULT_TEXT, "dp-prompt");
  const controls = el("div", "widget-controls dp-controls");
  controls.append(label);
  const pickA = new TokenChips("Vector a:", (position) => pick("a", position), VECTOR_CHIPS);
  const pickB = new TokenChips("Vector b:", (position) => pick("b", position), VECTOR_CHIPS);
  const toggle = el("button", "button small dp-normalise", "Normalize first");
  toggle.type = "button";
  toggle.setAttribute("aria-pressed", "false");
  toggle.title = "Divide each vector by its length before multiplying";
  const pickers = el("div", "dp-pickers");
  pickers.append(pickA.element, pickB.element, toggle);

  const figure = new DotProductFigure((i) => readDimension(i));
  const legends = el("div", "dp-legends");
  const readout = el("p", "dp-readout", "Point at the strips, or focus them and use the arrow keys, to read one dimension.");
  readout.setAttribute("aria-live", "polite");
  const numbers = el("div", "dp-numbers");
  const nearest = el("div", "dp-nearest");
  root.append(controls, pickers, figure.canvas, legends, readout, numbers, nearest);

  function pick(which, position) {
    state[which] = position;
    state[`${which}Text`] = state.trace.tokens[position].text;
    draw();
  }

  toggle.addEventListener("click", () => {
    state.normalised = !state.normalised;
    toggle.setAttribute("aria-pressed", String(state.normalised));
    if (state.trace) draw();
  });

  async function request() {
    state.seq += 1;
    const seq = state.seq;
    lesson.status(root, "running", "Asking the model…");
    try {
      const trace = await lesson.trace(
        { prompt: input.value, parts: ["token_embeddings", "neighbours"], top_k: NEIGHBOURS },
        { key: "dot-product" },
      );
      if (seq !== state.seq) return; // a newer request is on its way
      const tokens = trace.tokens;
      state.trace = trace;
      state.a = keepPick(tokens, state.a, state.aText, tokens.length > 2 ? 1 : 0);
      state.b = keepPick(tokens, state.b, state.bText, tokens.length - 1);
      state.aText = tokens[state.a].text;
      state.bText = tokens[state.b].text;
      root.lastTrace = trace; // for the browser tests and the curious
      draw();
    } catch (err) {
      if (seq === state.seq) showFailure(lesson, root, err);
    }
  }

  function vectors() {
    const rows = rowsOf(state.trace.tensors.token_embeddings);
    const a = rows[state.a];
    const b = rows[state.b];
    const la = length(a);
    const lb = length(b);
    const unitA = Float64Array.from(a, (v) => v / (la || 1));
    const unitB = Float64Array.from(b, (v) => v / (lb || 1));
    return { a, b, la, lb, unitA, unitB, dot: dot(a, b), unitDot: dot(unitA, unitB) };
  }

  function draw() {
    const trace = state.trace;
    const tokens = trace.tokens;
    pickA.set(tokens, state.a);
    pickB.set(tokens, state.b);
    const v = vectors();
    const shownA = state.normalised ? v.unitA : v.a;
    const shownB = state.normalised ? v.unitB : v.b;
    const textA = tokenLabel(tokens[state.a].text, 9);
    const textB = tokenLabel(tokens[state.b].text, 9);
    const hat = state.normalised ? "\u0302" : ""; // â, b̂: the unit vectors
    const vectorRange = maxAbsOf([shownA, shownB]);
    const products = Float64Array.from(shownA, (x, i) => x * shownB[i]);
    const productRange = maxAbsOf([products]);
    figure.set({
      a: shownA,
      b: shownB,
      labels: [`a${hat} ${textA}`, `b${hat} ${textB}`, `a${hat} × b${hat}`],
      vectorRange,
      productRange,
    });
    legends.replaceChildren(
      legend(vectorRange, state.normalised ? "â and b̂ (unit length), one cell per dimension" : "a and b, one cell per dimension"),
      legend(productRange, "the products, dimension by dimension"),
    );
    drawNumbers(v, textA, textB);
    drawNearest(trace);
    if (figure.cursor !== null) readDimension(figure.cursor);
    const n = shownA.length;
    lesson.status(root, "idle", `${tokens.length} tokens; each vector has ${n} numbers (model “${trace.model}”).`);
    lesson.drawn(root);
  }

  function drawNumbers(v, textA, textB) {
    const n = v.a.length;
    const cos = v.dot / (v.la * v.lb || 1);
    const angle = (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI;
    const terms = (x, y) => `${x}₀${y}₀ + ${x}₁${y}₁ + … (${n} products)`;
    const rows = [
      line(`a is ${textA}, b is ${textB}. Lengths: ‖a‖ = √(a · a) = `, numberSpan("dp-length-a", v.la), ", ‖b‖ = ", numberSpan("dp-length-b", v.lb), "."),
    ];
    if (state.normalised) {
      rows.push(
        line("Normalized: â = a / ‖a‖ and b̂ = b / ‖b‖ have length ", numberSpan("dp-unit-length", length(v.unitA)), " each; only their directions are left."),
        line(`Dot product of the unit vectors: â · b̂ = ${terms("â", "b̂")} = `, numberSpan("dp-dot", v.unitDot), "."),
      );
    } else {
      rows.push(line(`Dot product: a · b = ${terms("a", "b")} = `, numberSpan("dp-dot", v.dot), "."));
    }
    rows.push(
      line(
        "Cosine similarity: cos θ = a · b / (‖a‖ ‖b‖) = ",
        `${fixed(v.dot)} / (${fixed(v.la)} × ${fixed(v.lb)}) = `,
        numberSpan("dp-cosine", cos),
        `, an angle of about ${angle.toFixed(1)}°.`,
      ),
    );
    rows.push(
      state.normalised
        ? line("So the dot product of the unit vectors is the cosine: ", numberSpan("", v.unitDot), " = ", numberSpan("", cos), ".")
        : line("Switch on “Normalize first” to see the dot product of the unit vectors come out as the cosine."),
    );
    numbers.replaceChildren(...rows);
  }

  function drawNearest(trace) {
    const found = trace.raw.neighbours;
    if (!found) {
      nearest.replaceChildren(el("p", "dp-note", "This server sent no nearest neighbours (the trace part “neighbours” is missing)."));
      return;
    }
    const cosines = decodeTensor(found.cosines);
    const lists = [
      ["a", state.a, state.b],
      ["b", state.b, state.a],
    ].map(([name, position, other]) => {
      const ids = found.ids[position];
      const k = ids.length;
      const box = el("section", "dp-list");
      const heading = el("h4", "", `${k} nearest tokens by cosine to ${name} = `);
      heading.append(el("code", "dp-token", visibleText(trace.tokens[position].text)));
      const list = el("ol", "dp-neighbours");
      list.dataset.for = name;
      const otherId = trace.tokens[other].id;
      ids.forEach((id, i) => {
        const value = cosines.data[position * k + i];
        const item = el("li", id === otherId ? "is-other" : "");
        item.dataset.tokenId = String(id);
        item.dataset.cosine = String(value);
        const bar = el("span", "dp-bar");
        bar.style.setProperty("--w", `${Math.max(0, value) * 100}%`);
        item.append(el("code", "dp-token", visibleText(tokenText(trace, id))), bar, el("span", "dp-cos", fixed(value)));
        if (id === otherId) item.append(el("span", "dp-tag", `= ${name === "a" ? "b" : "a"}`));
        list.append(item);
      });
      box.append(heading, list);
      return box;
    });
    nearest.replaceChildren(...lists);
  }

  function readDimension(i) {
    if (!state.trace) return;
    const { a, b, products, sums } = figure.rows;
    const hat = state.normalised ? "\u0302" : "";
    readout.textContent =
      `Dimension ${i}: a${hat} = ${fixed(a[i])}, b${hat} = ${fixed(b[i])}, product ${fixed(products[i])}; ` +
      `running sum of dimensions 0 to ${i}: ${fixed(sums[i])}.`;
  }

  const redrawSoon = debounce(request, 150);
  input.addEventListener("input", redrawSoon);
  onResize(root, () => state.trace && figure.draw());
  request();
}
