// The server's sampler (inference/sampling.py) re-applied in the page, so that a lesson can
// redraw one real distribution while a student drags temperature, top-k and top-p, without
// asking the model again. Same rules, same order: softmax at the temperature, a stable sort
// (ties keep their order, so top-k keeps exactly k), top-k, then top-p on what is left
// (keep each token while the mass before it is below p), renormalised. A test runs this
// file and the server's sampler on the same logits and compares them.

/** The distribution the server would sample from, for logits (any array of numbers). */
export function finalDistribution(logits, { temperature = 1, topK = 0, topP = 1 } = {}) {
  const n = logits.length;
  const probs = new Float64Array(n);
  if (n === 0) return probs;
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i += 1) if (logits[i] > logits[best]) best = i;
    probs[best] = 1;
    return probs;
  }
  let max = -Infinity;
  for (let i = 0; i < n; i += 1) max = Math.max(max, logits[i] / temperature);
  let sum = 0;
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    scaled[i] = Math.exp(logits[i] / temperature - max);
    sum += scaled[i];
  }
  for (let i = 0; i < n; i += 1) scaled[i] /= sum;
  // Array.prototype.sort is stable: equal probabilities keep their id order
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scaled[b] - scaled[a]);
  let keep = topK > 0 ? Math.min(topK, n) : n;
  if (topP < 1) {
    let keptMass = 0;
    for (let r = 0; r < keep; r += 1) keptMass += scaled[order[r]];
    let before = 0;
    let count = 0;
    while (count < keep && before / keptMass < topP) {
      before += scaled[order[count]];
      count += 1;
    }
    keep = count;
  }
  let keptSum = 0;
  for (let r = 0; r < keep; r += 1) keptSum += scaled[order[r]];
  for (let r = 0; r < keep; r += 1) probs[order[r]] = scaled[order[r]] / keptSum;
  return probs;
}

/** Entropy in bits of a distribution (zeros skipped). */
export function entropyBits(probs) {
  let h = 0;
  for (const p of probs) if (p > 0) h -= p * Math.log2(p);
  return h;
}

/** How many tokens keep a non-zero chance. */
export function keptCount(probs) {
  let count = 0;
  for (const p of probs) if (p > 0) count += 1;
  return count;
}
