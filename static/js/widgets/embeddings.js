// Lesson 4's widget, "Embedding explorer": the student's tokens as the rows the model looks up
// for them (one heat strip each), a map of those tokens and their nearest neighbours on the
// embedding table's two main directions, and the analogy A − B + C answered by the model's
// own table, with and without the input words, so that the student sees honestly that the
// nearest token is usually A itself. The server does what needs the whole table (neighbours,
// the map's coordinates, the analogy); the page draws what it sent.

import { visibleText } from "../format.js";
import { debounce } from "../lessons/lesson-client.js";
import { decodeTensor } from "../protocol.js";
import { tokenText } from "../trace-decode.js";
import { EmbeddingMap, mapCaption } from "./embeddings-map.js";
import { Grid } from "./vector-grid.js";
import { cosine, el, fixed, legend, maxAbsOf, onResize, promptBox, rowsOf, showFailure, tokenLabel } from "./vector-kit.js";

const DEFAULT_TEXT = "king queen prince sword love";
const DEFAULT_ANALOGY = { a: " king", b: " man", c: " woman" };
const NEIGHBOURS = 5;
const MAP_HINT = "Point at a dot, or focus the map and use the arrow keys, to see which token it is.";
const WORDS = [
  ["a", "A"],
  ["b", "− B"],
  ["c", "+ C"],
];

function isAnalogyProblem(err) {
  return err && err.code === "invalid_setting" && /analogy/i.test(err.message || "");
}

export function mount(root, lesson) {
  const state = { trace: null, analogyProblem: null, seq: 0 };
  root.classList.add("em");
  root.append(el("h3", "em-title", "Embedding explorer"));
  lesson.status(root, "running", "Asking the model…");

  const { label, input } = promptBox("Your text", DEFAULT_TEXT, "em-prompt");
  const controls = el("div", "widget-controls em-controls");
  controls.append(label);

  // -- the heat strips
  const stripsTitle = el("h4", "em-subtitle", "Each token's vector");
  const stripReadout = el("p", "em-readout", "Point at a strip, or focus it and use the arrow keys, to read a number.");
  stripReadout.setAttribute("aria-live", "polite");
  const strips = new Grid({
    label: "Each token's embedding vector as a strip of coloured cells",
    rowHeight: 22,
    maxHeight: 360,
    onCursor: ({ r, c }) => {
      const t = state.trace;
      stripReadout.textContent = `“${visibleText(t.tokens[r].text)}” (token id ${t.tokens[r].id}), dimension ${c}: ${fixed(strips.value(r, c))}`;
    },
  });
  const stripLegend = el("div", "em-legend");

  // -- the map
  const mapTitle = el("h4", "em-subtitle", `Your tokens and their ${NEIGHBOURS} nearest neighbours, on a flat map`);
  const mapReadout = el("p", "em-readout", MAP_HINT);
  mapReadout.setAttribute("aria-live", "polite");
  const map = new EmbeddingMap((point) => {
    mapReadout.textContent = point.detail;
  });
  const key = el("p", "em-key");
  key.innerHTML =
    '<span class="em-key-prompt">●</span> your tokens <span class="em-key-neighbour">●</span> their nearest neighbours ' +
    '<span class="em-key-analogy">◆</span> the analogy\'s tokens (when shown)';
  const showAnalogy = el("label", "em-check");
  const showBox = el("input");
  showBox.type = "checkbox";
  showAnalogy.append(showBox, document.createTextNode(" Show the analogy’s tokens on the map"));
  const caption = el("div", "em-caption-box");

  // -- the analogy
  const analogyBox = el("fieldset", "em-analogy");
  analogyBox.append(el("legend", "", "Analogy: A − B + C ≈ ?"));
  const wordRow = el("div", "em-words");
  const inputs = {};
  for (const [name, text] of WORDS) {
    const wordLabel = el("label", "em-word");
    const box = el("input");
    box.type = "text";
    box.value = DEFAULT_ANALOGY[name];
    box.spellcheck = false;
    box.autocomplete = "off";
    box.dataset.word = name;
    const shown = el("code", "em-word-shown", visibleText(box.value));
    box.addEventListener("input", () => {
      shown.textContent = visibleText(box.value);
      requestSoon();
    });
    wordLabel.append(el("span", "", text), box, shown);
    wordRow.append(wordLabel);
    inputs[name] = box;
  }
  const hint = el("p", "em-hint", "Each box must hold exactly one token. The space in front counts: “·king” (with a space) and “king” are different tokens.");
  const exclude = el("label", "em-check");
  const excludeBox = el("input");
  excludeBox.type = "checkbox";
  excludeBox.checked = true;
  exclude.append(excludeBox, document.createTextNode(" Exclude the input words A, B and C from the results"));
  const analogySummary = el("p", "em-analogy-summary");
  const analogyProblem = el("p", "em-analogy-problem");
  analogyProblem.setAttribute("role", "status");
  const results = el("ol", "em-results");
  analogyBox.append(wordRow, hint, exclude, analogyProblem, analogySummary, results);

  root.append(controls, stripsTitle, strips.canvas, stripLegend, stripReadout, mapTitle, map.svg, key, showAnalogy, mapReadout, caption, analogyBox);

  function analogyRequest() {
    const words = Object.fromEntries(WORDS.map(([name]) => [name, inputs[name].value]));
    return Object.values(words).every((w) => w.length > 0) ? words : null;
  }

  async function request() {
    state.seq += 1;
    const seq = state.seq;
    lesson.status(root, "running", "Asking the model…");
    const base = { prompt: input.value, parts: ["token_embeddings", "neighbours", "embedding_map"], top_k: NEIGHBOURS };
    const analogy = analogyRequest();
    let problem = analogy ? null : "Fill in A, B and C (one token each) to see the analogy.";
    let trace;
    try {
      try {
        trace = await lesson.trace(analogy ? { ...base, analogy } : base, { key: "embeddings" });
      } catch (err) {
        // a word that is not one token: say why, and draw the rest without the analogy
        if (!analogy || !isAnalogyProblem(err)) throw err;
        problem = err.message;
        trace = await lesson.trace(base, { key: "embeddings" });
      }
    } catch (err) {
      if (seq === state.seq) showFailure(lesson, root, err);
      return;
    }
    if (seq !== state.seq) return; // a newer request is on its way
    state.trace = trace;
    state.analogyProblem = problem;
    root.lastTrace = trace; // for the browser tests and the curious
    draw();
  }

  function draw() {
    const trace = state.trace;
    const tokens = trace.tokens;
    const rows = rowsOf(trace.tensors.token_embeddings);
    const range = maxAbsOf(rows);
    const width = rows[0].length;
    const flat = new Float32Array(rows.length * width);
    rows.forEach((row, r) => flat.set(row, r * width));
    strips.set({ rows: rows.length, cols: width, data: flat, range, rowLabels: tokens.map((t) => tokenLabel(t.text, 9)) });
    stripLegend.replaceChildren(legend(range, `one cell per dimension, ${width} per token`));
    if (strips.cursor) strips.onCursor(strips.cursor); // the numbers under the cursor are new
    drawMap(trace);
    drawAnalogy(trace);
    lesson.status(root, "idle", `${tokens.length} tokens, each looked up as a row of ${width} numbers (model “${trace.model}”).`);
    lesson.drawn(root);
  }

  function drawMap(trace) {
    const found = trace.raw.embedding_map;
    const near = trace.raw.neighbours;
    if (!found) {
      map.set([], []);
      caption.replaceChildren(el("p", "em-caption", "This server sent no map (the trace part “embedding_map” is missing)."));
      return;
    }
    const cosines = near ? cosineTable(near) : null;
    const positionsOf = new Map(); // token id → its positions in the text
    trace.tokens.forEach((t, i) => positionsOf.set(t.id, [...(positionsOf.get(t.id) || []), i]));
    const analogy = trace.raw.analogy;
    const points = found.points
      .filter((p) => p.kind !== "analogy" || showBox.checked)
      .map((p) => ({ ...p, label: visibleText(tokenText(trace, p.id)) }));
    const links = [];
    trace.tokens.forEach((t, i) => (near ? near.ids[i] : []).forEach((id) => links.push([t.id, id])));
    for (const p of points) p.detail = describe(p, trace, positionsOf, near, cosines, analogy);
    map.set(points, links);
    mapReadout.textContent = map.current !== null ? points[map.current].detail : MAP_HINT;
    caption.replaceChildren(mapCaption(found.explained, trace.dims.n_embd, trace.dims.vocab_size));
  }

  /** The neighbours' cosines as cosines[position][rank]. */
  function cosineTable(near) {
    const { shape, data } = decodeTensor(near.cosines);
    return near.ids.map((_, r) => Array.from(data.subarray(r * shape[1], (r + 1) * shape[1])));
  }

  function describe(p, trace, positionsOf, near, cosines, analogy) {
    const where = `map position (${fixed(p.x)}, ${fixed(p.y)})`;
    const quoted = `“${p.label}”`;
    if (p.kind === "prompt") {
      const at = positionsOf.get(p.id) || [];
      const first = at[0];
      const list = near && cosines ? near.ids[first].map((id, i) => `${visibleText(tokenText(trace, id))} ${fixed(cosines[first][i])}`).join(", ") : "";
      // cosines with the other tokens of the text, from the vectors the reply carried
      const rows = rowsOf(trace.tensors.token_embeddings);
      const others = [...new Map(trace.tokens.map((t, i) => [t.id, i])).entries()]
        .filter(([id]) => id !== p.id)
        .map(([, i]) => `${visibleText(trace.tokens[i].text)} ${fixed(cosine(rows[first], rows[i]))}`);
      const withOthers = others.length ? ` Cosine with your other tokens: ${others.join(", ")}.` : "";
      return `${quoted}: from your text (token ${at.join(", ")}), ${where}. Nearest by cosine: ${list}.${withOthers}`;
    }
    if (p.kind === "neighbour") {
      const of = [];
      trace.tokens.forEach((t, i) => {
        const k = near.ids[i].indexOf(p.id);
        if (k >= 0) of.push(`“${visibleText(t.text)}” (cosine ${fixed(cosines[i][k])})`);
      });
      return `${quoted}: a nearest neighbour of ${[...new Set(of)].join(" and ")}, ${where}.`;
    }
    const role = analogy ? { [analogy.a]: "A", [analogy.b]: "B", [analogy.c]: "C" }[p.id] : null;
    return `${quoted}: ${role ? `the analogy's ${role}` : "one of the analogy's results"}, ${where}.`;
  }

  function drawAnalogy(trace) {
    const analogy = trace.raw.analogy;
    analogyProblem.textContent = state.analogyProblem || "";
    analogyProblem.hidden = !state.analogyProblem;
    results.replaceChildren();
    analogySummary.textContent = "";
    if (!analogy) return;
    const role = { [analogy.a]: "A", [analogy.b]: "B", [analogy.c]: "C" };
    const name = (id) => `“${visibleText(tokenText(trace, id))}”`;
    const top = analogy.with_inputs[0];
    const itself = role[top.id];
    analogySummary.textContent =
      `${name(analogy.a)} − ${name(analogy.b)} + ${name(analogy.c)}: ` +
      `with the input words allowed, the nearest token is ${name(top.id)}` +
      (itself ? `, which is ${itself} itself` : ", which is not one of the input words") +
      ` (cosine ${fixed(top.cosine)}).` +
      (excludeBox.checked ? " Below, the inputs are left out, as the usual recipe does." : " Below, nothing is left out.");
    const list = excludeBox.checked ? analogy.without_inputs : analogy.with_inputs;
    results.dataset.excluded = String(excludeBox.checked);
    for (const found of list) {
      const item = el("li", role[found.id] ? "is-input" : "");
      item.dataset.tokenId = String(found.id);
      item.dataset.cosine = String(found.cosine);
      const bar = el("span", "em-bar");
      bar.style.setProperty("--w", `${Math.max(0, found.cosine) * 100}%`);
      item.append(el("code", "em-token", visibleText(found.text)), bar, el("span", "em-cos", fixed(found.cosine)));
      item.append(el("span", "em-tag", role[found.id] ? `= ${role[found.id]}` : ""));
      results.append(item);
    }
  }

  excludeBox.addEventListener("change", () => state.trace && draw());
  showBox.addEventListener("change", () => state.trace && draw());
  const requestSoon = debounce(request, 150);
  input.addEventListener("input", requestSoon);
  onResize(root, () => {
    if (!state.trace) return;
    strips.draw();
    map.draw();
  });
  request();
}
