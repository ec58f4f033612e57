// Lesson 11's "greedy vs sampled": two generations of the same text side by side, one at
// temperature 0 and one with the student's temperature, top-k, top-p and seed, streamed
// with lesson.generate so the text appears token by token. Each column ends with the seed
// the server used (from `done`), so a random run can be repeated; tokens that were not the
// model's favorite are underlined. The seed field is also read by the step-by-step loop.

import { count, percent } from "../format.js";
import { el, quoted } from "./sampler-bars.js";

export const RUN_TOKENS = 40;
const NOT_RUN = "Not run yet for this text.";
const MAX_SEED = 2 ** 31 - 1;

function button(text, className = "button") {
  const node = el("button", className, text);
  node.type = "button";
  return node;
}

/** The seed in a text box: null when blank (the server picks one), else a whole number
 *  0 … 2³¹−1; anything else throws an Error with a sentence for the student. */
export function readSeed(input) {
  const text = input.value.trim();
  if (text === "") return null;
  if (!/^\d+$/.test(text) || Number(text) > MAX_SEED) {
    throw new Error(`The seed must be a whole number from 0 to ${count(MAX_SEED)}, or empty for a random one.`);
  }
  return Number(text);
}

/** The settings as the protocol spells them. */
export function requestSettings(s) {
  return { temperature: s.temperature, top_k: s.topK, top_p: s.topP };
}

export function settingsWords(s) {
  if (s.temperature === 0) return "temperature 0 (greedy)";
  const k = s.topK ? count(s.topK) : "off";
  const p = s.topP < 1 ? s.topP.toFixed(2) : "off";
  return `T ${s.temperature.toFixed(2)} · top-k ${k} · top-p ${p}`;
}

function column(kind, title) {
  const box = el("section", `sp-run sp-run-${kind}`);
  box.dataset.kind = kind;
  box.dataset.state = "idle";
  const caption = el("p", "sp-run-caption");
  const text = el("p", "sp-run-text");
  text.setAttribute("aria-live", "off");
  const done = el("p", "sp-run-done", NOT_RUN);
  box.append(el("h4", "", title), caption, text, done);
  return { box, caption, text, done };
}

function tokenSpan(step) {
  const span = el("span", "sp-token", step.token.text);
  if (step.rank > 0) span.classList.add("is-off-top");
  span.dataset.rank = String(step.rank);
  span.title = `${quoted(step.token.text)}: rank ${step.rank + 1}, raw ${percent(step.raw_prob)}, drawn with ${percent(step.prob)}`;
  return span;
}

/**
 * The panel. `getPrompt()` and `getSettings()` read the widget's text and sliders,
 * `onSettled()` runs after each generation; `results` holds the last runs ({text, seed, steps, done} per kind) for the tests.
 */
export function runsPanel(lesson, { getPrompt, getSettings, onSettled = () => {} }) {
  const box = el("div", "sp-runs-panel");
  const controls = el("div", "widget-controls sp-run-controls");
  const seedLabel = el("label", "sp-seed-label", "Seed (empty = random)");
  const seed = el("input", "sp-seed");
  seed.type = "text";
  seed.inputMode = "numeric";
  seed.value = "42";
  seed.dataset.role = "seed";
  seedLabel.append(seed);
  const run = button(`Generate ${RUN_TOKENS} tokens: greedy and sampled`, "button primary sp-run-button");
  const stop = button("Stop", "button sp-stop");
  stop.disabled = true;
  const reuse = button("Use the sampled run's seed", "button small sp-reuse");
  reuse.hidden = true;
  const message = el("p", "sp-run-message");
  message.setAttribute("role", "status");
  controls.append(seedLabel, run, stop, reuse);
  const columns = el("div", "sp-run-columns");
  const greedy = column("greedy", "Greedy: always the most likely token");
  const sampled = column("sampled", "Sampled: a weighted draw with your settings");
  columns.append(greedy.box, sampled.box);
  box.append(controls, message, columns);

  const results = {};
  let runs = 0; // which click a stream belongs to, so a stale one never draws

  async function one(kind, col, settings, seedValue, prompt, run) {
    col.box.dataset.state = "running";
    col.caption.textContent = kind === "greedy" ? "temperature 0 (top-k, top-p and seed do not matter)" : `${settingsWords(settings)} · seed ${seedValue ?? "random"}`;
    col.text.replaceChildren(el("span", "sp-run-prompt", prompt));
    col.done.textContent = "waiting…";
    const request = {
      prompt,
      max_new_tokens: RUN_TOKENS,
      candidates: 1,
      ...(kind === "greedy" ? { temperature: 0, top_k: 0, top_p: 1 } : requestSettings(settings)),
      seed: seedValue,
    };
    const onMessage = (m) => {
      if (run !== runs || m.type !== "step") return;
      col.text.append(tokenSpan(m));
      col.done.textContent = `${m.index + 1} tokens…`;
    };
    try {
      const result = await lesson.generate(request, { key: `sampler-${kind}`, onMessage });
      if (run !== runs) return;
      const text = result.steps.map((s) => s.token.text).join("");
      const offTop = result.steps.filter((s) => s.rank > 0).length;
      results[kind] = { prompt, text, seed: result.done.seed, steps: result.steps, done: result.done, settings: request };
      col.box.dataset.state = "done";
      col.box.dataset.seed = String(result.done.seed);
      col.done.textContent =
        `${count(result.steps.length)} tokens, ${count(offTop)} of them not the model's favorite (underlined) · ` +
        `seed used: ${result.done.seed} · ended: ${result.done.finish_reason}`;
    } catch (err) {
      if (err.superseded || run !== runs) return;
      col.box.dataset.state = "error";
      col.done.textContent = err.message;
    } finally {
      onSettled();
    }
  }

  async function start() {
    let seedValue;
    try {
      seedValue = readSeed(seed);
    } catch (err) {
      message.textContent = err.message;
      message.dataset.state = "error";
      return;
    }
    message.textContent = "";
    delete message.dataset.state;
    runs += 1;
    const thisRun = runs;
    const prompt = getPrompt();
    const settings = getSettings();
    stop.disabled = false;
    reuse.hidden = true;
    for (const col of [greedy, sampled]) {
      col.box.dataset.state = "waiting";
      col.text.replaceChildren();
      col.done.textContent = "";
    }
    // one after the other (the page has one request slot), so that Stop ends both
    await one("greedy", greedy, settings, seedValue, prompt, thisRun);
    if (thisRun !== runs) return;
    await one("sampled", sampled, settings, seedValue, prompt, thisRun);
    if (thisRun !== runs) return;
    stop.disabled = true;
    if (results.sampled && seedValue === null) reuse.hidden = false;
  }

  run.addEventListener("click", start);
  stop.addEventListener("click", () => {
    runs += 1; // the run in flight stops drawing, and the sampled one does not start
    lesson.stop();
    stop.disabled = true;
    for (const col of [greedy, sampled]) {
      if (col.box.dataset.state === "running" || col.box.dataset.state === "waiting") {
        col.box.dataset.state = "stopped";
        col.done.textContent = "stopped";
      }
    }
  });
  reuse.addEventListener("click", () => {
    seed.value = String(results.sampled.seed);
    reuse.hidden = true;
    seed.focus();
  });

  return {
    element: box,
    results,
    seedInput: seed,
    /** The text changed: the old runs no longer belong to it. */
    clear() {
      for (const col of [greedy, sampled]) {
        if (col.box.dataset.state === "running" || col.box.dataset.state === "waiting") continue;
        col.box.dataset.state = "idle";
        col.caption.textContent = "";
        col.text.replaceChildren();
        col.done.textContent = NOT_RUN;
      }
    },
  };
}
