// "Train a tiny BPE" for lesson 2's tokens widget: the student's own training text, learned
// merge by merge. For each step: the most frequent adjacent pairs with their counts, the
// pair chosen, and the whole text as symbols afterwards; ◀ ▶, a slider, or a merge in the
// learned list picks the step. Trained by POST /api/tokenizers/train (inference/toy_bpe.py),
// on characters rather than bytes so that the symbols stay readable.

import { debounce } from "../lessons/lesson-client.js";
import { css, sequentialRgb } from "../colour-scales.js";
import { count, visibleText } from "../format.js";
import { train } from "./tokens-api.js";
import { CHIP_SHADES, el, quoted } from "./tokens-draw.js";

const DEFAULT_TEXT = "low lower lowest newer wider new low";
const DEFAULT_MERGES = 6;
const BAR_COLOUR = css(sequentialRgb(0.6));
const STOPPED = {
  merges: (n) => `Stopped after the ${count(n)} merges asked for.`,
  no_repeated_pair: (n) => `Stopped after ${count(n)} merge${n === 1 ? "" : "s"}: no pair occurs twice any more, so merging would learn nothing.`,
  no_pairs: (n) => `Stopped after ${count(n)} merge${n === 1 ? "" : "s"}: every word is a single symbol now.`,
};

function button(text, label) {
  const node = el("button", "button small", text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  return node;
}

function symbolRow(list, symbols, fresh) {
  list.replaceChildren();
  symbols.forEach((symbol, i) => {
    const node = el("li", `tk-symbol${symbol === fresh ? " tk-merged" : ""}`, visibleText(symbol));
    node.style.background = CHIP_SHADES[i % CHIP_SHADES.length];
    list.append(node);
  });
}

export class TrainView {
  constructor(box, { maxMerges = 30, onDrawn = () => {} } = {}) {
    this.box = box;
    this.onDrawn = onDrawn;
    this.result = null;
    this.position = 0;
    this.sequence = 0;
    this.controller = null;

    const inputs = el("div", "widget-controls tk-train-inputs");
    const textLabel = el("label", "tk-train-text", "Training text");
    this.text = el("textarea");
    this.text.rows = 2;
    this.text.spellcheck = false;
    this.text.value = DEFAULT_TEXT;
    textLabel.append(this.text);
    const mergesLabel = el("label", "tk-train-merges", "Merges");
    this.merges = el("input");
    this.merges.type = "number";
    this.merges.min = "1";
    this.merges.max = String(maxMerges);
    this.merges.value = String(Math.min(DEFAULT_MERGES, maxMerges));
    mergesLabel.append(this.merges);
    inputs.append(textLabel, mergesLabel);

    const controls = el("div", "tk-replay-controls");
    this.back = button("◀", "Previous merge");
    this.forward = button("▶", "Next merge");
    const sliderLabel = el("label", "tk-replay-slider");
    this.slider = el("input");
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.value = "0";
    sliderLabel.append(el("span", "tk-visually-hidden", "Training step"), this.slider);
    this.stepText = el("span", "tk-replay-step");
    controls.append(this.back, sliderLabel, this.forward, this.stepText);

    this.caption = el("p", "tk-replay-caption tk-train-caption");
    this.caption.setAttribute("aria-live", "polite");
    const columns = el("div", "tk-train-columns");
    const pairsBox = el("div", "tk-train-pairs");
    this.pairsTitle = el("h4", "", "Pair counts");
    this.pairs = el("ol", "tk-pairs");
    pairsBox.append(this.pairsTitle, this.pairs);
    const textBox = el("div", "tk-train-symbols");
    this.symbolsTitle = el("h4", "", "The text as symbols");
    this.symbols = el("ol", "tk-symbols");
    textBox.append(this.symbolsTitle, this.symbols);
    columns.append(pairsBox, textBox);
    const vocabTitle = el("h4", "", "Merges learned, in order (pick one to see its step)");
    this.vocab = el("ol", "tk-vocab");
    this.note = el("p", "tk-train-note");

    box.append(inputs, controls, this.caption, columns, vocabTitle, this.vocab, this.note);

    this.back.addEventListener("click", () => this.go(this.position - 1));
    this.forward.addEventListener("click", () => this.go(this.position + 1));
    this.slider.addEventListener("input", () => this.go(Number(this.slider.value)));
    this.vocab.addEventListener("click", (event) => {
      const pick = event.target.closest("button[data-step]");
      if (pick) this.go(Number(pick.dataset.step));
    });
    const again = debounce(() => this.run(), 250);
    this.text.addEventListener("input", again);
    this.merges.addEventListener("input", again);
  }

  /** Train on the text in the box; draws the reply, or the API's sentence. */
  async run() {
    this.sequence += 1;
    const mine = this.sequence;
    this.controller?.abort();
    this.controller = new AbortController();
    const merges = Number(this.merges.value);
    this.note.textContent = "Training…";
    try {
      const result = await train(this.text.value, Number.isInteger(merges) ? merges : this.merges.value, this.controller.signal);
      if (mine !== this.sequence) return;
      const keepEnd = this.result !== null && this.position === this.result.steps.length;
      this.result = result;
      this.slider.max = String(result.steps.length);
      this.go(keepEnd ? result.steps.length : Math.min(this.position, result.steps.length));
      this.note.textContent = STOPPED[result.stopped]?.(result.steps.length) || "";
      this.box.dataset.state = "drawn";
      this.onDrawn();
    } catch (err) {
      if (err.name === "AbortError" || mine !== this.sequence) return;
      this.note.textContent = err.message;
      this.box.dataset.state = "error";
    }
  }

  go(k) {
    if (!this.result) return;
    const steps = this.result.steps;
    this.position = Math.max(0, Math.min(steps.length, k));
    this.slider.value = String(this.position);
    this.back.disabled = this.position === 0;
    this.forward.disabled = this.position === steps.length;
    this.stepText.textContent = `merge ${count(this.position)} of ${count(steps.length)}`;
    this.box.dataset.step = String(this.position);
    this.draw();
  }

  draw() {
    const { steps, initial } = this.result;
    const k = this.position;
    const step = k > 0 ? steps[k - 1] : null;
    const upcoming = k < steps.length ? steps[k] : null;

    // the counts behind a choice: the step's own, or at step 0 those the first merge will use
    const shown = step || upcoming;
    this.pairs.replaceChildren();
    if (shown) {
      this.pairsTitle.textContent = step ? `Pair counts before merge ${k}` : "Pair counts in the text as it is";
      const top = Math.max(...shown.top_pairs.map((p) => p.count));
      shown.top_pairs.forEach((entry, i) => {
        const chosen = i === 0; // the API lists the chosen pair first (ties: first seen)
        const row = el("li", `tk-pair${chosen ? " tk-pair-chosen" : ""}`);
        const label = el("code", "tk-pair-label", `${visibleText(entry.pair[0])} + ${visibleText(entry.pair[1])}`);
        const track = el("span", "tk-pair-track");
        const fill = el("span", "tk-pair-fill");
        fill.style.width = `${(entry.count / top) * 100}%`;
        fill.style.background = BAR_COLOUR;
        track.append(fill);
        const value = el("span", "tk-pair-count", `${count(entry.count)}${chosen ? (step ? " ✓ merged" : " ← next") : ""}`);
        row.append(label, track, value);
        row.setAttribute("aria-label", `${quoted(entry.pair[0])} then ${quoted(entry.pair[1])}: ${entry.count} times${chosen ? ", the most frequent" : ""}`);
        this.pairs.append(row);
      });
    } else {
      this.pairsTitle.textContent = "Pair counts";
      this.pairs.append(el("li", "tk-pair-none", "No pair to merge."));
    }

    const symbols = step ? step.symbols : initial;
    symbolRow(this.symbols, symbols, step ? step.token : null);
    this.symbolsTitle.textContent = `${step ? `The text after merge ${k}` : "The text as characters"}: ${count(symbols.length)} symbols`;
    this.caption.textContent = step
      ? `Merge ${k}: ${quoted(step.pair[0])} + ${quoted(step.pair[1])} → ${quoted(step.token)}, the most frequent pair (${count(step.count)} times). ` +
        (step.replaced === step.count
          ? "Every occurrence is replaced."
          : `${count(step.replaced)} are replaced: overlapping ones, as in “a a a”, merge once, left to right.`)
      : `Start: every character is a symbol of its own (${count(initial.length)} of them). Each merge joins the most frequent neighbouring pair.`;

    this.vocab.replaceChildren();
    steps.forEach((s, i) => {
      const item = el("li");
      const pick = button(`${i + 1}. ${visibleText(s.token)}`, `Merge ${i + 1}: ${quoted(s.token)}`);
      pick.dataset.step = String(i + 1);
      if (i + 1 === k) pick.setAttribute("aria-current", "step");
      item.append(pick);
      this.vocab.append(item);
    });
  }
}
