// The arithmetic of lesson 9's residual river (residual-river.js), done in the page on the
// numbers a trace reply carried, in float64: the stream's norm per token and point, each
// block's write and its share of the final vector, and one layer norm taken apart step by
// step (mean, std with the model's ε, normalised, × γ + β). No DOM, so it can be tried alone.

import { tensorSlice } from "../protocol.js";

export function dot(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += a[i] * b[i];
  return sum;
}

export function norm(a) {
  return Math.sqrt(dot(a, a));
}

/** ‖residual‖ for every token (rows) at every residual point (columns): (T) × (L + 1). */
export function normTable(trace) {
  const residuals = trace.tensors.residuals;
  const [points, tokens] = residuals.shape;
  return Array.from({ length: tokens }, (_, t) =>
    Array.from({ length: points }, (_, point) => norm(tensorSlice(residuals, point, t))),
  );
}

/**
 * What every block wrote into one token's stream: per layer {layer, attn, mlp}, each
 * {norm, share}, where share = (write · final) / ‖final‖²: the part of the final vector's
 * length along its own direction that this write supplies. The embedding's share and
 * every block's add up to 1, because the final vector is exactly their sum.
 */
export function blockWrites(trace, t) {
  const { residuals, attn_out: attnOut, mlp_out: mlpOut } = trace.tensors;
  const final = tensorSlice(residuals, residuals.shape[0] - 1, t);
  const finalSquared = dot(final, final) || 1;
  const part = (vector) => ({ norm: norm(vector), share: dot(vector, final) / finalSquared });
  const embedding = part(tensorSlice(residuals, 0, t));
  const layers = trace.layers.map((layer, l) => ({
    layer,
    attn: part(tensorSlice(attnOut, l, t)),
    mlp: part(tensorSlice(mlpOut, l, t)),
  }));
  const total = embedding.share + layers.reduce((sum, w) => sum + w.attn.share + w.mlp.share, 0);
  return { embedding, layers, total, finalNorm: Math.sqrt(dot(final, final)) };
}

/** The vector a layer norm read: ln_1 reads the stream before its block, ln_2 the stream
 *  after the block's attention has written (residual + attn_out). */
export function normInput(trace, which, layer, t) {
  const l = trace.layers.indexOf(layer);
  const before = tensorSlice(trace.tensors.residuals, layer, t);
  if (which === "ln_1") return Float64Array.from(before);
  const attn = tensorSlice(trace.tensors.attn_out, l, t);
  return Float64Array.from(before, (x, i) => x + attn[i]);
}

function meanOf(values) {
  let sum = 0;
  for (let i = 0; i < values.length; i += 1) sum += values[i];
  return sum / values.length;
}

function varianceOf(values, mean) {
  let sum = 0;
  for (let i = 0; i < values.length; i += 1) sum += (values[i] - mean) ** 2;
  return sum / values.length; // the biased variance, as layer norm uses
}

/**
 * One layer norm on one token's vector, step by step, next to what the server sent.
 * Statistics over the token's own C features (one row), never over tokens.
 */
export function layerNormSteps(trace, which, layer, t) {
  const l = trace.layers.indexOf(layer);
  const part = trace.tensors[which];
  const eps = trace.dims.layer_norm_epsilon;
  const x = normInput(trace, which, layer, t);
  const mean = meanOf(x);
  const variance = varianceOf(x, mean);
  const std = Math.sqrt(variance + eps);
  const normalised = Float64Array.from(x, (v) => (v - mean) / std);
  const gamma = tensorSlice(part.weight, l);
  const beta = tensorSlice(part.bias, l);
  const out = Float64Array.from(normalised, (v, i) => v * gamma[i] + beta[i]);
  const served = tensorSlice(part.out, l, t);
  let maxDiff = 0;
  for (let i = 0; i < out.length; i += 1) maxDiff = Math.max(maxDiff, Math.abs(out[i] - served[i]));
  const normalisedMean = meanOf(normalised);
  return {
    which,
    layer,
    position: trace.positions[t],
    features: x.length,
    eps,
    x,
    mean,
    variance,
    std,
    servedMean: part.mean.data[l * part.mean.shape[1] + t],
    servedStd: part.std.data[l * part.std.shape[1] + t],
    normalised,
    normalisedMean,
    normalisedStd: Math.sqrt(varianceOf(normalised, normalisedMean)),
    gamma,
    beta,
    out,
    served,
    maxDiff,
  };
}
