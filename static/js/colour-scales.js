// Colour scales for heatmaps and strips, chosen to read for colour-blind students too:
// a sequential scale from pale yellow through teal to deep blue-violet (lightness falls
// steadily, so it also survives greyscale printing), and a diverging blue-white-orange one
// for signed values (blue/orange is the pair most colour-vision deficiencies keep apart).

const SEQUENTIAL = [
  [255, 252, 222],
  [199, 233, 180],
  [106, 199, 190],
  [39, 140, 186],
  [37, 72, 153],
  [40, 22, 90],
];
const NEGATIVE = [33, 102, 172]; // blue
const POSITIVE = [214, 96, 18]; // orange
const MIDDLE = [247, 247, 247];

function mix(a, b, t) {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
}

/** [r, g, b] for t in [0, 1] (clamped): 0 pale, 1 dark. */
export function sequentialRgb(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (SEQUENTIAL.length - 1);
  const i = Math.min(SEQUENTIAL.length - 2, Math.floor(x));
  return mix(SEQUENTIAL[i], SEQUENTIAL[i + 1], x - i);
}

/** [r, g, b] for t in [-1, 1] (clamped): blue negative, near-white zero, orange positive. */
export function divergingRgb(t) {
  const x = Math.min(1, Math.max(-1, Number.isFinite(t) ? t : 0));
  return x < 0 ? mix(MIDDLE, NEGATIVE, -x) : mix(MIDDLE, POSITIVE, x);
}

export function css([r, g, b]) {
  return `rgb(${r} ${g} ${b})`;
}

/** Black or white text, whichever reads on this background. */
export function inkOn([r, g, b]) {
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#111" : "#fff";
}
