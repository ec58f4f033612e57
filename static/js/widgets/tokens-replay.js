// "Replay merges" for lesson 2's tokens widget: the student's text as raw bytes, then the
// tokenizer's merges one at a time, in the order it applies them (lowest rank first, within
// each pre-tokenized piece), ending in the tokenizer's own split. ◀ ▶ and a slider (arrow
// keys, Home, End) step through; the merge just made is filled, the next one outlined.
// The steps come from POST /api/tokenizers/replay; nothing is merged in the page.

import { count } from "../format.js";
import { chip, el, quoted } from "./tokens-draw.js";

function button(text, label) {
  const node = el("button", "button small", text);
  node.type = "button";
  node.setAttribute("aria-label", label);
  return node;
}

export class ReplayView {
  constructor(box) {
    this.box = box;
    this.reply = null;
    this.expected = null; // the chips' ids, which the last step must equal
    this.position = 0;
    this.tokens = new Map();

    const controls = el("div", "tk-replay-controls");
    this.back = button("◀", "Previous merge");
    this.forward = button("▶", "Next merge");
    const sliderLabel = el("label", "tk-replay-slider");
    this.slider = el("input");
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.value = "0";
    sliderLabel.append(el("span", "tk-visually-hidden", "Merge step"), this.slider);
    this.stepText = el("span", "tk-replay-step");
    controls.append(this.back, sliderLabel, this.forward, this.stepText);
    this.caption = el("p", "tk-replay-caption");
    this.caption.setAttribute("aria-live", "polite");
    this.row = el("ol", "tk-replay-row");
    this.row.setAttribute("aria-label", "The text's tokens at this step, piece by piece");
    this.verdict = el("p", "tk-replay-verdict");
    const legend = el("p", "tk-legend");
    legend.append(
      el("span", "tk-key tk-key-merged"),
      " the merge just made · ",
      el("span", "tk-key tk-key-next"),
      " the pair merged next · gaps separate the pieces the text is cut into first: no merge crosses a gap.",
    );
    box.append(controls, this.caption, this.row, this.verdict, legend);

    this.back.addEventListener("click", () => this.go(this.position - 1));
    this.forward.addEventListener("click", () => this.go(this.position + 1));
    this.slider.addEventListener("input", () => this.go(Number(this.slider.value)));
  }

  /** The last position: every recorded step, plus one jump to the end when some were not. */
  get last() {
    if (!this.reply) return 0;
    return this.reply.steps.length + (this.reply.truncated ? 1 : 0);
  }

  /** A new replay (and the chips it should end in); stays at the end if it was there. */
  set(reply, expectedIds) {
    const atEnd = this.reply !== null && this.position === this.last;
    this.reply = reply;
    this.expected = expectedIds;
    this.tokens = new Map(reply.tokens.map((t) => [t.id, t]));
    this.slider.max = String(this.last);
    this.go(atEnd ? this.last : Math.min(this.position, this.last));
  }

  /** A sentence instead of a replay (the API's, e.g. a text over its limit). */
  fail(message) {
    this.reply = null;
    this.row.replaceChildren();
    this.caption.textContent = message;
    this.verdict.textContent = "";
    this.stepText.textContent = "";
    this.box.dataset.state = "error";
    for (const control of [this.back, this.forward, this.slider]) control.disabled = true;
  }

  /** Every piece's split after `k` steps. */
  splitsAt(k) {
    const { pieces, steps } = this.reply;
    if (k > steps.length) return pieces.map((p) => p.final); // the jump over unrecorded steps
    const splits = pieces.map((p) => p.initial);
    for (let i = 0; i < k; i += 1) splits[steps[i].piece] = steps[i].split;
    return splits;
  }

  token(id) {
    return this.tokens.get(id) || { id, bytes: "", text: `#${id}`, partial: false };
  }

  go(k) {
    if (!this.reply) return;
    const last = this.last;
    this.position = Math.max(0, Math.min(last, k));
    this.slider.value = String(this.position);
    for (const control of [this.back, this.forward, this.slider]) control.disabled = false;
    this.back.disabled = this.position === 0;
    this.forward.disabled = this.position === last;
    this.draw();
  }

  draw() {
    const { steps, pieces, total_steps: total, truncated } = this.reply;
    const k = this.position;
    const last = this.last;
    const splits = this.splitsAt(k);
    const done = k >= 1 && k <= steps.length ? steps[k - 1] : null;
    const next = k < steps.length ? steps[k] : null;

    this.row.replaceChildren();
    let shade = 0;
    splits.forEach((split, p) => {
      const piece = el("li", "tk-piece");
      const list = el("ol", "tk-piece-tokens");
      split.forEach((id, i) => {
        let extra = "";
        if (done && done.piece === p && done.position === i) extra = "tk-merged";
        if (next && next.piece === p && !next.whole_piece && (i === next.position || i === next.position + 1)) extra += " tk-next";
        if (next && next.piece === p && next.whole_piece) extra += " tk-next";
        list.append(chip(this.token(id), i, { compact: true, shade, extra: extra.trim() }));
        shade += 1;
      });
      piece.append(list);
      this.row.append(piece);
    });
    const ids = splits.flat();
    this.row.dataset.ids = ids.join(",");
    this.stepText.textContent = `step ${count(k)} of ${count(last)}`;

    if (k === 0) {
      const bytes = pieces.reduce((n, p) => n + p.initial.length, 0);
      this.caption.textContent = last
        ? `The raw bytes: ${count(bytes)} tokens, one per byte, in ${count(pieces.length)} piece${pieces.length === 1 ? "" : "s"}. Press ▶ to apply the first merge.`
        : "The raw bytes. No merge applies to this text: every token is a single byte (or a special token).";
    } else if (done && done.whole_piece) {
      this.caption.textContent = `Step ${k}: the whole piece ${quoted(this.token(done.merged.id).text)} is a token of its own, so the tokenizer takes it at once (id ${done.merged.id}).`;
    } else if (done) {
      const left = this.token(done.left);
      const right = this.token(done.right);
      this.caption.textContent = `Step ${k}: merge ${quoted(left.text)} + ${quoted(right.text)} → ${quoted(done.merged.text)} (merge rank ${count(done.rank)}, token id ${done.merged.id}).`;
    } else {
      this.caption.textContent = `… and ${count(total - steps.length)} more merges, too many to show one by one: here is where they end.`;
    }
    if (truncated && k === steps.length && k < last) this.caption.textContent += " Only the first merges are shown one by one; ▶ jumps to the end.";

    const matches = this.expected !== null && ids.length === this.expected.length && ids.every((id, i) => id === this.expected[i]);
    if (k === last) {
      this.verdict.textContent = matches
        ? `= the tokenizer's split ✓ (${count(ids.length)} tokens, the same as the chips above)`
        : "≠ the chips above: the replay did not end in the tokenizer's split.";
      this.verdict.dataset.state = matches ? "match" : "mismatch";
    } else {
      this.verdict.textContent = `${count(ids.length)} tokens so far; ${count(last - k)} step${last - k === 1 ? "" : "s"} to go.`;
      this.verdict.dataset.state = "going";
    }
    this.box.dataset.state = "drawn";
    this.box.dataset.step = String(k);
    this.box.dataset.steps = String(last);
    this.box.dataset.matches = String(matches);
  }
}
