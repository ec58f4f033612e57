// Lesson 13's "Score my sentence": the cross-entropy loss of the student's own text under the
// real model. One trace with the `token_losses` part: for every token after the first, the
// probability the model gave it from the tokens before it, −ln of that (its loss, in nats
// and bits), its rank among all tokens and the model's own top guess there; then the mean
// loss (the number training minimises) and the perplexity e^loss, set beside the model's
// loss on held-out text and the bigram model's from the model card, and ln V for a model
// that guesses uniformly.
//
// Every number comes from the reply or the lesson's facts; the page only converts nats to
// bits and picks colours.

import { css, inkOn, sequentialRgb } from "../colour-scales.js";
import { percent, visibleText } from "../format.js";
import { debounce } from "../lessons/lesson-client.js";
import { tokenText } from "../trace-decode.js";
import { arrowKeys, el } from "./next-token-draw.js";

const DEFAULT_PROMPT = "ROMEO.\nBut soft, what light through yonder window breaks?";
const KEY = "token-loss";
const LN2 = Math.log(2);

const fixed = (x, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : "–");

/** The reply's token_losses as one record per predicted token. */
export function lossRows(trace) {
  const losses = trace.raw.token_losses;
  return losses.positions.map((position, i) => ({
    position: position + 1, // the token being predicted
    token: trace.tokens[position + 1],
    nats: losses.nats[i],
    prob: losses.probs[i],
    rank: losses.ranks[i],
    top: { id: losses.top_ids[i], text: tokenText(trace, losses.top_ids[i]) },
  }));
}

function chip(token, row, scaleTop) {
  const item = el("li", "tl-chip");
  item.tabIndex = -1;
  item.dataset.position = String(row ? row.position : 0);
  item.append(el("span", "tl-chip-text", visibleText(token.text)));
  if (!row) {
    item.classList.add("tl-first");
    item.append(el("span", "tl-chip-loss", "first"));
    item.title = "The first token: nothing came before it, so there is no prediction to score.";
    return item;
  }
  const rgb = sequentialRgb(row.nats / scaleTop);
  item.style.background = css(rgb);
  item.style.color = inkOn(rgb);
  item.dataset.nats = String(row.nats);
  item.append(el("span", "tl-chip-loss", fixed(row.nats, 2)));
  item.setAttribute("aria-label", `${visibleText(token.text)}: loss ${fixed(row.nats, 2)} nats`);
  return item;
}

function detailFor(row) {
  if (!row) return "The first token has no loss: the model scores a token only from the ones before it.";
  const word = `“${visibleText(row.token.text)}”`;
  const guess = row.rank === 0 ? "It was the model's top guess." : `The model's top guess there was “${visibleText(row.top.text)}”; this token was number ${row.rank + 1}.`;
  return `Before ${word} the model gave it p = ${percent(row.prob)}. Loss = −ln p = ${fixed(row.nats)} nats = ${fixed(row.nats / LN2)} bits. ${guess}`;
}

export function mount(root, lesson) {
  root.classList.add("tl");
  const promptLabel = el("label", "tl-prompt-label", "Your sentence");
  const prompt = el("textarea", "tl-prompt");
  prompt.dataset.role = "prompt";
  prompt.rows = 2;
  prompt.spellcheck = false;
  prompt.value = DEFAULT_PROMPT;
  promptLabel.append(prompt);

  const summary = el("p", "tl-summary");
  summary.setAttribute("aria-live", "polite");
  const chips = el("ol", "tl-chips");
  chips.setAttribute("aria-label", "Each token coloured by its loss; arrow keys walk them");
  const detail = el("p", "tl-detail");
  const scale = el("p", "tl-scale");
  const legend = el("p", "tl-legend",
    "Darker = more surprising. The number under each token is its loss in nats. Focus or hover a token for its probability and the model's own guess.");
  root.append(promptLabel, summary, chips, detail, scale, legend);
  lesson.status(root, "idle", "");
  arrowKeys(chips, ".tl-chip");

  const vocab = lesson.facts.vocab_size;
  const uniform = Math.log(vocab);

  function draw(trace) {
    const rows = lossRows(trace);
    const losses = trace.raw.token_losses;
    // colour scale tops out at the uniform guesser's loss, so colours compare across texts
    const scaleTop = Math.max(uniform, ...rows.map((r) => r.nats));
    const byPosition = new Map(rows.map((r) => [r.position, r]));
    chips.replaceChildren(...trace.tokens.map((token, i) => chip(token, byPosition.get(i), scaleTop)));
    const first = chips.querySelector(".tl-chip:not(.tl-first)") || chips.firstElementChild;
    if (first) first.tabIndex = 0;
    const show = (item) => {
      detail.textContent = detailFor(byPosition.get(Number(item.dataset.position)));
    };
    chips.querySelectorAll(".tl-chip").forEach((item) => {
      item.addEventListener("focus", () => show(item));
      item.addEventListener("mouseenter", () => show(item));
    });
    if (rows.length === 0) {
      summary.textContent = "One token has nothing to score: type at least two.";
      detail.textContent = "";
    } else {
      const worst = rows.reduce((a, b) => (b.nats > a.nats ? b : a));
      summary.replaceChildren(
        "Mean loss ",
        el("strong", "tl-mean", `${fixed(losses.mean_nats)} nats`),
        ` per token (${fixed(losses.mean_nats / LN2)} bits) over ${rows.length} predictions · perplexity `,
        el("strong", "tl-perplexity", fixed(losses.perplexity, 1)),
      );
      detail.textContent = `Most surprising: ${detailFor(worst)}`;
    }
    const card = (value) => (typeof value === "number" ? `${fixed(value)} nats` : "unknown (no model card)");
    scale.textContent =
      `For scale: this model on plays it never saw, ${card(lesson.facts.val_loss)}; ` +
      `the bigram model, ${card(lesson.facts.bigram_loss)}; guessing uniformly among all ${vocab.toLocaleString("en")} tokens, ln ${vocab.toLocaleString("en")} = ${fixed(uniform)} nats; a perfect predictor, 0.`;
    root.lastTrace = trace;
    lesson.drawn(root);
  }

  async function run() {
    const text = prompt.value;
    if (!text.trim()) {
      lesson.status(root, "idle", "Type a sentence to score it.");
      return;
    }
    lesson.status(root, "running", "Scoring…");
    try {
      const trace = await lesson.trace({ prompt: text, parts: ["token_losses"], top_k: 1 }, { key: KEY });
      draw(trace);
      lesson.status(root, "idle", "");
    } catch (error) {
      if (error.superseded) return;
      lesson.status(root, "error", error.message);
    }
  }

  prompt.addEventListener("input", debounce(run, 150));
  run();
}
