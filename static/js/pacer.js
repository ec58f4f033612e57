// Display pacing for a generation: the `step` messages are buffered as they arrive and handed
// on to be drawn at the pace the reader chose: at once ("full", as they come), so many per
// second ("rate", slow motion), or one per call to next() ("step", one per click).
// Pacing is a display matter only: the worker generates at its own speed, nothing here
// talks to the server, and what is still buffered when the generation ends plays on at the
// same pace. No DOM; the clock and timer can be passed in, so it can be tried on its own.

export const PACE_MODES = ["full", "rate", "step"];
export const MIN_RATE = 1;
export const MAX_RATE = 20;

/** A rate in tokens per second, clamped to MIN_RATE … MAX_RATE (bad input gives MIN_RATE). */
export function clampRate(rate) {
  const n = Number(rate);
  if (!Number.isFinite(n)) return MIN_RATE;
  return Math.min(MAX_RATE, Math.max(MIN_RATE, n));
}

export class Pacer extends EventTarget {
  /**
   * `show(item)` draws one buffered item. Fires "change" whenever the buffer or the mode
   * changes, so the controls can say how many items wait.
   */
  constructor(show, clock = {}) {
    super();
    this.show = show;
    this.now = clock.now || (() => performance.now());
    this.setTimer = clock.setTimer || ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = clock.clearTimer || ((id) => clearTimeout(id));
    this.mode = "full";
    this.rate = 2;
    this.queue = [];
    this.timer = null;
    this.lastShownAt = -Infinity;
  }

  /** How many items are buffered and not yet shown. */
  get pending() {
    return this.queue.length;
  }

  /** A new item arrived: show it now at full speed, else buffer it for the timer or a click. */
  push(item) {
    this.queue.push(item);
    if (this.mode === "full") this.flush();
    else {
      this.arm();
      this.changed();
    }
  }

  /** Switch mode ("full", "rate" or "step") and, optionally, the rate in tokens per second. */
  setMode(mode, rate = this.rate) {
    if (!PACE_MODES.includes(mode)) throw new Error(`unknown pace mode ${mode}`);
    this.mode = mode;
    this.rate = clampRate(rate);
    this.disarm();
    if (mode === "full") this.flush();
    else {
      this.arm();
      this.changed();
    }
  }

  /** Show the next buffered item at once (any mode); false when nothing waits. */
  next() {
    if (!this.queue.length) return false;
    this.disarm();
    this.showOne();
    this.arm();
    return true;
  }

  /** Show everything buffered at once ("show all"); returns how many were shown. */
  flush() {
    this.disarm();
    let shown = 0;
    while (this.queue.length) {
      this.showOne(false);
      shown += 1;
    }
    this.changed();
    return shown;
  }

  /** Forget the buffer without showing it (a new generation replaces the old one). */
  clear() {
    this.disarm();
    this.queue = [];
    this.lastShownAt = -Infinity;
    this.changed();
  }

  // -- internals -------------------------------------------------------------------------
  showOne(notify = true) {
    const item = this.queue.shift();
    this.lastShownAt = this.now();
    this.show(item);
    if (notify) this.changed();
  }

  /** In slow motion, wake up when the next item is due: one interval after the last shown. */
  arm() {
    if (this.mode !== "rate" || this.timer !== null || !this.queue.length) return;
    const interval = 1000 / this.rate;
    const wait = Math.max(0, this.lastShownAt + interval - this.now());
    this.timer = this.setTimer(() => this.tick(), wait);
  }

  disarm() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
  }

  tick() {
    this.timer = null;
    if (this.mode !== "rate" || !this.queue.length) return;
    this.showOne();
    this.arm();
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }
}
