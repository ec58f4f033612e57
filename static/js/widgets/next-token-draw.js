// Drawing for lesson 1's "Next-token machine" (next-token.js): the prompt's token chips and
// the two bar charts, the model's next-token probabilities and the bigram's. Plain HTML, so
// that every number is text a screen reader and a projector can read; no model numbers here,
// only what a trace reply carried.

import { css, divergingRgb } from "../colour-scales.js";
import { count, endsLine, percent, visibleText } from "../format.js";

// the two ends of the colour-blind-safe diverging scale: blue for the transformer, orange
// for the bigram, so the two charts stay apart for every common colour-vision deficiency
export const MODEL_COLOUR = css(divergingRgb(-0.85));
export const BIGRAM_COLOUR = css(divergingRgb(0.85));

// a token whose bytes are only part of a UTF-8 character arrives with `\xNN` escapes
const PARTIAL = /\\x[0-9a-fA-F]{2}/;

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** True when a candidate's text is only part of a character (it cannot go into a text box). */
export function isPartialText(text) {
  return PARTIAL.test(text);
}

/** “text” with its whitespace visible. */
export function quoted(text) {
  return `“${visibleText(text)}”`;
}

/** The prompt as the model reads it: one chip per token, its id on hover and focus. */
export function renderChips(list, tokens) {
  list.replaceChildren();
  tokens.forEach((token, position) => {
    const chip = el("li", token.partial ? "nt-chip nt-partial" : "nt-chip");
    chip.dataset.tokenId = String(token.id);
    chip.tabIndex = -1; // reachable by the arrow keys from the list (see next-token.js)
    const text = el("span", "nt-chip-text", visibleText(token.text));
    const id = el("span", "nt-chip-id", String(token.id));
    chip.append(text, id);
    const partial = token.partial ? ", only part of a character" : "";
    chip.title = `token ${position}: ${quoted(token.text)}, id ${token.id}${partial}`;
    chip.setAttribute("aria-label", chip.title);
    list.append(chip);
    if (endsLine(token.text)) list.append(el("li", "nt-break")); // a newline breaks the row
  });
}

/**
 * One bar chart: items [{id, text, prob}] as <li>s, bar length prob / `max` (both charts
 * get the same `max`, so their bars compare). `pickable` makes each bar a button that
 * carries data-token-id; the caller listens for clicks on the list.
 */
export function renderBars(list, items, { max, pickable, colour, emptyText }) {
  list.replaceChildren();
  if (!items || !items.length) {
    list.append(el("li", "nt-bar-empty", emptyText || "Nothing to show."));
    return;
  }
  items.forEach((item, rank) => {
    const row = el("li", "nt-bar-row");
    const bar = el(pickable ? "button" : "div", "nt-bar");
    if (pickable) {
      bar.type = "button";
      bar.tabIndex = rank === 0 ? 0 : -1; // one tab stop; the arrow keys move inside the list
    }
    bar.dataset.tokenId = String(item.id);
    bar.dataset.prob = String(item.prob);
    const label = el("code", "nt-bar-label", visibleText(item.text));
    const track = el("span", "nt-bar-track");
    const fill = el("span", "nt-bar-fill");
    fill.style.width = `${max > 0 ? Math.min(100, (item.prob / max) * 100) : 0}%`;
    fill.style.background = colour;
    track.append(fill);
    const value = el("span", "nt-bar-value", percent(item.prob));
    bar.append(label, track, value);
    const partial = isPartialText(item.text) ? " (only part of a character: it cannot be appended as text)" : "";
    const words = `${quoted(item.text)}, id ${item.id}: ${percent(item.prob)}${partial}`;
    bar.title = `${words} (p = ${item.prob.toPrecision(4)})`;
    bar.setAttribute("aria-label", pickable ? `Append ${words}` : words);
    if (partial) bar.classList.add("nt-bar-partial");
    row.append(bar);
    list.append(row);
  });
}

/** "the other 4,086 tokens share 12.3%": what the top-k bars leave out. */
export function restLine(shown, vocabSize, rest) {
  const others = vocabSize - shown;
  return `The other ${count(others)} tokens share ${percent(Math.max(0, rest))}.`;
}

/** Arrow keys move the focus along a list of buttons (one tab stop for the whole list). */
export function arrowKeys(list, selector) {
  list.addEventListener("keydown", (event) => {
    const items = [...list.querySelectorAll(selector)];
    const at = items.indexOf(document.activeElement);
    if (at < 0) return;
    let next = at;
    if (event.key === "ArrowDown" || event.key === "ArrowRight") next = at + 1;
    else if (event.key === "ArrowUp" || event.key === "ArrowLeft") next = at - 1;
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
