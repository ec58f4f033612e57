// Lesson 8's pictures, as SVG and plain elements: the activation curves (with the chosen
// neuron's values on the student's text as dots on the GELU), a histogram, the list of the
// most active neurons and a neuron's examples from the training-text sample. Each function
// redraws one container from numbers it is given; none of them asks the model anything.

import { visibleText } from "../format.js";
import { ACTIVATIONS, gelu } from "./neuron-microscope-math.js";

const SVG = "http://www.w3.org/2000/svg";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function svgEl(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A token's text in quotes, its invisible characters made visible. */
export function quoted(text) {
  return `‘${visibleText(text)}’`;
}

/** Context around a marked token: spaces as they are, a line break as ↵. */
function contextText(text) {
  return text.replace(/\n/g, "↵ ").replace(/\t/g, "→");
}

/** A number as the lesson prints it: 3 decimals, a true minus sign. */
export function fixed(value, digits = 3) {
  return value.toFixed(digits).replace("-", "−");
}

function scale(domain, range) {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/** An empty SVG of the given view size, labelled for screen readers. */
export function svgBox(className, width, height, label) {
  const svg = svgEl("svg", { class: className, viewBox: `0 0 ${width} ${height}`, role: "img" });
  svg.setAttribute("aria-label", label);
  return svg;
}

/**
 * The three curves on x ∈ [xMin, xMax], and `points` ({x, y, label}) as dots: the chosen
 * neuron's value before (x) and after (y) the GELU at each token of the text.
 */
export function drawCurves(svg, points, { xMin = -4, xMax = 4 } = {}) {
  const W = 360;
  const H = 220;
  const pad = { left: 34, right: 10, top: 10, bottom: 26 };
  xMin = Math.min(xMin, ...points.map((p) => Math.floor(p.x)));
  xMax = Math.max(xMax, ...points.map((p) => Math.ceil(p.x)));
  const yMin = -0.5;
  const yMax = xMax; // ReLU and GELU leave through the top right corner, never flattened
  const x = scale([xMin, xMax], [pad.left, W - pad.right]);
  const y = scale([yMin, yMax], [H - pad.bottom, pad.top]);
  svg.replaceChildren();
  // axes through zero, ticks at whole numbers
  svg.append(svgEl("line", { class: "nm-axis", x1: x(xMin), x2: x(xMax), y1: y(0), y2: y(0) }));
  svg.append(svgEl("line", { class: "nm-axis", x1: x(0), x2: x(0), y1: y(yMin), y2: y(yMax) }));
  const step = xMax - xMin > 10 ? 2 : 1;
  for (let t = Math.ceil(xMin); t <= xMax; t += step) {
    svg.append(svgEl("text", { class: "nm-tick", x: x(t), y: H - 8, "text-anchor": "middle" }, fixed(t, 0)));
  }
  for (let t = 0; t <= yMax; t += step) {
    svg.append(svgEl("text", { class: "nm-tick", x: pad.left - 6, y: y(t) + 4, "text-anchor": "end" }, fixed(t, 0)));
  }
  const samples = 240;
  for (const activation of ACTIVATIONS) {
    let d = "";
    for (let i = 0; i <= samples; i += 1) {
      const u = xMin + ((xMax - xMin) * i) / samples;
      const v = Math.max(yMin, Math.min(yMax, activation.fn(u)));
      d += `${i ? "L" : "M"}${x(u).toFixed(1)},${y(v).toFixed(1)}`;
    }
    svg.append(svgEl("path", { class: `nm-curve ${activation.className}`, d }));
  }
  // GELU's floor: about −0.17 near x ≈ −0.75, worked out from the formula here
  let floorX = -0.75;
  for (let u = -2; u <= 0; u += 0.001) if (gelu(u) < gelu(floorX)) floorX = u;
  svg.append(svgEl("line", { class: "nm-floor", x1: x(xMin), x2: x(xMax), y1: y(gelu(floorX)), y2: y(gelu(floorX)) }));
  for (const point of points) {
    const dot = svgEl("circle", { class: "nm-dot", cx: x(point.x), cy: y(point.y), r: 3.5 });
    dot.append(svgEl("title", {}, point.label));
    svg.append(dot);
  }
  return { floor: gelu(floorX), floorX };
}

/** Bars of `counts` over `edges`; the figures ride on the SVG for the tests. */
export function drawHistogram(svg, counts, edges, className) {
  const W = 320;
  const H = 150;
  const pad = { left: 30, right: 8, top: 8, bottom: 24 };
  const top = Math.max(1, ...counts);
  const x = scale([edges[0], edges[edges.length - 1]], [pad.left, W - pad.right]);
  const y = scale([0, top], [H - pad.bottom, pad.top]);
  svg.replaceChildren();
  counts.forEach((n, i) => {
    if (!n) return;
    const bar = svgEl("rect", {
      class: `nm-bar ${className}`,
      x: x(edges[i]) + 0.5,
      width: Math.max(0.5, x(edges[i + 1]) - x(edges[i]) - 1),
      y: y(n),
      height: y(0) - y(n),
    });
    bar.append(svgEl("title", {}, `${n} neurons from ${fixed(edges[i], 2)} to ${fixed(edges[i + 1], 2)}`));
    svg.append(bar);
  });
  svg.append(svgEl("line", { class: "nm-axis", x1: pad.left, x2: W - pad.right, y1: y(0), y2: y(0) }));
  if (edges[0] < 0 && edges[edges.length - 1] > 0) {
    svg.append(svgEl("line", { class: "nm-zero", x1: x(0), x2: x(0), y1: pad.top, y2: y(0) }));
  }
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  for (const [value, anchor] of [[lo, "start"], [0, "middle"], [hi, "end"]]) {
    if (value === 0 && !(lo < 0 && hi > 0)) continue;
    svg.append(svgEl("text", { class: "nm-tick", x: x(value), y: H - 8, "text-anchor": anchor }, fixed(value, 1)));
  }
  svg.append(svgEl("text", { class: "nm-tick", x: pad.left - 4, y: pad.top + 8, "text-anchor": "end" }, String(top)));
  svg.dataset.edges = JSON.stringify(edges);
  svg.dataset.counts = JSON.stringify(counts);
}

/** The most active neurons as a list of buttons; `picked` is pressed. */
export function renderTopNeurons(list, top, picked) {
  const focused = list.contains(document.activeElement);
  list.replaceChildren(
    ...top.map(({ id, value }, rank) => {
      const item = el("li");
      const button = el("button", "nm-neuron");
      button.type = "button";
      button.dataset.neuron = String(id);
      button.dataset.value = String(value);
      button.setAttribute("aria-pressed", String(id === picked));
      button.tabIndex = id === picked || (picked === null && rank === 0) ? 0 : -1;
      button.append(el("span", "nm-neuron-id", `#${id}`), el("span", "nm-neuron-value", fixed(value)));
      item.append(button);
      return item;
    }),
  );
  if (!list.querySelector('[tabindex="0"]') && list.firstChild) list.querySelector("button").tabIndex = 0;
  if (focused) list.querySelector('[tabindex="0"]')?.focus();
}

/** One neuron's examples from the sample, the exciting token marked. */
export function renderExamples(list, examples, tokenTexts) {
  list.replaceChildren(
    ...examples.map((example) => {
      const item = el("li", "nm-example");
      item.dataset.value = String(example.value);
      const text = el("span", "nm-example-text");
      example.ids.forEach((id, i) => {
        const raw = tokenTexts[String(id)] ?? `#${id}`;
        if (i === example.index) {
          const mark = el("mark", "nm-hot", visibleText(raw));
          mark.dataset.tokenId = String(id);
          text.append(mark);
        } else {
          text.append(el("span", "", contextText(raw)));
        }
      });
      item.append(el("span", "nm-example-value", fixed(example.value)), text);
      return item;
    }),
  );
}
