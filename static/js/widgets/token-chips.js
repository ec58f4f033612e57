// A row of token chips with one chosen: a radio group whose chosen chip is the one tab stop.
// Arrow keys, Home and End walk the chips; with `pickOnArrow` a step chooses at once (the
// attention widgets, where each choice only redraws), otherwise it moves the focus and
// Enter, Space or a click chooses (the vector widgets, where a choice asks the model again).
// `onPick(position)` runs on every choice. Class names carry the widget's prefix, so each
// widget keeps its own look in widgets.css.

import { visibleText } from "../format.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class TokenChips {
  constructor(labelText, onPick, { prefix, chipClass = `${prefix}-chip`, className = "", pickOnArrow = true }) {
    this.element = el("div", `${prefix}-picker ${className}`.trim());
    this.label = el("span", `${prefix}-picker-label`, labelText);
    this.label.id = `${prefix}-picker-${Math.random().toString(36).slice(2, 9)}`;
    this.chips = el("div", `${prefix}-chips`);
    this.chips.setAttribute("role", "radiogroup");
    this.chips.setAttribute("aria-labelledby", this.label.id);
    this.element.append(this.label, this.chips);
    this.chipClass = chipClass;
    this.onPick = onPick;
    this.picked = 0;
    this.chips.addEventListener("click", (event) => {
      const chip = event.target.closest("button");
      if (chip) this.onPick(Number(chip.dataset.position));
    });
    this.chips.addEventListener("keydown", (event) => {
      const chip = event.target.closest("button");
      const count = this.chips.children.length;
      if (!chip || !count) return;
      let i = Number(chip.dataset.position);
      if (event.key === "ArrowLeft" || event.key === "ArrowUp") i -= 1;
      else if (event.key === "ArrowRight" || event.key === "ArrowDown") i += 1;
      else if (event.key === "Home") i = 0;
      else if (event.key === "End") i = count - 1;
      else return;
      event.preventDefault();
      i = Math.max(0, Math.min(count - 1, i));
      if (pickOnArrow) this.onPick(i);
      this.chips.children[i]?.focus();
    });
  }

  /** tokens: [{text}]; picked: the chosen position. Keeps the keyboard focus in the group. */
  set(tokens, picked) {
    const focused = this.chips.contains(document.activeElement) ? Number(document.activeElement.dataset.position) : null;
    this.picked = picked;
    this.chips.replaceChildren(
      ...tokens.map((token, position) => {
        const chip = el("button", this.chipClass, visibleText(token.text));
        chip.type = "button";
        chip.dataset.position = String(position);
        chip.setAttribute("role", "radio");
        chip.setAttribute("aria-checked", String(position === picked));
        chip.setAttribute("aria-label", `token ${position}: ${visibleText(token.text)}`);
        chip.tabIndex = position === picked ? 0 : -1;
        return chip;
      }),
    );
    if (focused !== null) this.chips.children[Math.min(focused, tokens.length - 1)]?.focus();
  }
}
