// Drawing for lesson 10's logit lens (logit-lens.js): the grid of what every rung predicts at
// every position (top token, probability as colour), and the ladder of one position (each
// rung's top tokens with their probabilities, and the followed token's rank). Plain HTML,
// every number as text; the numbers are the reply's own (lensRows of trace-decode.js).

import { css, inkOn, sequentialRgb } from "../colour-scales.js";
import { count, ordinal, percent, visibleText } from "../format.js";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function label(text, max = 10) {
  const chars = Array.from(visibleText(text));
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}

/** Rung names: 0 = straight from the embeddings, i = after layer i − 1 (layers from 0). */
export function rungName(point, last) {
  if (point === 0) return "embeddings";
  return point === last ? `after layer ${point - 1} = output` : `after layer ${point - 1}`;
}

/**
 * The grid: rows = rungs (embeddings at the top, the output at the bottom), columns =
 * positions; each cell the rung's top token there, shaded by its probability. A cell's
 * column is chosen by a click (data-position).
 */
export function renderGrid(table, tokens, columns, picked) {
  const last = columns[0].length - 1;
  const head = el("thead");
  const hr = el("tr");
  hr.append(el("th", "ll-corner", "after →"));
  tokens.forEach((token, t) => {
    const th = el("th", t === picked ? "ll-picked" : "", label(token.text, 8));
    th.scope = "col";
    th.dataset.position = String(t);
    th.title = `position ${t}: what comes after ${visibleText(token.text)}`;
    hr.append(th);
  });
  head.append(hr);
  const body = el("tbody");
  for (let point = 0; point <= last; point += 1) {
    const tr = el("tr", point === last ? "ll-output-row" : "");
    const th = el("th", "ll-rung", rungName(point, last));
    th.scope = "row";
    tr.append(th);
    columns.forEach((rows, t) => {
      const top = rows[point].top[0];
      const rgb = sequentialRgb(top.prob);
      const td = el("td", t === picked ? "ll-cell ll-picked" : "ll-cell");
      td.dataset.position = String(t);
      td.dataset.tokenId = String(top.id);
      td.style.background = css(rgb);
      td.style.color = inkOn(rgb);
      td.append(el("span", "ll-cell-token", label(top.text, 8)), el("span", "ll-cell-prob", percent(top.prob)));
      td.title = `${rungName(point, last)}, position ${t}: ${visibleText(top.text)} ${percent(top.prob)}`;
      tr.append(td);
    });
    body.append(tr);
  }
  table.replaceChildren(head, body);
}

/**
 * The ladder of one position: per rung its top tokens (buttons: click to follow one) with
 * probabilities, and the followed token's rank and probability. The last rung is marked
 * as the model's real output.
 */
export function renderLadder(list, rows, followedText) {
  const last = rows.length - 1;
  list.replaceChildren(
    ...rows.map((row) => {
      const li = el("li", row.point === last ? "ll-rung-row ll-output" : "ll-rung-row");
      li.dataset.point = String(row.point);
      li.dataset.topIds = row.top.map((c) => c.id).join(",");
      li.dataset.targetRank = String(row.target.rank);
      li.dataset.targetProb = String(row.target.prob);
      const name = el("span", "ll-rung-name", rungName(row.point, last));
      const tops = el("span", "ll-tops");
      row.top.forEach((c, i) => {
        const button = el("button", "ll-top");
        button.type = "button";
        button.dataset.tokenId = String(c.id);
        button.tabIndex = -1; // arrow keys walk the ladder's tokens; one tab stop
        const fill = el("span", "ll-top-fill");
        fill.style.width = `${Math.min(100, c.prob * 100)}%`;
        button.append(fill, el("code", "ll-top-text", label(c.text, 10)), el("span", "ll-top-prob", percent(c.prob)));
        button.title = `${visibleText(c.text)}: ${percent(c.prob)} (${i === 0 ? "top" : `#${i + 1}`}); click to follow it`;
        button.setAttribute("aria-label", `Follow ${visibleText(c.text)}, ${percent(c.prob)} at ${rungName(row.point, last)}`);
        tops.append(button);
      });
      const target = el("span", "ll-target");
      const place = row.target.rank === 0 ? "first" : ordinal(row.target.rank + 1).replace(/^\d+/, (n) => count(Number(n)));
      target.textContent = `“${label(followedText, 10)}” ranks ${place}: ${percent(row.target.prob)}`;
      target.title = `The followed token at ${rungName(row.point, last)}`;
      li.append(name, tops, target);
      return li;
    }),
  );
  const first = list.querySelector("button.ll-top");
  if (first) first.tabIndex = 0;
}

/** Arrow keys move the focus between a container's buttons (one tab stop for all). */
export function arrowKeys(container, selector) {
  container.addEventListener("keydown", (event) => {
    const items = [...container.querySelectorAll(selector)];
    const at = items.indexOf(document.activeElement);
    if (at < 0) return;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    let next;
    if (step !== undefined) next = at + step;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = items.length - 1;
    else return;
    event.preventDefault();
    next = Math.max(0, Math.min(items.length - 1, next));
    items[at].tabIndex = -1;
    items[next].tabIndex = 0;
    items[next].focus();
  });
}
