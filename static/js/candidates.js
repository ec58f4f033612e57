// The candidate chart for one generation step: the top tokens as rows, each with two bars
// side by side (the model's raw probability and the final probability after temperature,
// top-k and top-p), the chosen token marked, plus the step's entropy and kept count.
// Plain HTML bars, so the numbers are real text a screen reader can read.

import { count, likelihoodWords, percent, visibleText } from "./format.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function bar(kind, value, max, label) {
  const wrap = el("span", `bar-track ${kind}`);
  const fill = el("span", "bar-fill");
  fill.style.width = `${max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0}%`;
  const text = el("span", "bar-value", label);
  wrap.append(fill, text);
  return wrap;
}

function row(candidate, rank, max, chosen, extraNote) {
  const item = el("li", "candidate");
  if (chosen) item.classList.add("chosen");
  const cut = candidate.prob === 0;
  if (cut) item.classList.add("cut");
  const head = el("span", "cand-token");
  head.append(el("span", "cand-rank", `${rank + 1}.`));
  head.append(el("span", "cand-text", visibleText(candidate.text)));
  if (chosen) head.append(el("span", "cand-badge", "chosen"));
  const bars = el("span", "cand-bars");
  bars.append(
    bar("raw", candidate.raw_prob, max, percent(candidate.raw_prob)),
    bar("final", candidate.prob, max, cut ? "0% (cut)" : percent(candidate.prob)),
  );
  item.append(head, bars);
  if (extraNote) item.append(el("span", "cand-note", extraNote));
  const spokenText = `“${visibleText(candidate.text)}”`;
  item.setAttribute(
    "aria-label",
    `${spokenText}${chosen ? ", chosen" : ""}: raw ${percent(candidate.raw_prob)}, final ${cut ? "0, cut by the settings" : percent(candidate.prob)}`,
  );
  return item;
}

/**
 * Render one step. `step` is the protocol's step message; `context` is the text of the
 * token it followed; `vocab` the model's vocabulary size. `step` null shows a hint.
 */
export function renderCandidates(root, step, context, vocab) {
  const { summary, list, scaleNote } = root;
  list.replaceChildren();
  if (!step) {
    summary.replaceChildren(el("span", "muted", "No step yet. When the model writes, this chart shows the tokens it considered for the selected step."));
    scaleNote.textContent = "";
    return;
  }
  const title = el("p", "cand-title");
  title.append(`Step ${step.index + 1}: after `);
  title.append(el("code", "inline-token", visibleText(context)));
  title.append(" the model picked ");
  title.append(el("code", "inline-token picked", visibleText(step.token.text)));
  const stats = el("p", "cand-stats");
  const entropy = el("span", "stat");
  entropy.append(el("strong", "", `${step.entropy.toFixed(2)} bits`), ` entropy (raw ${step.raw_entropy.toFixed(2)})`);
  entropy.title = "Entropy: how spread out the choice was. 0 bits = certain; each extra bit doubles the number of equally likely options.";
  const kept = el("span", "stat");
  kept.append(el("strong", "", count(step.kept)), ` of ${count(vocab)} tokens could be picked`);
  kept.title = "Kept: tokens left with a non-zero chance after top-k and top-p.";
  const picked = el("span", "stat");
  picked.append(el("strong", "", percent(step.prob)), ` chance (raw ${percent(step.raw_prob)}), ${likelihoodWords(step.rank)}`);
  stats.append(entropy, kept, picked);
  summary.replaceChildren(title, stats);

  const candidates = step.candidates || [];
  let max = 0;
  for (const c of candidates) max = Math.max(max, c.raw_prob, c.prob);
  const inList = candidates.some((c) => c.id === step.token.id);
  if (!inList) max = Math.max(max, step.prob, step.raw_prob);
  candidates.forEach((c, i) => list.append(row(c, i, max, c.id === step.token.id)));
  if (!inList) {
    const chosen = { id: step.token.id, text: step.token.text, raw_prob: step.raw_prob, prob: step.prob };
    const item = row(chosen, step.rank, max, true, `not in the top ${candidates.length}: it was ${likelihoodWords(step.rank)}`);
    item.classList.add("outside");
    list.append(item);
  }
  scaleNote.textContent = `Bar lengths are relative to the largest value shown (${percent(max)}).`;
}
