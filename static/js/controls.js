// The prompt-and-settings form: fits the sliders to the chosen model, shows each slider's
// value in words, reads the form into a settings object, and switches Generate/Stop
// between idle and running.

import { count } from "./format.js";

const DEFAULT_MAX_NEW_TOKENS = 100;
const TOP_K_SLIDER_MAX = 200;

const FORMATS = {
  "max-new-tokens": (v) => String(v),
  temperature: (v) => (Number(v) === 0 ? "0 · greedy" : Number(v).toFixed(2)),
  "top-k": (v) => (Number(v) === 0 ? "off" : String(v)),
  "top-p": (v) => (Number(v) >= 1 ? "1 · off" : Number(v).toFixed(2)),
  "candidates-count": (v) => String(v),
};

export class Controls {
  constructor(form, config, handlers) {
    this.form = form;
    this.config = config;
    this.handlers = handlers;
    const $ = (id) => form.querySelector(`#${id}`);
    this.el = {
      model: $("model"),
      modelHelp: $("model-help"),
      prompt: $("prompt"),
      promptCount: $("prompt-count"),
      generate: $("generate"),
      stop: $("stop"),
      seed: $("seed"),
      seedRandom: $("seed-random"),
      seedUsed: $("seed-used"),
    };
    this.ranges = Object.keys(FORMATS).map((id) => $(id));

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!this.el.generate.disabled) handlers.onGenerate();
    });
    this.el.stop.addEventListener("click", () => handlers.onStop());
    this.el.prompt.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    this.el.prompt.addEventListener("input", () => this.updateCount());
    for (const range of this.ranges) range.addEventListener("input", () => this.updateOutput(range));
    this.el.seedRandom.addEventListener("change", () => {
      this.el.seed.disabled = this.el.seedRandom.checked;
    });
    this.el.model.addEventListener("change", () => {
      this.applyModel();
      handlers.onModelChange(this.model());
    });
    this.applyModel(true);
    this.updateCount();
  }

  model() {
    const slug = this.el.model.value;
    return this.config.models.find((m) => m.slug === slug) || this.config.models[0];
  }

  /** Fit the sliders' ranges to the model; keep the user's values where they still fit. */
  applyModel(first = false) {
    const model = this.model();
    const maxNew = this.form.querySelector("#max-new-tokens");
    maxNew.max = String(model.max_new_tokens);
    if (first) maxNew.value = String(Math.min(DEFAULT_MAX_NEW_TOKENS, model.max_new_tokens));
    if (Number(maxNew.value) > model.max_new_tokens) maxNew.value = String(model.max_new_tokens);
    const topK = this.form.querySelector("#top-k");
    topK.max = String(Math.min(TOP_K_SLIDER_MAX, model.vocab_size));
    const candidates = this.form.querySelector("#candidates-count");
    candidates.max = String(this.config.max_candidates);
    this.el.modelHelp.textContent =
      `${model.description ? `${model.description} ` : ""}${model.n_layer} ${model.n_layer === 1 ? "layer" : "layers"} × ` +
      `${model.n_head} heads, ${count(model.parameters)} parameters, ${count(model.vocab_size)} tokens in its vocabulary, ` +
      `reads up to ${count(model.block_size)} tokens.`;
    for (const range of this.ranges) this.updateOutput(range);
  }

  updateOutput(range) {
    const output = this.form.querySelector(`#${range.id}-value`);
    const text = FORMATS[range.id](range.value);
    if (output) output.textContent = text;
    range.setAttribute("aria-valuetext", text);
  }

  updateCount() {
    const n = this.el.prompt.value.length;
    const max = this.config.max_prompt_chars;
    this.el.promptCount.textContent = `${count(n)} / ${count(max)} characters`;
    this.el.promptCount.classList.toggle("over", n > max);
  }

  read() {
    const value = (id) => Number(this.form.querySelector(`#${id}`).value);
    let seed = null;
    if (!this.el.seedRandom.checked) {
      const raw = this.el.seed.value.trim();
      seed = raw === "" ? null : Math.trunc(Number(raw));
      if (Number.isNaN(seed)) seed = null;
    }
    return {
      prompt: this.el.prompt.value,
      maxNewTokens: value("max-new-tokens"),
      temperature: value("temperature"),
      topK: value("top-k"),
      topP: value("top-p"),
      seed,
      candidates: value("candidates-count"),
    };
  }

  /** busy: a request is waiting or running (Generate off, Stop on). */
  setBusy(busy) {
    this.el.generate.disabled = busy;
    this.el.stop.disabled = !busy;
    this.el.model.disabled = busy;
    this.el.generate.setAttribute("aria-busy", busy ? "true" : "false");
  }

  /** After a run, offer to reuse the seed it used. */
  showSeed(seed) {
    const box = this.el.seedUsed;
    if (seed === null || seed === undefined) {
      box.hidden = true;
      return;
    }
    box.replaceChildren();
    box.append(`Last run used seed ${seed}. `);
    const reuse = document.createElement("button");
    reuse.type = "button";
    reuse.className = "link-button";
    reuse.textContent = "Use it again";
    reuse.addEventListener("click", () => {
      this.el.seedRandom.checked = false;
      this.el.seed.disabled = false;
      this.el.seed.value = String(seed);
      this.el.seed.focus();
    });
    box.append(reuse);
    box.hidden = false;
  }
}
