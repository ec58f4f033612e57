// What the attention-head widget works out in the page from one trace reply, for one head:
// the first n tokens' x, q, k and v, the raw scores q·kᵀ done here from q and k (and checked
// against the reply's scaled scores × √d_k), the scaled scores, the softmax done here from
// them (checked against the reply's attention), the row sums, and for one query the
// weighted values and their sum z. Numbers only, no DOM, so the pieces can be tried alone.

import { tensorSlice } from "../protocol.js";
import { headIndex, headMap, layerIndex } from "../trace-decode.js";
import { block, causalSoftmax, dot, largestDifference, rowSums, rows } from "./attention-head-kit.js";

/** Everything panels (a)–(e) draw for (layer, head), on the first `limit` tokens. */
export function headNumbers(trace, { layer, head, limit }) {
  const hs = trace.dims.head_size;
  const sqrtDk = Math.sqrt(hs);
  const total = trace.tokens.length;
  const n = Math.min(total, limit);
  const l = layerIndex(trace, layer);
  const h = headIndex(trace, head);
  if (l < 0 || h < 0) throw new Error(`The reply has no layer ${layer}, head ${head}.`);
  const t = trace.tensors;
  const width = t.ln_1.out.shape[2];
  const x = rows(tensorSlice(t.ln_1.out, l), width, n);
  const q = rows(tensorSlice(t.q, l, h), hs, n);
  const k = rows(tensorSlice(t.k, l, h), hs, n);
  const v = rows(tensorSlice(t.v, l, h), hs, n);
  const scoreMap = headMap(trace, "scores", { layer, head });
  const weightMap = headMap(trace, "attention", { layer, head });
  const scaled = block(scoreMap.data, scoreMap.cols, n);
  const weights = block(weightMap.data, weightMap.cols, n);

  // (b) the raw scores, from the definition: every query against every key, future included
  const raw = new Float64Array(n * n);
  for (let r = 0; r < n; r += 1) for (let c = 0; c < n; c += 1) raw[r * n + c] = dot(q[r], k[c]);
  const rawFromReply = scaled.map((s) => s * sqrtDk);
  const softmaxHere = causalSoftmax(scaled, n);
  return {
    n,
    total,
    hs,
    width,
    sqrtDk,
    x,
    q,
    k,
    v,
    raw,
    scaled,
    weights,
    sums: rowSums(weights, n),
    rawDifference: largestDifference(raw, rawFromReply),
    // the check panel (c) prints: (b) ÷ √d_k against the reply's scores, in score units
    scaledDifference: largestDifference(raw.map((r) => r / sqrtDk), scaled),
    softmaxDifference: largestDifference(softmaxHere, weights),
  };
}

/** For query i: each key's weight, its value vector scaled by it, and their sum z_i. */
export function weightedValues(numbers, query) {
  const { hs, v, weights, n } = numbers;
  const w = Array.from({ length: query + 1 }, (_, j) => weights[query * n + j]);
  const scaled = w.map((wj, j) => Float64Array.from(v[j], (value) => wj * value));
  const z = new Float64Array(hs);
  for (const row of scaled) for (let d = 0; d < hs; d += 1) z[d] += row[d];
  return { w, scaled, z };
}
