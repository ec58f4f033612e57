// A `trace_result` message turned into something a page can draw from: every tensor decoded
// once into a Float32Array, and small readers that answer "what is X at layer l, head h,
// position p" in the protocol's own indices. No DOM, so it can be tried on its own.

import { decodeTensor, tensorAt, tensorSlice } from "./protocol.js";

function decodeAll(tensors) {
  const out = {};
  for (const [name, value] of Object.entries(tensors || {})) {
    if (value && typeof value.data === "string") out[name] = decodeTensor(value);
    else if (value && typeof value === "object") out[name] = decodeAll(value); // ln_1, ln_2: mean, std, out
  }
  return out;
}

/** Decode a trace_result message. Throws when a tensor does not match its shape. */
export function decodeTrace(message) {
  const lens = message.logit_lens;
  const logits = message.logits;
  const mlpTop = message.mlp_top;
  return {
    requestId: message.request_id,
    model: message.model,
    dims: message.dims,
    tokens: message.tokens,
    layers: message.layers,
    heads: message.heads,
    positions: message.positions,
    tensors: decodeAll(message.tensors),
    mlpTop: mlpTop ? { ids: mlpTop.ids, values: decodeTensor(mlpTop.values) } : null,
    lens: lens
      ? {
          topIds: lens.top_ids,
          topProbs: decodeTensor(lens.top_probs),
          targetIds: lens.target_ids,
          targetRanks: lens.target_ranks,
          targetProbs: decodeTensor(lens.target_probs),
        }
      : null,
    logits: logits
      ? { last: decodeTensor(logits.last), topIds: logits.top_ids, topProbs: decodeTensor(logits.top_probs) }
      : null,
    tokenTexts: message.token_texts || {},
    experiment: message.experiment,
    elapsedMs: message.elapsed_ms,
    bytes: message.bytes,
  };
}

/** The text of a token id, from the reply's token_texts (or the prompt's tokens). */
export function tokenText(trace, id) {
  const text = trace.tokenTexts[String(id)];
  if (text !== undefined) return text;
  const token = trace.tokens.find((t) => t.id === id);
  return token ? token.text : `#${id}`;
}

/** Where a layer, head or position sits in the reply's kept lists; -1 when it was not sent. */
export function layerIndex(trace, layer) {
  return trace.layers.indexOf(layer);
}
export function headIndex(trace, head) {
  return trace.heads.indexOf(head);
}
export function positionIndex(trace, position) {
  return trace.positions.indexOf(position);
}

/** True when the reply holds this (layer, head, position) for the per-layer parts. */
export function hasView(trace, view) {
  return layerIndex(trace, view.layer) >= 0 && headIndex(trace, view.head) >= 0 && positionIndex(trace, view.position) >= 0;
}

/** A (T, C) part's vector at a position, or null when the part was not sent. */
export function positionVector(trace, part, position) {
  const tensor = trace.tensors[part];
  const t = positionIndex(trace, position);
  return tensor && t >= 0 ? tensorSlice(tensor, t) : null;
}

/** residuals[point] at a position (point 0 = the embedding sum, i = after layer i − 1). */
export function residualVector(trace, point, position) {
  const tensor = trace.tensors.residuals;
  const t = positionIndex(trace, position);
  return tensor && t >= 0 ? tensorSlice(tensor, point, t) : null;
}

/** The L2 norm of a vector. */
export function norm(vector) {
  let sum = 0;
  for (let i = 0; i < vector.length; i += 1) sum += vector[i] * vector[i];
  return Math.sqrt(sum);
}

/** The residual stream's L2 norm at a position, one number per residual point (n_layer + 1). */
export function residualNorms(trace, position) {
  const tensor = trace.tensors.residuals;
  const t = positionIndex(trace, position);
  if (!tensor || t < 0) return null;
  return Array.from({ length: tensor.shape[0] }, (_, point) => norm(tensorSlice(tensor, point, t)));
}

/** q, k or v (L, H, T, hs) of one head at a position, or null. */
export function headVector(trace, part, { layer, head, position }) {
  const tensor = trace.tensors[part];
  const [l, h, t] = [layerIndex(trace, layer), headIndex(trace, head), positionIndex(trace, position)];
  return tensor && l >= 0 && h >= 0 && t >= 0 ? tensorSlice(tensor, l, h, t) : null;
}

/**
 * One head's (T, S) map of `scores` or `attention`: {rows, cols, data, positions}, where
 * data is a Float32Array view, row r being query position positions[r]. Null when absent.
 */
export function headMap(trace, part, { layer, head }) {
  const tensor = trace.tensors[part];
  const [l, h] = [layerIndex(trace, layer), headIndex(trace, head)];
  if (!tensor || l < 0 || h < 0) return null;
  const [, , rows, cols] = tensor.shape;
  return { rows, cols, data: tensorSlice(tensor, l, h), positions: trace.positions };
}

/** ln_1 / ln_2 mean and std at (layer, position), or null. */
export function normStats(trace, which, { layer, position }) {
  const part = trace.tensors[which];
  const [l, t] = [layerIndex(trace, layer), positionIndex(trace, position)];
  if (!part || !part.mean || l < 0 || t < 0) return null;
  return { mean: tensorAt(part.mean, l, t), std: tensorAt(part.std, l, t) };
}

/** The most active MLP neurons at (layer, position): [{id, value}], or null. */
export function mlpTopAt(trace, { layer, position }) {
  if (!trace.mlpTop) return null;
  const [l, t] = [layerIndex(trace, layer), positionIndex(trace, position)];
  if (l < 0 || t < 0) return null;
  const ids = trace.mlpTop.ids[l][t];
  const values = tensorSlice(trace.mlpTop.values, l, t);
  return ids.map((id, i) => ({ id, value: values[i] }));
}

/**
 * The logit lens at a position: one row per residual point, each with its top `k` tokens
 * [{id, text, prob}] and the followed token's rank and probability. Null when not sent.
 */
export function lensRows(trace, position, k = 5) {
  const lens = trace.lens;
  const t = positionIndex(trace, position);
  if (!lens || t < 0) return null;
  const target = lens.targetIds[t];
  return lens.topIds.map((perPosition, point) => {
    const probs = tensorSlice(lens.topProbs, point, t);
    const top = perPosition[t].slice(0, k).map((id, i) => ({ id, text: tokenText(trace, id), prob: probs[i] }));
    return {
      point,
      top,
      target: { id: target, text: tokenText(trace, target), rank: lens.targetRanks[point][t], prob: tensorAt(lens.targetProbs, point, t) },
    };
  });
}

/** The final top-k next tokens at a position: [{id, text, prob}], or null. */
export function finalTop(trace, position) {
  const logits = trace.logits;
  const t = positionIndex(trace, position);
  if (!logits || t < 0) return null;
  const probs = tensorSlice(logits.topProbs, t);
  return logits.topIds[t].map((id, i) => ({ id, text: tokenText(trace, id), prob: probs[i] }));
}

/** The largest absolute value in some vectors (for a shared, symmetric colour scale). */
export function maxAbs(...vectors) {
  let max = 0;
  for (const vector of vectors) {
    if (!vector) continue;
    for (let i = 0; i < vector.length; i += 1) {
      const a = Math.abs(vector[i]);
      if (a > max && Number.isFinite(a)) max = a;
    }
  }
  return max;
}
