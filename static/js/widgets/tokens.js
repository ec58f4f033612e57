// Lesson 2's "Token chips + BPE replay": the student's text cut into the model's own tokens
// as they type (each chip: text with spaces as ·, id, bytes in hex, partial characters
// marked; with the count and characters per token), a step-through replay of the merges
// that produced that split, a tiny BPE trained on a text of their own, and the same text
// in GPT-2's, GPT-4's and GPT-4o's tokenizers side by side.
//
// Tokenizing is not running the network, so this widget uses the tokenizer JSON API
// (webapp/tokenizers/views.py, POST /api/tokenizers/tokenize, /replay, /train) and sends
// no trace: the model's tokenizer and OpenAI's encodings all answer from one request.

import { debounce } from "../lessons/lesson-client.js";
import { count } from "../format.js";
import { listTokenizers, replay, tokenize } from "./tokens-api.js";
import { chipKeys, describeToken, el, renderChipRow } from "./tokens-draw.js";
import { ReplayView } from "./tokens-replay.js";
import { TrainView } from "./tokens-train.js";

const DEFAULT_TEXT = "Hello world! A café 🙂";
// GPT-2, GPT-4 and GPT-4o: the encodings the lesson compares ours with
const COMPARED = ["r50k_base", "cl100k_base", "o200k_base"];
const READOUT_HINT = "Point at a chip, or tab to the chips and use the arrow keys, to read one out.";

function section(title, intro) {
  const box = el("section", "tk-section");
  box.append(el("h3", "", title));
  if (intro) box.append(el("p", "tk-intro", intro));
  return box;
}

function plural(n, word) {
  return `${count(n)} ${word}${n === 1 ? "" : "s"}`;
}

/** One side-by-side row: who, how many tokens, the chips with their ids, the id list. */
function compareRow(result, vocabSize) {
  const row = el("section", "tk-compare-row");
  row.dataset.name = result.name;
  const head = el("div", "tk-compare-head");
  const name = el("strong", "", result.source === "model" ? `Ours: ${result.label}` : `${result.label} (${result.name})`);
  head.append(name);
  if (vocabSize) head.append(el("span", "tk-muted", ` · vocabulary ${count(vocabSize)}`));
  row.append(head);
  if (result.error) {
    row.dataset.state = "missing";
    row.append(el("p", "tk-compare-missing", result.error.message));
    return row;
  }
  row.dataset.state = "drawn";
  row.dataset.ids = result.tokens.map((t) => t.id).join(",");
  head.append(el("span", "tk-compare-count", ` ${plural(result.count, "token")} · ${result.chars_per_token} characters per token`));
  const chips = el("ol", "tk-chips tk-compare-chips");
  chips.setAttribute("aria-label", `${name.textContent}: the tokens`);
  renderChipRow(chips, result.tokens, { compact: true });
  chipKeys(chips);
  const ids = el("p", "tk-compare-ids");
  ids.append(el("span", "tk-muted", "IDs: "), el("code", "", `[${result.tokens.map((t) => t.id).join(", ")}]`));
  row.append(chips, ids);
  return row;
}

export async function mount(root, lesson) {
  root.classList.add("tk");
  const slug = lesson.model.slug;

  const controls = el("div", "widget-controls tk-controls");
  const promptLabel = el("label", "tk-prompt-label", "Your text (any language, emoji welcome)");
  const prompt = el("textarea", "tk-prompt");
  prompt.dataset.role = "prompt";
  prompt.rows = 2;
  prompt.spellcheck = false;
  prompt.value = DEFAULT_TEXT;
  promptLabel.append(prompt);
  controls.append(promptLabel);

  const chipsBox = section("The model's tokens");
  const summary = el("p", "tk-summary");
  const chips = el("ol", "tk-chips tk-main-chips");
  chips.setAttribute("aria-label", "Your text's tokens");
  const readout = el("p", "tk-readout", READOUT_HINT);
  readout.setAttribute("aria-live", "polite");
  const legend = el("p", "tk-legend");
  legend.append(
    "Each chip: the token's text (a space shows as ·, a newline as ↵), its ID, and its bytes in hexadecimal. ",
    el("span", "tk-key tk-key-partial"),
    " a dashed chip holds only part of a character. The shades only tell neighbouring chips apart.",
  );
  chipsBox.append(summary, chips, readout, legend);

  const replayBox = section(
    "Replay the merges",
    "The tokenizer starts from your text's bytes, one token each, and applies its merges in the order it learned them. Step through them to see how it arrives at the chips above.",
  );
  const replayView = new ReplayView(el("div", "tk-replay"));
  replayBox.append(replayView.box);

  const trainBox = section(
    "Train a tiny BPE",
    "Type a small training text: the trainer counts every pair of neighbouring symbols, merges the most frequent pair, and repeats.",
  );
  const compareBox = section("Real tokenizers side by side", "The same text in our tokenizer and in those of three well-known models.");
  const compareRows = el("div", "tk-compare");
  compareBox.append(compareRows);

  root.append(controls, chipsBox, replayBox, trainBox, compareBox);
  lesson.status(root, "idle", "");

  // the list says which encodings exist (installed or not), their sizes and the API's limits
  let listing = null;
  try {
    listing = await listTokenizers();
  } catch (err) {
    lesson.status(root, "error", err.message);
  }
  const known = new Map((listing?.encodings || []).map((e) => [e.name, e]));
  const compared = listing ? COMPARED.filter((name) => known.has(name)) : COMPARED;
  const train = new TrainView(el("div", "tk-train"), {
    maxMerges: listing?.limits?.train_merges ?? 30,
    onDrawn: () => lesson.drawn(root),
  });
  trainBox.append(train.box);

  const state = { sequence: 0, controller: null, tokens: [] };
  chipKeys(chips, (chip) => {
    const token = state.tokens[Number(chip.dataset.position)];
    if (token) readout.textContent = describeToken(token, Number(chip.dataset.position));
  });

  async function update() {
    state.sequence += 1;
    const mine = state.sequence;
    state.controller?.abort();
    state.controller = new AbortController();
    const { signal } = state.controller;
    const text = prompt.value;
    lesson.status(root, "running", "Tokenizing…");
    const [tokens, merges] = await Promise.allSettled([
      tokenize(text, slug, compared, signal),
      replay(text, slug, signal),
    ]);
    if (mine !== state.sequence) return; // a newer text is on its way
    if (tokens.status === "rejected") {
      lesson.status(root, "error", tokens.reason.message);
      return;
    }
    const results = tokens.value.results;
    const ours = results.find((r) => r.source === "model");
    if (ours.error) {
      lesson.status(root, "error", ours.error.message);
      return;
    }
    state.tokens = ours.tokens;
    summary.textContent = `${plural(ours.count, "token")} · ${plural(tokens.value.text_chars, "character")} · ${ours.chars_per_token} characters per token`;
    renderChipRow(chips, ours.tokens);
    chips.dataset.ids = ours.tokens.map((t) => t.id).join(",");
    readout.textContent = READOUT_HINT;

    if (merges.status === "fulfilled") replayView.set(merges.value, ours.tokens.map((t) => t.id));
    else replayView.fail(merges.reason.message);

    compareRows.replaceChildren(
      ...results.map((result) =>
        compareRow(result, result.source === "model" ? lesson.model.vocab_size : known.get(result.name)?.vocab_size),
      ),
    );
    lesson.status(root, "idle", "");
    lesson.drawn(root);
  }

  prompt.addEventListener("input", debounce(update, 150));
  await Promise.all([update(), train.run()]);
}
