// The prompt's tokens as chips on the "inside the model" page, one <button> each, the
// chosen position pressed. One tab stop for the whole strip: the arrow keys, Home and End
// move the choice, so a long prompt is not a long walk with Tab.

import { endsLine, visibleText } from "./format.js";
import { el, quoted } from "./inside-draw.js";

export class PositionChips {
  /** onChoose(position) is called when a chip is clicked or the keys move the choice. */
  constructor(container, onChoose) {
    this.container = container;
    this.count = 0;
    container.addEventListener("click", (event) => {
      const chip = event.target.closest(".token");
      if (chip) onChoose(Number(chip.dataset.position));
    });
    container.addEventListener("keydown", (event) => {
      const chip = event.target.closest(".token");
      if (!chip || !this.count) return;
      const moves = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1 };
      let position = Number(chip.dataset.position);
      if (event.key in moves) position += moves[event.key];
      else if (event.key === "Home") position = 0;
      else if (event.key === "End") position = this.count - 1;
      else return;
      event.preventDefault();
      position = Math.max(0, Math.min(this.count - 1, position));
      onChoose(position);
      this.container.querySelector(`.token[data-position="${position}"]`)?.focus();
    });
  }

  /** tokens: the trace's [{id, text}]; position: the chosen one. */
  show(tokens, position) {
    const fragment = document.createDocumentFragment();
    tokens.forEach((token, i) => {
      const chip = el("button", "token prompt", visibleText(token.text));
      chip.type = "button";
      chip.dataset.position = String(i);
      chip.setAttribute("aria-label", `${i}: ${quoted(token.text)}, token ${token.id}`);
      chip.title = `position ${i} · id ${token.id}`;
      fragment.append(chip);
      if (endsLine(token.text)) fragment.append(el("span", "line-break"));
    });
    this.container.replaceChildren(fragment);
    this.count = tokens.length;
    this.mark(position);
  }

  clear(note) {
    this.count = 0;
    this.container.replaceChildren(el("p", "empty", note));
  }

  mark(position) {
    this.container.querySelectorAll(".token").forEach((chip) => {
      const chosen = Number(chip.dataset.position) === position;
      chip.setAttribute("aria-pressed", String(chosen));
      chip.tabIndex = chosen ? 0 : -1;
    });
  }
}
