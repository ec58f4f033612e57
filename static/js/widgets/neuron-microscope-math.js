// Lesson 8's arithmetic, no DOM: the three activation functions (their formulas, so the
// curves are drawn from maths, not from model numbers), the shared bin edges of the
// before/after histograms and the counts in each bin. The counts follow numpy's
// histogram with explicit edges: bin i holds edges[i] ≤ v < edges[i + 1], and the last
// bin also holds its right edge, so a test can recount the reply's tensors in numpy.

export const HISTOGRAM_BINS = 32;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function relu(x) {
  return Math.max(0, x);
}

export function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}

/** GELU in the tanh form GPT-2 and our model use. */
export function gelu(x) {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

export const ACTIVATIONS = [
  { name: "ReLU", fn: relu, className: "nm-relu" },
  { name: "GELU (tanh form)", fn: gelu, className: "nm-gelu" },
  { name: "sigmoid", fn: sigmoid, className: "nm-sigmoid" },
];

/** {min, max} over several arrays of numbers. */
export function extent(...arrays) {
  let min = Infinity;
  let max = -Infinity;
  for (const values of arrays) {
    for (const v of values) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return { min, max };
}

/** `bins` + 1 equal-width edges covering every value, from a half-unit below the lowest
 *  to a half-unit above the highest, so both histograms share one x axis. */
export function binEdges(arrays, bins = HISTOGRAM_BINS) {
  const { min, max } = extent(...arrays);
  const lo = Math.floor(min * 2) / 2;
  let hi = Math.ceil(max * 2) / 2;
  if (hi <= lo) hi = lo + 0.5;
  const width = (hi - lo) / bins;
  return Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
}

/** How many values fall in each bin of `edges`. */
export function histogram(values, edges) {
  const bins = edges.length - 1;
  const counts = new Array(bins).fill(0);
  for (const v of values) {
    if (v < edges[0] || v > edges[bins]) continue;
    let lo = 0;
    let hi = bins; // binary search for the last edge ≤ v
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (edges[mid] <= v) lo = mid;
      else hi = mid;
    }
    counts[lo] += 1;
  }
  return counts;
}

/** The smallest value and how many are below zero. */
export function negatives(values) {
  let below = 0;
  let min = Infinity;
  for (const v of values) {
    if (v < 0) below += 1;
    if (v < min) min = v;
  }
  return { below, min };
}
