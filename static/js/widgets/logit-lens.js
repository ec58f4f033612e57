// Lesson 10's "Logit-lens ladder": one trace of the student's text (parts logit_lens and
// logits) drawn as (1) a grid of what the stream would predict at every position if the
// model stopped after each layer (the final layer norm recomputed on that layer's stream,
// then the unembedding: the server does it, every rung); (2) the ladder of one chosen
// position, each rung's top tokens with their probabilities, the last rung marked as the
// real output and checked against the reply's logits; (3) a followed token's rank and
// probability on every rung (the request's lens_token, so following asks the model again);
// (4) all the logits of the last position, sorted, with their softmax, whose sum is stated.

import { debounce } from "../lessons/lesson-client.js";
import { count, visibleText } from "../format.js";
import { finalTop, lensRows, tokenText } from "../trace-decode.js";
import { TokenChips } from "./token-chips.js";
import { arrowKeys, el, label, renderGrid, renderLadder } from "./logit-lens-draw.js";
import { paintSorted, renderTopLogits, softmax } from "./logit-lens-logits.js";

const DEFAULT_PROMPT = "To be, or not to";
const KEY = "logit-lens";
const TOP_K = 10; // per rung and position in the reply
const LADDER_K = 5; // shown per rung
const FOLLOW_FINAL = "";

function tiedSentence(dims) {
  if (dims.tied_embedding === true) {
    return (
      "In this model the unembedding is tied to the token embedding: it is the same " +
      `${count(dims.vocab_size)} × ${count(dims.n_embd)} table, read backwards, so a token's logit is the final ` +
      "vector's dot product with that token's own embedding row."
    );
  }
  if (dims.tied_embedding === false) {
    return "This model has its own unembedding matrix, separate from its token embedding table.";
  }
  return "";
}

export function mount(root, lesson) {
  root.classList.add("ll");
  const controls = el("div", "widget-controls ll-controls");
  const promptLabel = el("label", "ll-prompt");
  promptLabel.append(el("span", "", "Your text"));
  const prompt = el("input");
  prompt.type = "text";
  prompt.value = DEFAULT_PROMPT;
  prompt.spellcheck = false;
  prompt.autocomplete = "off";
  prompt.dataset.role = "prompt";
  promptLabel.append(prompt);
  const followLabel = el("label", "ll-follow");
  followLabel.append(el("span", "", "Follow a token"));
  const follow = el("select");
  followLabel.append(follow);
  controls.append(promptLabel, followLabel);

  const state = { trace: null, position: null, follow: null, columns: null };
  const chips = new TokenChips("Predict after", (position) => {
    state.position = position;
    drawChosen();
    lesson.drawn(root);
  }, { prefix: "ll" });

  const tied = el("p", "ll-tied");
  const gridTitle = el("h3", "", "What each layer would already predict, at every position");
  const gridBox = el("div", "ll-table-box");
  gridBox.tabIndex = 0;
  gridBox.setAttribute("role", "region");
  gridBox.setAttribute("aria-label", "The logit lens: one row per layer, one column per position");
  const grid = el("table", "ll-grid");
  gridBox.append(grid);
  const gridNote = el("p", "ll-note");
  const ladderTitle = el("h3");
  const ladder = el("ol", "ll-ladder");
  ladder.setAttribute("aria-label", "The ladder: each layer's top tokens; Enter follows one");
  const outputCheck = el("p", "ll-check");
  const logitsTitle = el("h3");
  const sorted = el("canvas", "ll-sorted");
  sorted.setAttribute("role", "img");
  const topLogits = el("ol", "ll-logits");
  topLogits.setAttribute("aria-label", "The largest logits of the last position and their probabilities");
  const sumLine = el("p", "ll-sum");

  root.append(
    tied,
    controls,
    chips.element,
    gridTitle,
    gridBox,
    gridNote,
    ladderTitle,
    ladder,
    outputCheck,
    logitsTitle,
    sorted,
    topLogits,
    sumLine,
  );
  lesson.status(root, "idle", "");
  arrowKeys(ladder, "button.ll-top");

  grid.addEventListener("click", (event) => {
    const cell = event.target.closest("[data-position]");
    if (!cell) return;
    state.position = Number(cell.dataset.position);
    drawChosen();
    lesson.drawn(root);
  });
  ladder.addEventListener("click", (event) => {
    const button = event.target.closest("button.ll-top");
    if (!button) return;
    state.follow = Number(button.dataset.tokenId);
    run();
  });
  follow.addEventListener("change", () => {
    state.follow = follow.value === FOLLOW_FINAL ? null : Number(follow.value);
    run();
  });

  function fillFollow(trace, rows) {
    const options = [[FOLLOW_FINAL, "the model's final top token at each position"]];
    const seen = new Set();
    const add = (id, words) => {
      if (seen.has(id)) return;
      seen.add(id);
      options.push([String(id), words]);
    };
    const t = state.position;
    if (state.follow !== null) add(state.follow, `“${visibleText(tokenText(trace, state.follow))}” (followed now)`);
    if (t + 1 < trace.tokens.length) add(trace.tokens[t + 1].id, `“${visibleText(trace.tokens[t + 1].text)}”, the text's real next token`);
    for (const row of rows) for (const c of row.top) add(c.id, `“${visibleText(c.text)}”`);
    follow.replaceChildren(
      ...options.map(([value, text]) => {
        const option = el("option", "", text);
        option.value = value;
        return option;
      }),
    );
    follow.value = state.follow === null ? FOLLOW_FINAL : String(state.follow);
  }

  function drawChosen() {
    const trace = state.trace;
    const t = state.position;
    chips.set(trace.tokens, t);
    for (const cell of grid.querySelectorAll("[data-position]")) {
      cell.classList.toggle("ll-picked", Number(cell.dataset.position) === t);
    }
    const rows = state.columns[t];
    const token = trace.tokens[t];
    const followedId = rows[0].target.id;
    const followedText = tokenText(trace, followedId);
    ladderTitle.textContent = `The ladder after “${visibleText(token.text)}” (position ${t}), following “${visibleText(followedText)}”`;
    const refocus = ladder.contains(document.activeElement);
    renderLadder(ladder, rows, followedText);
    if (refocus) ladder.querySelector("button.ll-top")?.focus();
    fillFollow(trace, rows);

    // the last rung is the model's output: the same tokens as the reply's own logits
    const output = finalTop(trace, trace.positions[t]).slice(0, LADDER_K);
    const lastRung = rows[rows.length - 1].top;
    const same = output.length === lastRung.length && output.every((c, i) => c.id === lastRung[i].id);
    outputCheck.textContent =
      `${same ? "✓" : "✗"} The last rung ${same ? "equals" : "differs from"} the model's real output ` +
      `(the reply's logits): ${output.map((c) => `“${label(c.text)}”`).join(", ")}.`;
    outputCheck.dataset.same = String(same);
    root.lensView = {
      position: t,
      followed: followedId,
      requestedFollow: state.follow,
      rows: rows.map((r) => ({ point: r.point, top: r.top.map((c) => [c.id, c.prob]), rank: r.target.rank, prob: r.target.prob })),
      output: output.map((c) => c.id),
      same,
    };
  }

  function drawLogits(trace) {
    const logits = trace.logits.last.data;
    const result = softmax(logits);
    const lastToken = trace.tokens[trace.tokens.length - 1];
    logitsTitle.textContent = `All ${count(logits.length)} logits after the last token, “${visibleText(lastToken.text)}”, and their softmax`;
    paintSorted(sorted, logits, result);
    sorted.setAttribute(
      "aria-label",
      `The ${count(logits.length)} logits sorted from ${result.max.toFixed(2)} down to ${result.min.toFixed(2)}, and their probabilities`,
    );
    renderTopLogits(topLogits, logits, result, (id) => tokenText(trace, id));
    sumLine.textContent =
      `p_i = e^(z_i − max z) / Σ_j e^(z_j − max z), computed in this page from the ${count(logits.length)} logits the server sent: ` +
      `the probabilities sum to ${result.sum.toFixed(6)} = 1. The logits themselves are any real numbers ` +
      `(here from ${result.min.toFixed(2)} to ${result.max.toFixed(2)}) and sum to nothing in particular.`;
    root.lensLogits = { sum: result.sum, order: result.order.slice(0, TOP_K), max: result.max, min: result.min };
  }

  function draw(trace) {
    state.trace = trace;
    const n = trace.tokens.length;
    if (state.position === null || state.position >= n || state.wasLast) state.position = n - 1;
    state.columns = trace.positions.map((p) => lensRows(trace, p, LADDER_K));
    renderGrid(grid, trace.tokens, state.columns, state.position);
    const rungs = state.columns[0].length;
    gridNote.textContent =
      `Rows: the ${rungs} rungs, from the embeddings (top) to after the last layer (bottom), which is the model's output. ` +
      "Each cell: the token that rung ranks first as the next token after that column's token, darker = more probable. " +
      "Every rung goes through the final layer norm again, with the mean and std of its own stream, then the unembedding. " +
      "Click a cell or choose a token above for its ladder.";
    tied.textContent = tiedSentence(trace.dims);
    root.lastTrace = trace;
    drawLogits(trace);
    drawChosen();
  }

  async function run() {
    lesson.status(root, "running", "Running the model…");
    try {
      const request = { prompt: prompt.value, parts: ["logit_lens", "logits"], top_k: TOP_K, lens_token: state.follow };
      const trace = await lesson.trace(request, { key: KEY });
      state.wasLast = state.trace === null || state.position === state.trace.tokens.length - 1;
      draw(trace);
      const forward = trace.elapsedMs?.forward;
      lesson.status(root, "idle", forward !== undefined ? `One forward pass: ${forward.toFixed(1)} ms on the server.` : "");
      lesson.drawn(root);
    } catch (err) {
      if (err.superseded) return;
      lesson.status(root, "error", err.message || String(err));
    }
  }

  prompt.addEventListener("input", debounce(run, 150));
  return run();
}
