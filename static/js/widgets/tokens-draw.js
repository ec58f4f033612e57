// Token chips for lesson 2's tokens widget (tokens.js): the full chip (text with its
// whitespace visible, id, bytes in hex, partial-character mark), the compact chip of the
// side-by-side rows, the words a chip's readout says, and arrow-key focus along a row.
// Tokens are shaped as the API and the websocket send them: {id, bytes (base64), text, partial}.

import { css, sequentialRgb } from "../colour-scales.js";
import { count, hexBytes, visibleText } from "../format.js";
import { base64ToBytes } from "../protocol.js";

// three pale steps of the sequential scale, in turn: they only tell neighbouring chips apart
export const CHIP_SHADES = [0.06, 0.2, 0.34].map((t) => css(sequentialRgb(t)));

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function quoted(text) {
  return `“${visibleText(text)}”`;
}

/** The readout for one token: what its chip stands for, in words. */
export function describeToken(token, position) {
  const bytes = base64ToBytes(token.bytes);
  const parts = [`token ${position}: ${quoted(token.text)}`, `id ${token.id}`, `bytes ${hexBytes(bytes)} (${count(bytes.length)})`];
  if (token.text.startsWith(" ")) parts.push("starts with a space");
  if (token.partial) parts.push("only part of a UTF-8 character: with its neighbours it makes a whole one");
  return parts.join(" · ");
}

/**
 * A chip: text, then (unless compact) the id and the bytes in hex. `shade` is its
 * background; `extra` adds class names (the replay's highlight).
 */
export function chip(token, position, { compact = false, shade = 0, extra = "" } = {}) {
  const node = el("li", `tk-chip${compact ? " tk-compact" : ""}${token.partial ? " tk-partial" : ""}${extra ? ` ${extra}` : ""}`);
  node.style.background = CHIP_SHADES[shade % CHIP_SHADES.length];
  node.dataset.tokenId = String(token.id);
  node.dataset.position = String(position);
  node.append(el("span", "tk-chip-text", visibleText(token.text)));
  node.append(el("span", "tk-chip-id", String(token.id)));
  if (!compact) node.append(el("span", "tk-chip-hex", hexBytes(base64ToBytes(token.bytes))));
  // the compact rows (replay, side by side) have no room for words: the dashed border says it
  if (token.partial && !compact) node.append(el("span", "tk-chip-partial", "part of a character"));
  const words = describeToken(token, position);
  node.title = words;
  node.setAttribute("aria-label", words);
  return node;
}

/** Fill a list with one chip per token; the first chip is the row's tab stop. */
export function renderChipRow(list, tokens, options = {}) {
  list.replaceChildren();
  tokens.forEach((token, position) => {
    const node = chip(token, position, { ...options, shade: position });
    node.tabIndex = position === 0 ? 0 : -1;
    list.append(node);
  });
}

/**
 * Arrow keys (and Home/End) move the focus along the chips of `list`; `onFocus(chip)` runs
 * when a chip takes the focus or the pointer, so a readout can follow.
 */
export function chipKeys(list, onFocus) {
  list.addEventListener("keydown", (event) => {
    const chips = [...list.querySelectorAll(".tk-chip")];
    const at = chips.indexOf(document.activeElement);
    if (at < 0) return;
    let next = at;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = at + 1;
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = at - 1;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = chips.length - 1;
    else return;
    event.preventDefault();
    next = Math.max(0, Math.min(chips.length - 1, next));
    chips[at].tabIndex = -1;
    chips[next].tabIndex = 0;
    chips[next].focus();
  });
  if (onFocus) {
    list.addEventListener("focusin", (event) => {
      const node = event.target.closest(".tk-chip");
      if (node) onFocus(node);
    });
    list.addEventListener("pointerover", (event) => {
      const node = event.target.closest(".tk-chip");
      if (node) onFocus(node);
    });
  }
}
