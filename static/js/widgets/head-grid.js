// Lesson 7's widget, "Head grid": one trace of the student's text (attention, head_outputs
// and attn_out for every layer and head) drawn as an n_layer × n_head grid of small
// attention maps, each labelled with three pattern scores worked out here from its weights
// (previous-token, first-token, self), a control that highlights the strongest head for a
// pattern, a large map and a token-to-token line view of the chosen head, and "heads add
// up": the size of each head's contribution at one token, and the check that the heads'
// contributions plus the output bias are the attention block's output.

import { debounce } from "../lessons/lesson-client.js";
import { tensorSlice } from "../protocol.js";
import {
  block,
  el,
  fixed,
  legend,
  norm,
  onResize,
  patternScores,
  promptBox,
  quoted,
  showFailure,
  sizeWords,
  tokenLabel,
  tokensWord,
} from "./attention-head-kit.js";
import { TokenChips } from "./token-chips.js";
import { LineView } from "./attention-head-lines.js";
import { MatrixView } from "./attention-head-views.js";
import { HeadGrid, PATTERNS, renderNormBars } from "./head-grid-draw.js";

const DEFAULT_TEXT = "But soft, what light through yonder window breaks? It is the east, and Juliet is the sun.";
const TOKEN_LIMIT = 48; // drawn, at most; fewer for a model whose reply would be too big
const REPLY_BUDGET = 6e6; // bytes: well under the server's 8 MB limit
const PARTS = ["attention", "head_outputs", "attn_out"];

/** The reply's rough size for T tokens: attention (L,H,T,T), head_outputs (L,H,T,C), attn_out (L,T,C), base64 float16. */
function replyBytes(model, tokens) {
  const { n_layer: L, n_head: H, n_embd: C } = model;
  return (4 / 3) * 2 * (L * H * tokens * tokens + L * H * tokens * C + L * tokens * C);
}

/** The most tokens whose reply fits the budget (binary search over a growing function). */
function fittingTokens(model, cap) {
  let low = 1;
  let high = cap;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (replyBytes(model, mid) <= REPLY_BUDGET) low = mid;
    else high = mid - 1;
  }
  return low;
}

export function mount(root, lesson) {
  const model = lesson.model;
  const limit = fittingTokens(model, TOKEN_LIMIT);
  // one character can be no less than one token for ordinary text, so this many keep the reply small
  const fitting = fittingTokens(model, 400);
  const maxChars = fitting >= 20 ? Math.floor(fitting / 10) * 10 : fitting; // a round number to print
  const state = { trace: null, n: 0, maps: null, scores: null, selected: { layer: 0, head: 0 }, token: null, seq: 0 };
  root.classList.add("hg");
  root.append(el("h3", "hg-title", "Head grid"));
  lesson.status(root, "running", "Asking the model…");

  const { label: promptLabel, input } = promptBox(`Your text (up to ${maxChars} characters)`, DEFAULT_TEXT, {
    className: "ah-prompt hg-prompt",
    maxLength: maxChars,
  });
  input.value = DEFAULT_TEXT.slice(0, maxChars);
  const sortLabel = el("label", "hg-sort-label");
  sortLabel.append(el("span", "", "Sort / highlight by"));
  const sort = el("select", "hg-sort");
  for (const [key, p] of Object.entries(PATTERNS)) {
    const option = el("option", "", `${p.name} score`);
    option.value = key;
    sort.append(option);
  }
  sortLabel.append(sort);
  const controls = el("div", "widget-controls ah-controls hg-controls");
  controls.append(promptLabel, sortLabel);
  const note = el("p", "ah-note hg-note");
  const ranking = el("div", "hg-ranking");
  const grid = new HeadGrid(model.n_layer, model.n_head, (layer, head) => select(layer, head));
  const gridBox = el("div", "hg-grid-box");
  gridBox.append(grid.element);
  const gridLegend = legend("weights", 1, "attention weight (each row of a map: one query token; pale grey: the masked future)");

  // the chosen head, large
  const detail = el("section", "hg-detail");
  const detailTitle = el("h4", "hg-detail-title");
  const detailScores = el("p", "ah-caption hg-detail-scores");
  const bigMap = new MatrixView({
    label: "The chosen head's attention map",
    kind: "weights",
    describe: (r, c, value, masked) =>
      masked
        ? `${token(r)} cannot see ${token(c)}: it comes later (weight 0).`
        : `${token(r)} reads ${fixed(value * 100, 1)}% of its mix from ${token(c)} (weight ${fixed(value)}).`,
    onRow: (r) => showLines(r),
    onPick: (r) => pickToken(r),
  });
  const lines = new LineView({ label: "Lines from each query token to the key tokens it reads", onRow: (r) => showLines(r) });
  lines.canvas.addEventListener("pointerleave", () => showLines(null));
  lines.canvas.addEventListener("blur", () => showLines(null));
  const linesCaption = el("p", "ah-caption");
  const mapBox = el("div", "hg-detail-map");
  mapBox.append(bigMap.element);
  const linesBox = el("div", "hg-detail-lines");
  linesBox.append(linesCaption, lines.canvas);
  const detailBody = el("div", "hg-detail-body");
  detailBody.append(mapBox, linesBox);
  detail.append(detailTitle, detailScores, detailBody);

  // heads add up
  const adds = el("section", "hg-adds");
  const addsTitle = el("h4", "hg-adds-title");
  const picker = new TokenChips("At token:", (position) => pickToken(position), { prefix: "ah", className: "hg-token" });
  const addsCaption = el("p", "ah-caption");
  const bars = el("ol", "hg-bars");
  const check = el("p", "hg-check");
  adds.append(addsTitle, picker.element, addsCaption, bars, check);

  root.append(controls, note, ranking, gridBox, gridLegend, detail, adds);

  const token = (i) => `${quoted(state.trace.tokens[i].text)} (${i})`;

  function select(layer, head) {
    state.selected = { layer, head };
    draw();
  }

  function pickToken(position) {
    state.token = Math.max(0, Math.min(state.n - 1, position));
    draw();
  }

  function showLines(row) {
    if (!state.maps) return;
    const { layer, head } = state.selected;
    const labels = Array.from({ length: state.n }, (_, i) => tokenLabel(state.trace.tokens[i].text, 7));
    const focus = row ?? state.token;
    lines.set({ n: state.n, labels, weights: state.maps[layer][head], focus });
    linesCaption.textContent =
      `Query tokens on the left, key tokens on the right; each line is as wide as the weight. Shown: the row of ${token(focus)}` +
      `${row === null ? "; point at a row of the map, or use the arrow keys here, for another" : ""}.`;
  }

  async function request() {
    state.seq += 1;
    const seq = state.seq;
    lesson.status(root, "running", "Asking the model…");
    try {
      const trace = await lesson.trace({ prompt: input.value, parts: PARTS, layers: "all", heads: "all" }, { key: "head-grid" });
      if (seq !== state.seq) return;
      const first = !state.trace;
      prepare(trace);
      if (first) {
        const best = strongest(sort.value)[0]; // start on a head that shows something
        state.selected = { layer: best.layer, head: best.head };
      }
      draw();
    } catch (err) {
      if (seq === state.seq) showFailure(lesson, root, err);
    }
  }

  /** Cut every map to the first n tokens (exact: the mask keeps them from seeing later ones) and score it. */
  function prepare(trace) {
    const previousText = state.trace && state.token !== null ? state.trace.tokens[state.token]?.text : null;
    state.trace = trace;
    root.lastTrace = trace; // for the browser tests and the curious
    const n = Math.min(trace.tokens.length, limit);
    state.n = n;
    const attention = trace.tensors.attention;
    const cols = attention.shape[3];
    state.maps = trace.layers.map((_, l) => trace.heads.map((__, h) => block(tensorSlice(attention, l, h), cols, n)));
    state.scores = state.maps.map((perHead) => perHead.map((map) => patternScores(map, n)));
    const keep = state.token !== null && state.token < n && trace.tokens[state.token].text === previousText;
    if (!keep) state.token = n - 1;
  }

  function strongest(pattern) {
    const all = [];
    state.scores.forEach((perHead, layer) => perHead.forEach((s, head) => all.push({ layer, head, value: s[pattern] ?? 0 })));
    return all.sort((a, b) => b.value - a.value);
  }

  function draw() {
    const trace = state.trace;
    if (!trace) return;
    const { n } = state;
    const pattern = sort.value;
    const ranked = strongest(pattern);
    const best = ranked[0];
    const p = PATTERNS[pattern];
    const { layer, head } = state.selected;
    root.dataset.layer = String(layer);
    root.dataset.tokens = String(n);
    root.dataset.head = String(head);
    root.dataset.token = String(state.token);
    grid.set({ maps: state.maps, scores: state.scores, n, selected: state.selected, pattern, best });

    note.textContent =
      (trace.tokens.length > n
        ? `Your text is ${tokensWord(trace.tokens.length)}; the first ${n} are drawn, to keep the reply small (these rows do not depend on later tokens). `
        : `${tokensWord(n)}, ${trace.dims.n_layer} layers × ${trace.dims.n_head} heads (the grid draws at most ${limit} tokens, to keep the reply small). `) +
      (n < 2
        ? "With one token there is nothing else to read: every head gives it all its weight."
        : `A small model's heads are mostly diffuse: the strongest ${p.name} head here scores ${fixed(best.value, 2)}, ` +
          "where 1 would mean every token reads from that one place only.");

    ranking.replaceChildren(el("span", "hg-ranking-label", `Strongest ${p.name} heads (${p.what}):`));
    for (const r of ranked.slice(0, 5)) {
      const b = el("button", "hg-rank", `L${r.layer} H${r.head} ${fixed(r.value, 2)}`);
      b.type = "button";
      b.dataset.layer = String(r.layer);
      b.dataset.head = String(r.head);
      b.setAttribute("aria-label", `Open layer ${r.layer}, head ${r.head}: ${p.name} score ${fixed(r.value, 2)}`);
      b.addEventListener("click", () => select(r.layer, r.head));
      ranking.append(b);
    }

    // the chosen head
    const s = state.scores[layer][head];
    detailTitle.textContent = `Layer ${layer}, head ${head}`;
    detailScores.textContent =
      `previous-token ${fixed(s.previous, 3)} · first-token ${fixed(s.first, 3)} · self ${fixed(s.self, 3)} ` +
      `(means over the rows, worked out here from the weights). A high weight shows where a token read from, not why.`;
    const labels = Array.from({ length: n }, (_, i) => tokenLabel(trace.tokens[i].text, 6));
    bigMap.set({ rows: n, cols: n, data: state.maps[layer][head], rowLabels: labels, colLabels: labels, mask: "future", picked: state.token });
    showLines(bigMap.hoverRow);

    drawAdds(layer);
    lesson.status(
      root,
      "idle",
      `${tokensWord(trace.tokens.length)}; all ${trace.layers.length * trace.heads.length} heads in one reply of ${sizeWords(trace.bytes)} (model “${trace.model}”).`,
    );
    lesson.drawn(root);
  }

  function drawAdds(layer) {
    const trace = state.trace;
    const t = state.token;
    const { head_outputs: outputs, attn_out: attnOut, attn_out_bias: bias } = trace.tensors;
    picker.set(trace.tokens.slice(0, state.n), t);
    addsTitle.textContent = `Heads add up: layer ${layer}, at ${token(t)}`;
    const contributions = trace.heads.map((_, h) => tensorSlice(outputs, layer, h, t));
    const b = tensorSlice(bias, layer);
    const out = tensorSlice(attnOut, layer, t);
    const sum = Float64Array.from(b);
    for (const c of contributions) for (let d = 0; d < sum.length; d += 1) sum[d] += c[d];
    let largest = 0;
    for (let d = 0; d < sum.length; d += 1) largest = Math.max(largest, Math.abs(sum[d] - out[d]));
    renderNormBars(bars, [
      ...contributions.map((c, h) => ({ label: `head ${h}`, value: norm(c), kind: h === state.selected.head ? "is-chosen" : "" })),
      { label: "bias b", value: norm(b), kind: "is-bias" },
      { label: "attn_out", value: norm(out), kind: "is-total" },
    ]);
    addsCaption.textContent =
      `The length ‖·‖ of what each head writes into the ${sum.length}-number residual stream at this token ` +
      `(its output z times its slice of the output matrix W_O), then the output bias, and the attention block's output.`;
    check.dataset.difference = String(largest);
    check.textContent = `max |Σ heads + b − attn_out| = ${fixed(largest, largest < 1e-3 ? 5 : 4)} over the ${sum.length} numbers (float16 on the wire, so not exactly 0).`;
  }

  sort.addEventListener("change", () => {
    if (!state.trace) return;
    const best = strongest(sort.value)[0];
    select(best.layer, best.head); // the strongest head for the new pattern opens at once
  });
  input.addEventListener("input", debounce(request, 150));
  onResize(root, () => state.trace && draw());
  request();
}
