// The token strip: one chip (a <button>) per token, prompt and generated styled apart,
// generated chips coloured by the probability they were drawn with. A shared tooltip shows
// a chip's id, bytes, probabilities and rank on hover or keyboard focus; arrow keys move
// between chips (one tab stop for the whole strip). It can also tint earlier chips by how
// much a chosen token attended to them.

import { attentionColor, scaled } from "./heatmap.js";
import { endsLine, hexBytes, percent, rankWords, visibleText } from "./format.js";
import { base64ToBytes } from "./protocol.js";

/** Where a probability sits on the chips' colour scale: log scale, 0.1 % … 100 %. */
export function probabilityPosition(p) {
  if (!(p > 0)) return 0;
  return Math.min(1, Math.max(0, (Math.log10(p) + 3) / 3));
}

function spoken(text) {
  return `“${visibleText(text)}”`;
}

export class TokenStrip {
  /** onActivate(position) is called when a chip is clicked or Enter/Space is pressed on it. */
  constructor(container, tooltip, onActivate) {
    this.container = container;
    this.tooltip = tooltip;
    this.onActivate = onActivate;
    this.chips = [];
    this.info = [];
    this.tipFor = null;
    this.reset();

    container.addEventListener("click", (event) => {
      const chip = event.target.closest(".token");
      if (chip) this.onActivate(Number(chip.dataset.position));
    });
    container.addEventListener("keydown", (event) => this.onKey(event));
    container.addEventListener("pointerover", (event) => {
      const chip = event.target.closest(".token");
      if (chip) this.showTip(chip);
    });
    container.addEventListener("pointerout", (event) => {
      const chip = event.target.closest(".token");
      if (chip && !chip.contains(event.relatedTarget) && document.activeElement !== chip) this.hideTip();
    });
    container.addEventListener("focusin", (event) => {
      const chip = event.target.closest(".token");
      if (!chip) return;
      this.rove(chip);
      this.showTip(chip);
    });
    container.addEventListener("focusout", () => this.hideTip());
    container.addEventListener("scroll", () => this.hideTip(), { passive: true });
  }

  reset() {
    this.container.replaceChildren();
    this.chips = [];
    this.info = [];
    this.hideTip();
    this.container.classList.remove("attending");
  }

  get length() {
    return this.chips.length;
  }

  text(position) {
    return this.info[position] ? this.info[position].token.text : "";
  }

  texts() {
    return this.info.map((i) => ({ text: i.token.text }));
  }

  addPrompt(tokens) {
    const fragment = document.createDocumentFragment();
    for (const token of tokens) fragment.append(...this.makeChip(token, null));
    this.container.append(fragment);
  }

  addStep(step) {
    const atBottom = this.container.scrollHeight - this.container.scrollTop - this.container.clientHeight < 40;
    this.container.append(...this.makeChip(step.token, step));
    if (atBottom) this.container.scrollTop = this.container.scrollHeight;
  }

  makeChip(token, step) {
    const position = this.chips.length;
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = step ? "token generated" : "token prompt";
    if (token.partial) chip.classList.add("partial");
    chip.dataset.position = String(position);
    chip.tabIndex = position === 0 ? 0 : -1;
    chip.textContent = visibleText(token.text);
    chip.setAttribute("aria-pressed", "false");
    if (step) {
      const t = probabilityPosition(step.prob);
      chip.dataset.index = String(step.index);
      chip.style.setProperty("--t", t.toFixed(3));
      if (t > 0.55) chip.classList.add("dark");
      chip.setAttribute("aria-label", `${spoken(token.text)}, generated, ${percent(step.prob)} likely`);
    } else {
      chip.setAttribute("aria-label", `${spoken(token.text)}, prompt`);
    }
    this.chips.push(chip);
    this.info.push({ token, step });
    const out = [chip];
    if (endsLine(token.text)) {
      const br = document.createElement("span");
      br.className = "line-break";
      br.setAttribute("aria-hidden", "true");
      out.push(br);
    }
    return out;
  }

  chip(position) {
    return this.chips[position] || null;
  }

  // -- keyboard: one tab stop, arrows move -------------------------------------------
  rove(chip) {
    for (const other of this.container.querySelectorAll(".token[tabindex='0']")) {
      if (other !== chip) other.tabIndex = -1;
    }
    chip.tabIndex = 0;
  }

  onKey(event) {
    const chip = event.target.closest(".token");
    if (!chip) return;
    const position = Number(chip.dataset.position);
    let next = null;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = position + 1;
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = position - 1;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = this.chips.length - 1;
    else if (event.key === "Escape") {
      this.hideTip();
      return;
    }
    if (next === null) return;
    event.preventDefault();
    const target = this.chip(Math.max(0, Math.min(this.chips.length - 1, next)));
    if (target) target.focus();
  }

  // -- tooltip ---------------------------------------------------------------------------
  showTip(chip) {
    const position = Number(chip.dataset.position);
    const { token, step } = this.info[position];
    const rows = [
      ["Position", String(position)],
      ["Token id", String(token.id)],
      ["Bytes (hex)", hexBytes(base64ToBytes(token.bytes)) || "(none)"],
    ];
    if (step) {
      rows.push(["Probability", `${percent(step.prob)} after the settings`]);
      rows.push(["Raw probability", `${percent(step.raw_prob)} from the model alone`]);
      rows.push(["Rank", rankWords(step.rank)]);
    } else {
      rows.push(["Source", "your prompt"]);
    }
    if (token.partial) rows.push(["Note", "part of a UTF-8 character, shown as bytes"]);

    const title = document.createElement("p");
    title.className = "tip-title";
    title.textContent = visibleText(token.text);
    const list = document.createElement("dl");
    for (const [name, value] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      list.append(dt, dd);
    }
    this.tooltip.replaceChildren(title, list);
    this.tooltip.hidden = false;
    if (this.tipFor && this.tipFor !== chip) this.tipFor.removeAttribute("aria-describedby");
    chip.setAttribute("aria-describedby", this.tooltip.id);
    this.tipFor = chip;
    this.placeTip(chip);
  }

  placeTip(chip) {
    const box = chip.getBoundingClientRect();
    const tip = this.tooltip.getBoundingClientRect();
    const margin = 8;
    let left = box.left + box.width / 2 - tip.width / 2;
    left = Math.max(margin, Math.min(window.innerWidth - tip.width - margin, left));
    let top = box.bottom + margin;
    if (top + tip.height > window.innerHeight - margin) top = box.top - tip.height - margin;
    this.tooltip.style.left = `${Math.round(left)}px`;
    this.tooltip.style.top = `${Math.round(Math.max(margin, top))}px`;
  }

  hideTip() {
    if (this.tooltip) this.tooltip.hidden = true;
    if (this.tipFor) this.tipFor.removeAttribute("aria-describedby");
    this.tipFor = null;
  }

  // -- selection and attention tint ------------------------------------------------------
  /** Mark the chip whose candidates are shown. */
  markStep(position) {
    for (const chip of this.container.querySelectorAll(".token.step-selected")) chip.classList.remove("step-selected");
    const chip = this.chip(position);
    if (chip) chip.classList.add("step-selected");
  }

  /**
   * Tint chips 0 … query by `weights` (0 … 1) as seen from the chip at `query`;
   * weights null means that row has not arrived. query null clears everything.
   */
  showAttention(query, weights, scale) {
    for (const chip of this.chips) {
      chip.style.removeProperty("--attn");
      chip.classList.remove("query", "later", "attn-dark");
      chip.setAttribute("aria-pressed", "false");
      chip.removeAttribute("data-weight");
    }
    this.container.classList.toggle("attending", query !== null);
    if (query === null) return;
    const focus = this.chip(query);
    if (focus) {
      focus.classList.add("query");
      focus.setAttribute("aria-pressed", "true");
    }
    this.chips.forEach((chip, i) => {
      if (i > query) chip.classList.add("later");
    });
    if (!weights) return;
    weights.forEach((w, i) => {
      const chip = this.chip(i);
      if (!chip) return;
      chip.style.setProperty("--attn", attentionColor(w, scale));
      chip.dataset.weight = w.toFixed(3);
      if (scaled(w, scale) > 0.6) chip.classList.add("attn-dark");
    });
  }
}

