// Lesson 11's numbers, worked out in the page from one reply's raw logits (no DOM): the
// tokens in the model's own order, and for given settings the raw and final probabilities
// of the top of that list, "the rest", where top-k and top-p cut it, the kept count and
// both entropies. The sampling rules themselves are static/js/sampler.js, the page's copy
// of the server's sampler (a test proves the two agree); nothing here re-implements them.

import { entropyBits, finalDistribution, keptCount } from "../sampler.js";

export const TINY = 1e-30;

/** Token ids from the most to the least likely (by logit; ties keep their id order, as
 *  the sampler's stable sort does). Temperature never changes this order. */
export function rankOrder(logits) {
  return Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
}

/** What one reply's logits look like before any setting: the softmax at temperature 1. */
export function rawDistribution(logits) {
  const raw = finalDistribution(logits, { temperature: 1, topK: 0, topP: 1 });
  return { raw, rawEntropy: entropyBits(raw) };
}

/**
 * The view for settings {temperature, topK, topP}: `rows` (the `shown` most likely tokens,
 * each {id, rank, raw, final}), `rest` (every other token together), `kept`, both
 * entropies in bits, and the cut-offs as ranks: `kCut` (top-k keeps ranks below it),
 * `pCut` (top-p's, only where it drops more than top-k already did) and `greedy`.
 */
export function samplerView(logits, order, base, settings, shown = 30) {
  const final = finalDistribution(logits, settings);
  const vocab = logits.length;
  const n = Math.min(shown, vocab);
  const rows = [];
  for (let rank = 0; rank < n; rank += 1) {
    const id = order[rank];
    rows.push({ id, rank, raw: base.raw[id], final: final[id] });
  }
  let restRaw = 0;
  let restFinal = 0;
  let restKept = 0;
  for (let rank = n; rank < vocab; rank += 1) {
    const id = order[rank];
    restRaw += base.raw[id];
    restFinal += final[id];
    if (final[id] > 0) restKept += 1;
  }
  const kept = keptCount(final);
  // kept tokens whose chance is below 1e-30: real by the rules, never drawn in practice, and
  // where the server's float32 rounds the smallest to 0 (the page works in float64)
  let tiny = 0;
  for (let i = 0; i < vocab; i += 1) if (final[i] > 0 && final[i] < TINY) tiny += 1;
  const greedy = settings.temperature === 0;
  const kCut = !greedy && settings.topK > 0 ? Math.min(settings.topK, vocab) : null;
  const pCut = !greedy && settings.topP < 1 && kept < (kCut ?? vocab) ? kept : null;
  return {
    settings: { ...settings },
    vocab,
    rows,
    rest: { count: vocab - n, raw: restRaw, final: restFinal, kept: restKept },
    kept,
    tiny,
    rawEntropy: base.rawEntropy,
    finalEntropy: entropyBits(final),
    maxEntropy: Math.log2(vocab),
    kCut,
    pCut,
    greedy,
  };
}

/** The same kind of view for one `step` of a generation: its candidates (the top tokens
 *  by raw probability, in rank order) stand for the rows, and `kept` comes from the step. */
export function stepView(step) {
  const rows = step.candidates.map((c, rank) => ({ id: c.id, text: c.text, rank, raw: c.raw_prob, final: c.prob }));
  const raw = rows.reduce((s, r) => s + r.raw, 0);
  const final = rows.reduce((s, r) => s + r.final, 0);
  const keptShown = rows.filter((r) => r.final > 0).length;
  const restKept = step.kept - keptShown;
  return {
    rows,
    // the step's probabilities are rounded: when every kept token is shown, the rest is 0
    rest: { count: null, raw: Math.max(0, 1 - raw), final: restKept > 0 ? Math.max(0, 1 - final) : 0, kept: restKept },
    kept: step.kept,
    rawEntropy: step.raw_entropy,
    finalEntropy: step.entropy,
    kCut: null,
    pCut: null,
    // the kept tokens are the top of the raw order, so where they end is one line on the bars
    keptCut: step.kept < rows.length ? step.kept : null,
    greedy: false,
    chosen: step.token.id,
  };
}
