// The "Display speed" controls of the playground: three radios (full speed, slow motion,
// one token per click), a tokens-per-second slider, "Next token" and "Show all" buttons, the
// N key as a shortcut for "Next token", and a line saying how many received tokens are
// still waiting to be shown. It drives a Pacer and says nothing to the server.

import { count } from "./format.js";
import { MAX_RATE, MIN_RATE, clampRate } from "./pacer.js";

/** True when a key press belongs to a text field (so N types an "n" there). */
function isTyping(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.matches("textarea, select")) return true;
  if (target.matches("input")) return !["radio", "checkbox", "range", "button", "submit"].includes(target.type);
  return false;
}

function rateWords(rate) {
  return `${rate} ${rate === 1 ? "token" : "tokens"}/s`;
}

export class PaceControls {
  /**
   * `root` holds the controls; `pacer` is driven by them; `progress()` returns
   * {shown, received, busy}; `onAdvance()` runs after "Next token" (button or N) or
   * "Show all" showed something, when the reader asked to see it.
   */
  constructor(root, pacer, progress, onAdvance = () => {}) {
    this.root = root;
    this.pacer = pacer;
    this.progress = progress;
    const $ = (selector) => root.querySelector(selector);
    this.el = {
      modes: [...root.querySelectorAll("input[name='pace']")],
      rate: $("#pace-rate"),
      rateValue: $("#pace-rate-value"),
      next: $("#pace-next"),
      all: $("#pace-all"),
      readout: $("#pace-readout"),
    };
    this.el.rate.min = String(MIN_RATE);
    this.el.rate.max = String(MAX_RATE);

    for (const radio of this.el.modes) radio.addEventListener("change", () => this.apply());
    // moving the slider means slow motion is wanted, whatever mode was picked before
    this.el.rate.addEventListener("input", () => {
      this.check("rate");
      this.apply();
    });
    this.el.next.addEventListener("click", () => {
      if (pacer.next()) onAdvance();
    });
    this.el.all.addEventListener("click", () => {
      if (pacer.flush()) onAdvance();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "n" && event.key !== "N") return;
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented || isTyping(event.target)) return;
      if (pacer.next()) {
        event.preventDefault();
        onAdvance();
      }
    });
    pacer.addEventListener("change", () => this.update());
    this.apply();
  }

  mode() {
    const checked = this.el.modes.find((radio) => radio.checked);
    return checked ? checked.value : "full";
  }

  check(mode) {
    for (const radio of this.el.modes) radio.checked = radio.value === mode;
  }

  /** Hand the chosen mode and rate to the pacer. */
  apply() {
    const rate = clampRate(this.el.rate.value);
    const words = rateWords(rate);
    this.el.rateValue.textContent = words;
    this.el.rate.setAttribute("aria-valuetext", words);
    this.root.dataset.mode = this.mode();
    // one click, one announcement; in slow motion it would chatter twice a second
    this.el.readout.setAttribute("aria-live", this.mode() === "step" ? "polite" : "off");
    this.pacer.setMode(this.mode(), rate);
    this.update();
  }

  /** Enable the buttons and say how far the display is behind the model. */
  update() {
    const { shown, received, busy } = this.progress();
    const waiting = this.pacer.pending;
    this.el.next.disabled = waiting === 0;
    this.el.all.disabled = waiting === 0;
    const readout = this.el.readout;
    readout.dataset.shown = String(shown);
    readout.dataset.received = String(received);
    let text = "";
    if (waiting) {
      text = `Showing ${count(shown)} of ${count(received)} tokens received; ${count(waiting)} waiting.`;
    } else if (busy && this.mode() === "step") {
      text = "Waiting for the model's next token…";
    } else if (received && this.mode() !== "full") {
      text = `Showing all ${count(received)} tokens received.`;
    }
    if (readout.textContent !== text) readout.textContent = text;
  }
}
